import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { name: 'guests', include: ['test/**/*.test.ts'] },
});
