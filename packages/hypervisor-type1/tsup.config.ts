import { defineConfig } from 'tsup';

export default defineConfig({
  // The pCPU worker is its own entry: the hypervisor starts one per physical CPU by URL next to index.js.
  entry: { index: 'src/index.ts', worker: 'src/pcpu/worker.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'node20',
  shims: true,
});
