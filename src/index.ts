/**
 * The `hasim` package entry: the kernel, the System contract, the harness and the bundled systems.
 * (Filled in as the framework's public surface lands.)
 */
export * from './sim-cluster/index.ts';
