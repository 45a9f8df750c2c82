import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Verdict } from '../../harness/run-case.ts';
import { caseForSeed } from '../../harness/seeded-case.ts';
import { streamspace } from '../../systems/index.ts';
import { fuzzCommand } from '../fuzz-command.ts';
import { main } from '../main.ts';
import { runCampaign, type CampaignResult } from './campaign.ts';
import type { Executor } from './executor.ts';
import { FindingsStore } from './findings-store.ts';
import type { SeedResult, Task, TaskResult } from './tasks.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'hasim-guided-'));
const space = { profile: 'streamspace-v2' };
const digest = (x: unknown): number => createHash('sha256').update(JSON.stringify(x)).digest().readUInt32BE(0);

/**
 * A synthetic run of a case: its elector transitions and pairs follow from its schedule, so that
 * mutated cases reach other features than drawn ones; every fifth seed violates no-lost-commands.
 */
function synthetic(task: Extract<Task, { type: 'run' }>): SeedResult {
  const schedule = task.schedule ?? caseForSeed(streamspace, space, task.seed).schedule;
  const h = digest(schedule);
  const outcome = task.seed % 5 === 0 ? 'no-lost-commands' : 'pass';
  return {
    seed: task.seed, outcome, hash: h.toString(16).padStart(64, '0'), steps: 1, simUs: 1, faults: schedule.length,
    violation: outcome === 'pass' ? null : { invariant: outcome, time: 1, message: 'synthetic' }, modelFailure: null,
    schedule: outcome === 'pass' ? null : schedule,
    ...(task.coverage === true ? { coverage: { elector: { states: [], transitions: [0, h % 15] } } } : {}),
    ...(task.pairs === true ? { pairs: { elector: [h % 97, (h >>> 8) % 97] } } : {}),
  };
}

/** An executor whose tasks settle after a number of event-loop turns that depends on the seed: completion order scrambled. */
function scrambled(concurrency: number): Executor & { tasks: Task[] } {
  const tasks: Task[] = [];
  return {
    concurrency,
    tasks,
    async run(task): Promise<TaskResult> {
      tasks.push(task);
      for (let i = 0; i < (task.seed * 7919) % (concurrency * 5 + 1); i++) await new Promise((r) => setImmediate(r));
      switch (task.type) {
        case 'run':
          return { type: 'run', result: synthetic(task) };
        case 'probe': {
          // Any fix removes it: triage ends at one bug per invariant.
          const outcome = task.probe.fixes.length > 0 ? 'pass' : task.probe.invariant;
          const verdict = { outcome, hash: 'e'.repeat(64), violation: { invariant: outcome, time: 7, message: 'minimal' } } as unknown as Verdict;
          return { type: 'probe', result: { outcome, hash: 'e'.repeat(64), ...(task.probe.verdict === true ? { verdict } : {}) } };
        }
        case 'shrink': {
          const verdict = { outcome: task.invariant, hash: 'f'.repeat(64), violation: { invariant: task.invariant, time: 5, message: 'shrunk' } } as unknown as Verdict;
          return { type: 'shrink', shrunk: { invariant: task.invariant, case: { profile: 'streamspace-v2', fixes: [], config: {}, seed: task.seed, schedule: [] }, verdict, faultsFound: 1, faultsShrunk: 0, faultsMinimal: 0, shrinkSteps: 0, shrinkRuns: 0, minimizeRuns: 0 } };
        }
        case 'events':
          return { type: 'events', hash: '', events: [] };
      }
    },
    close: async () => undefined,
  };
}

async function campaign(concurrency: number): Promise<{ result: CampaignResult; tasks: Task[] }> {
  const executor = scrambled(concurrency);
  const dir = tmp();
  const result = await runCampaign(executor, {
    system: 'streamspace', space, range: { start: 100, total: 60, shard: { index: 1, count: 1 } }, selfCheckEvery: 0,
    store: new FindingsStore(dir, streamspace, space, 'a test', (seed) => `npx hasim run --seed ${seed}`),
    guided: { epochSeeds: 8 }, triage: {},
  });
  return { result, tasks: executor.tasks };
}

