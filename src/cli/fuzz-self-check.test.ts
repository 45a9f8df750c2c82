import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import type { Executor } from './campaign/executor.ts';
import { selfChecked } from './campaign/seed-range.ts';
import type { Task, TaskResult } from './campaign/tasks.ts';
import { fuzzCommand } from './fuzz-command.ts';

/** Every seed passes at once with a hash of its own: the self-check's count depends only on the seeds. */
const passing = (): Executor & { reruns: number[] } => {
  const seen = new Set<number>();
  const reruns: number[] = [];
  return {
    concurrency: 4,
    reruns,
    run: async (task: Task): Promise<TaskResult> => {
      if (task.type !== 'run') throw new Error(`unexpected ${task.type} task`);
      if (seen.has(task.seed)) reruns.push(task.seed);
      seen.add(task.seed);
      return { type: 'run', result: { seed: task.seed, outcome: 'pass', hash: String(task.seed).padStart(64, '0'), steps: 1, simUs: 1, faults: 0, violation: null, modelFailure: null, schedule: null } };
    },
    close: async () => undefined,
  };
};

test('hasim fuzz --shard 2/2 --seeds 200 --self-check 10 --json self-checks its share of seeds, and says how many', async () => {
  const summaries: Array<{ selfChecks: number; selfCheckEvery: number; seedsRun: number }> = [];
  const reruns: number[][] = [];
  for (const shard of ['1/2', '2/2']) {
    const out: string[] = [];
    const executor = passing();
    const code = await fuzzCommand(['--shard', shard, '--seeds', '200', '--self-check', '10', '--json', '--out', mkdtempSync(join(tmpdir(), 'hasim-sc-'))], {
      out: (l) => out.push(l), err: () => undefined, env: {}, executor: () => executor,
    });
    expect(code).toBe(0);
    summaries.push(JSON.parse(out.at(-1)!) as (typeof summaries)[number]);
    reruns.push(executor.reruns.sort((a, b) => a - b));
  }
  // Chosen by offset, shard 2/2 (the odd seeds) reran none; by a hash of the seed it reruns its ~1/10.
  expect(summaries.map((s) => [s.seedsRun, s.selfCheckEvery, s.selfChecks])).toEqual([[100, 10, 11], [100, 10, 14]]);
  expect(reruns[1]!.every((s) => s % 2 === 1)).toBe(true);
  expect(reruns.flat().sort((a, b) => a - b)).toEqual([...Array(200).keys()].filter((s) => selfChecked(s, 10)));
});

test('the text summary says how many seeds the self-check reran, and at what rate', async () => {
  const out: string[] = [];
  const code = await fuzzCommand(['--shard', '2/2', '--seeds', '200', '--self-check', '10', '--out', mkdtempSync(join(tmpdir(), 'hasim-sc-'))], {
    out: (l) => out.push(l), err: () => undefined, env: {}, executor: passing,
  });
  expect(code).toBe(0);
  expect(out).toContain('  determinism self-check: 14 seeds rerun, 0 mismatches (about 1 seed in 10, chosen by a hash of the seed)');
});
