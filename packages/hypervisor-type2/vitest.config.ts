import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { name: 'hypervisor-type2', include: ['test/**/*.test.ts'] },
});
