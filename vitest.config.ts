import { defineConfig } from 'vitest/config';

// Two projects: `quick` is what `npm test` runs (unit tests, bounded properties, trace replay);
// `fuzz` is the long campaign run by `npm run fuzz`.
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'quick',
          include: ['src/**/*.test.ts', 'properties/**/*.quick.test.ts', 'examples/two-node-lease/**/*.test.ts'],
          testTimeout: 60_000,
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
