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
 * What `hasim fuzz` runs on: a pool of `workers` threads for the seeds (and the self-check's reruns,
 * and triage), and a thread of its own for the shrinks (`withShrinkLane`), started with the first.
 */
export function poolExecutor(workers: number): Executor {
  return withShrinkLane(threadPool(workers), () => threadPool(1));
}

/**
 * Shrink tasks on an executor of their own, every other task on `seeds`: a shrink (tens to hundreds
 * of runs) never holds a seed's worker, so the seeds go on while it runs (one worker or many). The
 * shrinks' executor is made when the first shrink comes: a campaign without findings never starts
 * it. Its concurrency is the seeds'; closing closes both.
 */
export function withShrinkLane(seeds: Executor, makeShrinks: () => Executor): Executor {
  let shrinks: Executor | null = null;
  return {
    concurrency: seeds.concurrency,
    run: (task, signal) => (task.type === 'shrink' ? (shrinks ??= makeShrinks()) : seeds).run(task, signal),
    close: async () => {
      await Promise.all([seeds.close(), shrinks?.close()]);
    },
  };
}

/**
 * A pool of `workers` threads, each its own process-global world (the determinism guard patches
 * globals per thread). Threads start at once so that their start-up (loading the model) is not
 * charged to the first seeds' wall time more than once.
 */
function threadPool(workers: number): Executor {
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
