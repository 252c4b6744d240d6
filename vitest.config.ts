import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The browser tests have their own config (vitest.e2e.config.ts, `npm run test:e2e`).
    exclude: [...configDefaults.exclude, 'test/e2e/**'],
    // Builds dist/ first: process tests run bin/crmsync.js and the demo compiled, as users do.
    globalSetup: ['test/support/build.ts'],
    // Integration tests start real processes and sockets; the 2-core machines are slow.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: 'test-output/vitest.json' }]],
  },
});
