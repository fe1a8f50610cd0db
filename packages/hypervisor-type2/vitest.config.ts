import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Real VMs in worker threads: generous limits for a loaded machine (whole-workspace runs).
  test: { name: 'hypervisor-type2', include: ['test/**/*.test.ts'], testTimeout: 30_000 },
});
