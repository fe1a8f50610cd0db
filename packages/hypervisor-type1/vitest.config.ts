import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Domains run on pCPU worker threads: generous limits for a loaded machine.
  test: { name: 'hypervisor-type1', include: ['test/**/*.test.ts'], testTimeout: 60_000 },
});
