import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { compiledMachines } from '../../harness/coverage.ts';
import { streamspace } from '../../systems/index.ts';
import { runCampaign, type CampaignResult } from './campaign.ts';
import type { Executor } from './executor.ts';
import { FindingsStore } from './findings-store.ts';
import { CampaignRecorder } from './partial-result.ts';
import type { SeedResult, Task, TaskResult } from './tasks.ts';

const space = { profile: 'hardened', deployment: 'seed-000' };
const ELECTOR = compiledMachines(streamspace).find((m) => m.id === 'elector')!;

/** A synthetic passing seed whose run reached the elector's initial transition and one other, chosen by the seed. */
function seedResult(seed: number, withCoverage: boolean): SeedResult {
  const transition = 1 + (seed % (ELECTOR.transitions.length - 1));
  return {
    seed, outcome: 'pass', hash: seed.toString(16).padStart(64, '0'), steps: 10, simUs: 1, faults: 0, violation: null, modelFailure: null, schedule: null,
    ...(withCoverage ? { coverage: { elector: { states: [0, seed % ELECTOR.states.length], transitions: [0, transition] } } } : {}),
  };
}

/** An executor of `workers` that settles each task after a number of event-loop turns drawn from its seed: seeds finish out of order. */
function scrambled(workers: number, tasks: Task[]): Executor {
  return {
    concurrency: workers,
    run: async (task): Promise<TaskResult> => {
      tasks.push(task);
      for (let i = 0; i < (task.seed * 7919) % 7; i++) await new Promise((r) => setImmediate(r));
      if (task.type !== 'run') throw new Error(`unexpected ${task.type} task`);
      return { type: 'run', result: seedResult(task.seed, task.coverage === true) };
    },
    close: async () => undefined,
  };
}

const campaign = async (workers: number, coverage: boolean, tasks: Task[] = []): Promise<CampaignResult> => {
  const dir = mkdtempSync(join(tmpdir(), 'hasim-coverage-'));
  return runCampaign(scrambled(workers, tasks), {
    system: streamspace.name, space, coverage, selfCheckEvery: 4,
    range: { start: 20, total: 40, shard: { index: 1, count: 1 } },
    store: new FindingsStore(dir, streamspace, space, 'a test', String),
  });
};

describe('a campaign\'s statechart coverage', () => {
  test('is the same with 1 and 2 workers, seeds finishing in any order: counts added up, the lowest seed of each', async () => {
    const one = await campaign(1, true);
    const two = await campaign(2, true);
    expect(two.coverage).toEqual(one.coverage);
    const elector = one.coverage!.machines.find((m) => m.id === 'elector')!;
    expect(one.coverage!.runs).toBe(40);
    expect(elector.transitions.list[0]).toMatchObject({ reached: true, runs: 40, lowestSeed: 20 });
    // Transition k ≥ 1 is reached by the seeds of 20..59 that `seedResult` gives it: the lowest is the first of them.
    for (const t of elector.transitions.list.slice(1)) {
      const seeds = Array.from({ length: 40 }, (_, i) => 20 + i).filter((s) => 1 + (s % (ELECTOR.transitions.length - 1)) === t.index);
      expect(t, t.label).toMatchObject({ reached: true, runs: seeds.length, lowestSeed: seeds[0] });
    }
  });

  test('only the seeds\' runs record it (not the self-check\'s reruns), and only when asked', async () => {
    const tasks: Task[] = [];
    const on = await campaign(2, true, tasks);
    const runs = tasks.filter((t): t is Extract<Task, { type: 'run' }> => t.type === 'run');
    expect(on.selfChecks).toBeGreaterThan(0);
    expect(runs.filter((t) => t.coverage === true)).toHaveLength(40);
    expect(runs.length).toBe(40 + on.selfChecks);
    const offTasks: Task[] = [];
    const off = await campaign(2, false, offTasks);
    expect(off.coverage).toBeNull();
    expect(offTasks.some((t) => t.type === 'run' && t.coverage !== undefined)).toBe(false);
  });

  test('an abandoned campaign reports the coverage of the seeds that finished', async () => {
    const recorder = new CampaignRecorder(scrambled(2, []));
    await Promise.all([22, 21, 20].map((seed) => recorder.executor.run({ type: 'run', system: streamspace.name, space, seed, coverage: true })));
    const dir = mkdtempSync(join(tmpdir(), 'hasim-coverage-'));
    const store = new FindingsStore(dir, streamspace, space, 'a test', String);
    const r = recorder.result(store, 1, 0, compiledMachines(streamspace));
    expect(r.coverage!.runs).toBe(3);
    expect(r.coverage!.machines.find((m) => m.id === 'elector')!.transitions.list[0]).toMatchObject({ runs: 3, lowestSeed: 20 });
    expect(recorder.result(store, 1, 0).coverage).toBeNull();
  });
});
