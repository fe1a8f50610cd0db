import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { name: 'vmm-full', include: ['test/**/*.test.ts'] },
});
