// Worker-thread entry for campaign pools. Node 20 does not apply `--import tsx` to worker threads,
// so the TypeScript loader is registered here before the task module is imported.
import { register } from 'tsx/esm/api';

register();
const { runTask } = await import('./tasks.ts');

export default runTask;
