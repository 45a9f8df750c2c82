// Worker-thread entry for campaign pools: tinypool calls the default export with each task. The
// bundle makes it dist/bin/campaign-worker.js; the TypeScript sources load it through worker.mjs.
export { runTask as default } from './tasks.ts';
