import { defineConfig } from 'tsup';

export default defineConfig({
  // The pCPU worker and the device-model thread are their own entries: the hypervisor starts them by URL next to index.js.
  entry: { index: 'src/index.ts', worker: 'src/pcpu/worker.ts', 'device-model': 'src/dm/worker.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'node20',
  shims: true,
});
