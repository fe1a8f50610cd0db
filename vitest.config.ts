// One vitest run over every package and app (each also tests alone with its own `pnpm test`).
import { defineConfig } from 'vitest/config';
import { SummaryReporter } from './tools/vitest-summary-reporter.js';

export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tests'],
    reporters: ['default', new SummaryReporter()],
  },
});
