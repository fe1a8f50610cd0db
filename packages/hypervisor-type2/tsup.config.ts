import { defineConfig } from 'tsup';

export default defineConfig({
  // The worker is its own entry: HostedVm starts it by URL next to index.js.
  entry: ['src/index.ts', 'src/worker.ts'],
  format: ['esm', 'cjs'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'node20',
  shims: true,
});
