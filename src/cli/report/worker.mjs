// Worker-thread entry for `hasim report` pools. Node 20 does not apply `--import tsx` to worker
// threads, so the TypeScript loader is registered here before the batch module is imported.
import { register } from 'tsx/esm/api';

register();
const { runBatch } = await import('./batch.ts');

export default runBatch;
