import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { name: 'vmm-para', include: ['test/**/*.test.ts'] },
});
