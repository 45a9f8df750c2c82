import { configDefaults, defineConfig } from 'vitest/config';

// Three projects: `quick` is what `npm test` runs (unit tests, bounded properties, trace replay);
// `fuzz` is the long campaign run by `npm run fuzz`; `browser` opens the HTML pages in headless
// Chromium (`npm run test:browser`, which .ci/run runs after `npm test`).
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'quick',
          include: ['src/**/*.test.ts', 'properties/**/*.quick.test.ts', 'examples/two-node-lease/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'src/**/*.browser.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['src/**/*.browser.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'fuzz',
          include: ['properties/**/*.fuzz.test.ts'],
          testTimeout: 3_600_000,
        },
      },
    ],
  },
});
