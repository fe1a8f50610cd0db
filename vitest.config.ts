// One vitest run over every package and app (each also tests alone with its own `pnpm test`).
import { defineConfig } from 'vitest/config';
import { SummaryReporter } from './tools/vitest-summary-reporter.js';

export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tests'],
    globalSetup: ['./tools/vitest-global-setup.js'],
    reporters: ['default', new SummaryReporter()],
  },
});
