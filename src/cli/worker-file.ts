/**
 * The module a worker thread of the CLI runs. Bundled (`dist/bin/`, what `bin/hasim.mjs` starts;
 * the bundler defines HASIM_BUNDLE), the worker bundles sit beside the chunk this code is in. From
 * the TypeScript sources (tests, benchmarks), each pool's `worker.mjs` registers the TypeScript
 * loader that worker threads lack, then loads its `worker.ts`.
 */
export function workerFile(pool: 'campaign' | 'report'): string {
  if (process.env.HASIM_BUNDLE === 'bin') return new URL(`./${pool}-worker.js`, import.meta.url).href;
  return new URL(`./${pool}/worker.mjs`, import.meta.url).href;
}
