// Worker-thread entry for campaign pools when running from the TypeScript sources (the test suite;
// the benchmarks run the bundled worker): Node 20 does not pass `--import tsx` on to worker threads,
// so the TypeScript loader is registered here before worker.ts is imported. The package runs the
// bundled worker and does not ship this file (it needs tsx, a development dependency).
import { register } from 'tsx/esm/api';

register();
const { default: runTask } = await import('./worker.ts');

export default runTask;
