import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { name: 'devices', include: ['test/**/*.test.ts'] },
});
