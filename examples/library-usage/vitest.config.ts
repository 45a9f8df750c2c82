import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A seed is a whole cluster run of ~10 simulated minutes; a property runs many of them.
    testTimeout: 120_000,
  },
});
