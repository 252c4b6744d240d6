import { defineConfig } from 'vitest/config';

// End-to-end browser tests (`npm run test:e2e`): the demo as a real process, driven
// through Debian's chromium with playwright-core. Kept out of `npm test` (vitest.config.ts).
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    // The demo runs compiled (dist/demo), as `npm run demo` runs it.
    globalSetup: ['test/support/build.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default', ['json', { outputFile: 'test-output/vitest-e2e.json' }]],
  },
});
