import { defineConfig } from 'tsup';

export default defineConfig({
  // The pCPU worker, the device-model thread and the disk I/O thread are their own entries, started by URL next to the bundles.
  entry: { index: 'src/index.ts', worker: 'src/pcpu/worker.ts', 'device-model': 'src/dm/worker.ts', 'disk-thread': 'src/disk/io-worker.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'node20',
  shims: true,
});
