import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { name: 'vmm-api', include: ['test/**/*.test.ts'] },
});
