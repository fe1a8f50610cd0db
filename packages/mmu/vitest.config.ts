import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { name: 'mmu', include: ['test/**/*.test.ts'] },
});
