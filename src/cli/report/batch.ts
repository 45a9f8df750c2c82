import { summarizeRun, type RunSummary } from './collect.ts';

/** A batch of seeds of one scenario under one profile: the unit of work a report worker runs. */
export interface Batch {
  /** The system's name (batches are plain data for worker threads). */
  system: string;
  name: string;
  profile: string;
  seeds: number[];
}

export function runBatch(batch: Batch): RunSummary[] {
  return batch.seeds.map((seed) => summarizeRun(batch.system, batch.name, seed, batch.profile));
}
