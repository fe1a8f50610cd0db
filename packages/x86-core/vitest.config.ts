import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { name: 'x86-core', include: ['test/**/*.test.ts'] },
});
