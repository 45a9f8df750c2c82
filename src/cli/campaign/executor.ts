import { availableParallelism } from 'node:os';
import Tinypool from 'tinypool';
import { workerFile } from '../worker-file.ts';
import type { Task, TaskResult } from './tasks.ts';

/** Runs campaign tasks somewhere: a pool of worker threads, or (in tests) anything with this shape. */
export interface Executor {
  /** Tasks worth keeping in flight at once. */
  readonly concurrency: number;
  run(task: Task, signal?: AbortSignal): Promise<TaskResult>;
  close(): Promise<void>;
}


/** The default worker count: one per core. */
export function defaultWorkers(): number {
  return availableParallelism();
}

/**
 * A pool of `workers` threads, each its own process-global world (the determinism guard patches
 * globals per thread). Threads start at once so that their start-up (loading the model) is not
 * charged to the first seeds' wall time more than once.
 */
export function poolExecutor(workers: number): Executor {
  const pool = new Tinypool({
    filename: workerFile('campaign'),
    minThreads: workers,
    maxThreads: workers,
  });
  return {
    concurrency: workers,
    run: (task, signal) => pool.run(task, signal === undefined ? {} : { signal }) as Promise<TaskResult>,
    close: () => pool.destroy(),
  };
}
