// Worker-thread entry for `hasim report` pools: tinypool calls the default export with each batch.
// The bundle makes it dist/bin/report-worker.js; the TypeScript sources load it through worker.mjs.
export { runBatch as default } from './batch.ts';
