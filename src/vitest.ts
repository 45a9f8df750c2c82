/** The `hasim/vitest` package entry: helpers for writing hasim properties in a vitest suite. */
export {};
