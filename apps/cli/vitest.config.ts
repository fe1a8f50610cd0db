import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The tests spawn the command and boot guests: generous limits for a loaded machine.
  test: { name: 'cli', include: ['test/**/*.test.ts'], testTimeout: 30_000 },
});
