import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { name: 'vmm-hw', include: ['test/**/*.test.ts'] },
});
