import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { name: 'machine', include: ['test/**/*.test.ts'] },
});