describe('a guided campaign', () => {
  test('gives the same cases, corpus and results on any concurrency, whatever order seeds finish in', async () => {
    const one = await campaign(1);
    const four = await campaign(4);
    expect(four.result.results).toEqual(one.result.results);
    expect(four.result.guided).toEqual(one.result.guided);
    expect(four.result.coverage).toEqual(one.result.coverage);
    // Each campaign writes its own findings directory: the bugs are the same but for it.
    const bugs = (r: CampaignResult): unknown => r.bugs?.map((b) => ({ ...b, example: { ...b.example, file: undefined } }));
    expect(bugs(four.result)).toEqual(bugs(one.result));
    expect(one.result.bugs!.length).toBeGreaterThan(0);
    const g = one.result.guided!;
    expect(g).toMatchObject({ epochSeeds: 8, mutateShare: 0.5 });
    // 60 seeds: epochs 0-7; the last seed (epoch 7) reads epochs 0-5.
    expect(g.epochsAdmitted).toBe(6);
    expect(g.corpus).toBeGreaterThan(3);
    expect(g.mutatedSeeds).toBeGreaterThan(10);
    // The first two epochs draw their own cases: nothing is admitted before them.
    const mutated = one.result.results.filter((r) => r.schedule !== undefined);
    expect(mutated.length).toBe(g.mutatedSeeds);
    expect(Math.min(...mutated.map((r) => r.seed))).toBeGreaterThanOrEqual(116);
    for (const r of mutated) {
      expect(r.parent).toBeLessThan(r.seed - 8);
      expect(r.mutations!.length).toBeGreaterThan(0);
    }
  });

  test('a mutated failing seed is shrunk, triaged and recorded with its own schedule', async () => {
    const { result, tasks } = await campaign(2);
    const failing = result.results.filter((r) => r.schedule !== undefined && r.outcome !== 'pass');
    expect(failing.length).toBeGreaterThan(0);
    for (const r of failing) {
      // Triage checks every seed left with the bug's fixes: on its own schedule.
      const probes = tasks.filter((t): t is Extract<Task, { type: 'probe' }> => t.type === 'probe' && t.seed === r.seed);
      for (const p of probes) expect(p.probe.schedule).toEqual(r.schedule);
    }
    expect(tasks.filter((t) => t.type === 'probe' && failing.some((r) => r.seed === t.seed)).length).toBeGreaterThan(0);
    for (const t of tasks.filter((x): x is Extract<Task, { type: 'shrink' }> => x.type === 'shrink')) {
      expect(t.schedule).toEqual(result.results.find((r) => r.seed === t.seed)!.schedule);
    }
  });

  test('refuses a shard', async () => {
    await expect(runCampaign(scrambled(1), {
      system: 'streamspace', space, range: { start: 0, total: 4, shard: { index: 1, count: 2 } },
      store: new FindingsStore(tmp(), streamspace, space, 'a test', (seed) => `seed ${seed}`), guided: {},
    })).rejects.toThrow(/no shards/);
  });
});

describe('hasim fuzz --guided', () => {
  const fuzz = async (args: string[]): Promise<{ code: number; out: string[]; err: string[] }> => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await fuzzCommand(args, { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
    return { code, out, err };
  };

  test('the same results on 1 and 2 worker threads; mutated cases carry their schedules', async () => {
    const dir = tmp();
    const common = ['--profile', 'hardened', '--deployment', 'seed-000', '--seeds', '8', '--guided', '--guided-epoch', '2', '--self-check', '0', '--no-triage', '--out', dir];
    const one = await fuzz([...common, '--workers', '1', '--results', join(dir, 'w1.jsonl'), '--json']);
    const two = await fuzz([...common, '--workers', '2', '--results', join(dir, 'w2.jsonl')]);
    expect(readFileSync(join(dir, 'w2.jsonl'), 'utf8')).toBe(readFileSync(join(dir, 'w1.jsonl'), 'utf8'));
    const lines = readFileSync(join(dir, 'w1.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seed: number; schedule?: unknown });
    expect(lines.some((l) => l.schedule !== undefined)).toBe(true);
    const summary = JSON.parse(one.out.join('\n')) as { guided: { corpus: number; mutatedSeeds: number; transitions: { reached: number; total: number } } };
    expect(summary.guided.corpus).toBeGreaterThan(0);
    expect(summary.guided.mutatedSeeds).toBe(lines.filter((l) => l.schedule !== undefined).length);
    expect(summary.guided.transitions.reached).toBeGreaterThan(0);
    expect(two.out.join('\n')).toMatch(/guided: \d+ seeds? ran a mutated case; corpus of \d+ cases? \(\d+ of them mutated\) from \d+ epochs? of 2 seeds, \d+ transitions and transition pairs; \d+\/\d+ transitions reached/);
    expect([one.code, two.code]).toEqual([two.code, one.code]);
  }, 120_000);

  test.each([
    [['--guided', '--shard', '1/2'], /--guided and --shard cannot be combined/],
    [['--guided-epoch', '4'], /--guided-epoch needs --guided/],
    [['--guided', '--guided-epoch', '0'], /--guided-epoch: must be at least 1/],
  ])('bad flags %j exit 2 with one line', async (args, message) => {
    const err: string[] = [];
    const code = await main(['fuzz', ...args, '--seeds', '2', '--out', tmp()], () => undefined, (l) => err.push(l));
    expect(code).toBe(2);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(message);
  });
});
