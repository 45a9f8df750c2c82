import { mkdtempSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Shrunk } from '../../harness/seeded-case.ts';
import { readTraceFile } from '../../harness/trace-file.ts';
import { SYSTEMS, streamspace } from '../../systems/index.ts';
import type { Verdict } from '../../harness/run-case.ts';
import { caseForSeed } from '../../harness/seeded-case.ts';
import { runCampaign, type CampaignOptions } from './campaign.ts';
import { withShrinkLane, type Executor } from './executor.ts';
import { FindingsStore } from './findings-store.ts';
import { parseShard, selfChecked, shardSeeds, shardSize } from './seed-range.ts';
import { githubAnnotations, junitXml, progressLine, summaryJson, summaryLines, type BugRow } from './summary.ts';
import { runTask, type SeedResult, type Task, type TaskResult } from './tasks.ts';

const hashOf = (seed: number): string => seed.toString(16).padStart(64, '0');

/** A synthetic seed: every third one violates no-lost-commands, every seventh no-split-brain. */
function synthetic(seed: number, hash = hashOf(seed)): SeedResult {
  const outcome = seed % 7 === 3 ? 'no-split-brain' : seed % 3 === 0 ? 'no-lost-commands' : 'pass';
  return {
    seed, outcome, hash, steps: 100, simUs: 600_000_000, faults: 2,
    violation: outcome === 'pass' ? null : { invariant: outcome, time: 1, message: `synthetic ${outcome}` },
    modelFailure: null,
    schedule: outcome === 'pass' ? null : [{ kind: 'crash', at: 120_000_000, target: { role: 'api', index: 0 } }],
  };
}

/**
 * Synthetic triage: which fix removes a seed's violation. no-lost-commands seeds divisible by 4 go
 * with agent-async-handlers, the others with redeliver-unfinished; no-split-brain with fenced-effects.
 */
function cured(seed: number, fixes: readonly string[]): boolean {
  const cure = seed % 7 === 3 ? 'fenced-effects' : seed % 4 === 0 ? 'agent-async-handlers' : 'redeliver-unfinished';
  return fixes.includes(cure);
}

function shrunkOf(task: Extract<Task, { type: 'shrink' }>): Shrunk {
  const verdict = { outcome: task.invariant, hash: 'f'.repeat(64), violation: { invariant: task.invariant, time: 5, message: 'shrunk', evidence: [] } } as unknown as Verdict;
  return {
    invariant: task.invariant, case: { profile: task.space.profile, fixes: [...(task.space.fixes ?? [])], config: {}, seed: task.seed, schedule: [] }, verdict,
    faultsFound: 2, faultsShrunk: 1, faultsMinimal: 0, shrinkSteps: 1, shrinkRuns: 2, minimizeRuns: 1,
  };
}

interface FakeOptions {
  concurrency: number;
  /** Delay (in macrotask turns) before a task settles, per seed: scrambles completion order. */
  delay?: (seed: number) => number;
  run?: (seed: number, attempt: number) => SeedResult;
  events?: (seed: number, attempt: number) => TaskResult;
  /** Shrinks never finish on their own (they wait to be cancelled). */
  hangShrinks?: boolean;
}

/** An executor that settles tasks after a scripted number of event-loop turns. */
function fakeExecutor(o: FakeOptions): Executor & { tasks: Task[] } {
  const attempts = new Map<string, number>();
  const tasks: Task[] = [];
  const turns = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  };
  return {
    concurrency: o.concurrency,
    tasks,
    async run(task, signal) {
      tasks.push(task);
      const key = `${task.type}/${task.seed}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      await turns(o.delay?.(task.seed) ?? 1);
      switch (task.type) {
        case 'run':
          return { type: 'run', result: o.run ? o.run(task.seed, attempt) : synthetic(task.seed) };
        case 'shrink':
          if (o.hangShrinks) {
            await new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted'))));
          }
          return { type: 'shrink', shrunk: shrunkOf(task) };
        case 'events':
          return o.events?.(task.seed, attempt) ?? { type: 'events', hash: '', events: [] };
        case 'probe': {
          // Whatever the schedule: a triage shrink of these seeds ends at the empty one.
          const outcome = cured(task.seed, task.probe.fixes) ? 'pass' : task.probe.invariant;
          const verdict = { outcome, hash: 'e'.repeat(64), violation: { invariant: outcome, time: 7, message: `minimal ${outcome}` } } as unknown as Verdict;
          return { type: 'probe', result: { outcome, hash: hashOf(task.seed), ...(task.probe.verdict === true ? { verdict } : {}) } };
        }
      }
    },
    close: async () => undefined,
  };
}

const space = { profile: 'streamspace-v2' };

function options(dir: string, extra: Partial<CampaignOptions> = {}): CampaignOptions {
  return {
    system: 'streamspace',
    space,
    range: { start: 0, total: 30, shard: { index: 1, count: 1 } },
    store: new FindingsStore(dir, streamspace, space, 'a test', (seed) => `npx hasim run --seed ${seed}`),
    ...extra,
  };
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'hasim-campaign-'));

describe('seed ranges and shards', () => {
  test('shards are disjoint and together make the whole campaign', () => {
    const whole = [...shardSeeds({ start: 100, total: 10, shard: { index: 1, count: 1 } })];
    const parts = [1, 2, 3].map((index) => [...shardSeeds({ start: 100, total: 10, shard: { index, count: 3 } })]);
    expect(parts).toEqual([[100, 103, 106, 109], [101, 104, 107], [102, 105, 108]]);
    expect(parts.flat().sort((a, b) => a - b)).toEqual(whole);
    expect([1, 2, 3].map((index) => shardSize({ start: 0, total: 10, shard: { index, count: 3 } }))).toEqual([4, 3, 3]);
    expect(shardSize({ start: 0, total: 2, shard: { index: 3, count: 3 } })).toBe(0);
  });
  test('shard syntax', () => {
    expect(parseShard('2/5')).toEqual({ index: 2, count: 5 });
    for (const bad of ['0/5', '6/5', '1/0', '1-2', '', 'a/b']) expect(parseShard(bad)).toBeNull();
  });
});

describe('campaign orchestration', () => {
  test('results and summaries do not depend on concurrency or completion order', async () => {
    const one = await runCampaign(fakeExecutor({ concurrency: 1 }), options(tmp()));
    const many = await runCampaign(fakeExecutor({ concurrency: 4, delay: (s) => (s * 7919) % 13 }), options(tmp()));
    expect(many.results).toEqual(one.results);
    expect(one.results.map((r) => r.seed)).toEqual([...Array(30).keys()]);
    const shape = (r: typeof one) => r.invariants.map((i) => ({ invariant: i.invariant, runs: i.runs, seeds: i.seeds, seed: i.example?.seed, shrunk: i.example?.shrunk?.faultsMinimal }));
    expect(shape(many)).toEqual(shape(one));
    expect(shape(one)).toEqual([
      { invariant: 'no-lost-commands', runs: 8, seeds: [0, 6, 9, 12, 15, 18, 21, 27], seed: 0, shrunk: 0 },
      { invariant: 'no-split-brain', runs: 4, seeds: [3, 10, 17, 24], seed: 3, shrunk: 0 },
    ]);
  });

  test('a lower failing seed that finishes later becomes the example, and is shrunk too', async () => {
    // Seed 0 is slow, so seed 6 fails first and is shrunk first.
    const dir = tmp();
    const ex = fakeExecutor({ concurrency: 8, delay: (s) => (s === 0 ? 40 : 1) });
    const r = await runCampaign(ex, options(dir, { range: { start: 0, total: 8, shard: { index: 1, count: 1 } } }));
    const lost = r.invariants.find((i) => i.invariant === 'no-lost-commands')!;
    expect(lost.example?.seed).toBe(0);
    expect(lost.example?.shrunk).not.toBeNull();
    const shrunkSeeds = ex.tasks.filter((t) => t.type === 'shrink').map((t) => t.seed).sort();
    expect(shrunkSeeds).toEqual([0, 3, 6]);
    // Seed 6's file was removed when seed 0 replaced it, and its shrink, finishing later, wrote nothing.
    const digest = new FindingsStore(dir, streamspace, space, '', String).digest;
    expect(readdirSync(dir).filter((f) => f.endsWith('.json')).sort()).toEqual([
      `no-lost-commands-streamspace-v2-${digest}-seed-0.json`, `no-split-brain-streamspace-v2-${digest}-seed-3.json`,
    ]);
  });

  test('every failing seed is on disk: one violations.jsonl line each, a trace file per example', async () => {
    const dir = tmp();
    const r = await runCampaign(fakeExecutor({ concurrency: 2 }), options(dir));
    const lines = readFileSync(join(dir, 'violations.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seed: number; rerun: string });
    expect(lines.length).toBe(r.seedsRun - r.passed);
    expect(lines.find((l) => l.seed === 9)?.rerun).toBe('npx hasim run --seed 9');
    for (const inv of r.invariants) {
      const trace = readTraceFile(inv.example!.file, SYSTEMS);
      expect(trace.found?.['shrunk']).toBe('yes');
      expect(trace.expectations[0]!.outcome).toBe(inv.invariant);
    }
  });

  test('an interrupt stops new seeds, cancels shrinks, and leaves the unshrunk counterexample on disk', async () => {
    const dir = tmp();
    const stop = new AbortController();
    const r = await runCampaign(fakeExecutor({ concurrency: 1, hangShrinks: true }), options(dir, {
      range: { start: 0, total: null, shard: { index: 1, count: 1 } },
      signal: stop.signal,
      onSeed: (p) => {
        if (p.done === 5) stop.abort();
      },
    }));
    expect(r.interrupted).toBe(true);
    expect(r.seedsRun).toBeGreaterThanOrEqual(5);
    expect(r.seedsRun).toBeLessThan(10);
    const example = r.invariants.find((i) => i.invariant === 'no-lost-commands')!.example!;
    expect(example.shrunk).toBeNull();
    const trace = readTraceFile(example.file, SYSTEMS);
    expect(trace.found?.['shrunk']).toBe('not yet');
    expect(trace.schedule.length).toBe(1);
  });

  test('a wall-clock budget stops starting seeds', async () => {
    let t = 0;
    const r = await runCampaign(fakeExecutor({ concurrency: 1 }), options(tmp(), {
      range: { start: 0, total: null, shard: { index: 1, count: 1 } },
      budgetMs: 100,
      now: () => t,
      onSeed: () => {
        t += 10;
      },
    }));
    expect(r.budgetExhausted).toBe(true);
    expect(r.seedsRun).toBeGreaterThanOrEqual(10);
    expect(r.seedsRun).toBeLessThanOrEqual(12);
  });

  test('the self-check reruns the seeds its seed hash picks and reports a hash mismatch with the first divergent event', async () => {
    // Over seeds 0-19 at 1 in 5 the hash picks 0, 1, 2, 13, 16 and 18.
    const checked = [...Array(20).keys()].filter((s) => selfChecked(s, 5));
    expect(checked).toEqual([0, 1, 2, 13, 16, 18]);
    const e = (d: string) => ({ t: 1, p: 'api-0', k: 'x', d });
    const ex = fakeExecutor({
      concurrency: 2,
      run: (seed, attempt) => synthetic(seed, seed === 13 && attempt === 2 ? 'e'.repeat(64) : hashOf(seed)),
      events: (_seed, attempt) => ({ type: 'events', hash: '', events: [e('same'), e(attempt === 1 ? 'a' : 'b')] as never }),
    });
    const r = await runCampaign(ex, options(tmp(), { selfCheckEvery: 5, range: { start: 0, total: 20, shard: { index: 1, count: 1 } } }));
    expect(r.selfChecks).toBe(6);
    expect(r.selfCheckEvery).toBe(5);
    const reruns = ex.tasks.filter((t) => t.type === 'run').map((t) => t.seed);
    expect(reruns.filter((s, i) => reruns.indexOf(s) !== i).sort((a, b) => a - b)).toEqual(checked);
    expect(r.mismatches).toEqual([{ seed: 13, hashes: [hashOf(13), 'e'.repeat(64)], divergence: { index: 1, first: e('a'), second: e('b') } }]);
    const text = summaryLines(r, 'test').join('\n');
    expect(text).toContain('determinism self-check: 6 seeds rerun, 1 mismatches (about 1 seed in 5, chosen by a hash of the seed)');
    expect(text).toContain('FRAMEWORK BUG: seed 13');
    expect(text).toContain('first differ at event 1');
  });

  test('every shard self-checks its share, and a seed is checked or not whatever shard or range runs it', async () => {
    // Chosen by offset, shard 2 of 2 at 1 in 10 never self-checked: its offsets are all odd.
    const range = (start: number, total: number, index: number, count: number) => ({ start, total, shard: { index, count } });
    const counts = await Promise.all([1, 2].map(async (index) => (await runCampaign(fakeExecutor({ concurrency: 4 }), options(tmp(), { selfCheckEvery: 10, range: range(0, 200, index, 2) }))).selfChecks));
    const whole = (await runCampaign(fakeExecutor({ concurrency: 4 }), options(tmp(), { selfCheckEvery: 10, range: range(0, 200, 1, 1) }))).selfChecks;
    expect(counts).toEqual([11, 14]);
    expect(counts[0]! + counts[1]!).toBe(whole);
    // Over many seeds, each of 4 shards and any range gets close to 1 in 50.
    for (let index = 1; index <= 4; index++) {
      const seeds = [...shardSeeds(range(1_000_000, 40_000, index, 4))];
      expect(seeds.filter((s) => selfChecked(s, 50)).length / seeds.length).toBeCloseTo(1 / 50, 2);
    }
    const late = [...shardSeeds(range(2 ** 40, 10_000, 1, 1))];
    expect(late.filter((s) => selfChecked(s, 50)).length / late.length).toBeCloseTo(1 / 50, 2);
    // A pure function of the seed: two campaigns over different, overlapping ranges and shards rerun
    // the same seeds where they overlap.
    const rerunSeeds = async (r: ReturnType<typeof range>): Promise<number[]> => {
      const ex = fakeExecutor({ concurrency: 3 });
      await runCampaign(ex, options(tmp(), { selfCheckEvery: 4, range: r }));
      const runs = ex.tasks.filter((t) => t.type === 'run').map((t) => t.seed);
      return runs.filter((s, i) => runs.indexOf(s) !== i).sort((a, b) => a - b);
    };
    const a = await rerunSeeds(range(0, 60, 1, 2));
    const b = await rerunSeeds(range(20, 60, 1, 1));
    const even = (s: number): boolean => s % 2 === 0;
    expect(a.filter((s) => s >= 20)).toEqual(b.filter((s) => s < 60 && even(s)));
    expect(a.length).toBeGreaterThan(0);
    for (const seed of [0, 7, 123_456, 2 ** 40 + 3]) {
      expect(selfChecked(seed, 1)).toBe(true);
      expect(selfChecked(seed, 0)).toBe(false);
    }
  });

  test('no self-check when it is off', async () => {
    const ex = fakeExecutor({ concurrency: 1 });
    const r = await runCampaign(ex, options(tmp(), { selfCheckEvery: 0 }));
    expect(r.selfChecks).toBe(0);
    expect(summaryLines(r, 'test')).toContain('  determinism self-check: off');
    expect(ex.tasks.filter((t) => t.type === 'run').length).toBe(30);
  });
});

describe('reports', () => {
  test('JUnit XML has one case per invariant, failures with the replay command, escaped', async () => {
    const dir = tmp();
    const r = await runCampaign(fakeExecutor({ concurrency: 1 }), options(dir));
    const xml = junitXml(r, 'hasim fuzz <x>', ['no-split-brain', 'no-duplicate-execution', 'no-lost-commands', 'bounded-recovery']);
    expect(xml).toContain('<testsuite name="hasim fuzz &lt;x&gt;" tests="5" failures="2"');
    expect(xml).toContain('<testcase classname="hasim fuzz &lt;x&gt;" name="bounded-recovery"/>');
    expect(xml).toMatch(/name="no-lost-commands">\s*<failure message="8 of 30 seeds violate no-lost-commands">seed 0: shrunk\nreplay: npx hasim replay .*no-lost-commands-streamspace-v2-[0-9a-f]{6}-seed-0.json/);
    expect(xml).toContain('name="determinism self-check"/>');
  });

  test('GitHub annotations are one escaped ::error line per violated invariant', async () => {
    const r = await runCampaign(fakeExecutor({ concurrency: 1 }), options(tmp()));
    const lines = githubAnnotations(r);
    expect(lines.length).toBe(2);
    expect(lines[0]).toMatch(/^::error file=[^,]*no-lost-commands-streamspace-v2-[0-9a-f]{6}-seed-0\.json,title=hasim%3A no-lost-commands::8 of 30 seeds/);
    expect(lines[0]).not.toContain('\n');
    expect(existsSync(r.invariants[0]!.example!.file)).toBe(true);
  });
});

describe('triage: distinct bugs', () => {
  // The synthetic seeds (every third no-lost-commands, every seventh from 3 no-split-brain) with the
  // synthetic cures: no-lost-commands seeds divisible by 4 go with agent-async-handlers, the other
  // ones with redeliver-unfinished; no-split-brain with fenced-effects.
  const bugShape = (r: Awaited<ReturnType<typeof runCampaign>>) => r.bugs!.map((b) => ({ id: b.id, count: b.count, seeds: b.seeds, file: b.example.file.split('/').at(-1), context: b.context }));

  test('the bug list is the same for any concurrency and completion order', async () => {
    const one = await runCampaign(fakeExecutor({ concurrency: 1 }), options(tmp(), { triage: {} }));
    const many = await runCampaign(fakeExecutor({ concurrency: 4, delay: (s) => (s * 7919) % 13 }), options(tmp(), { triage: {} }));
    expect(bugShape(many)).toEqual(bugShape(one));
    expect(one.bugs!.map((b) => [b.invariant, b.removedBy.join(','), b.kinds.join(','), b.lowestSeed, b.count])).toEqual([
      ['no-lost-commands', 'agent-async-handlers', '', 0, 2],
      ['no-lost-commands', 'redeliver-unfinished', '', 6, 6],
      ['no-split-brain', 'fenced-effects', '', 3, 4],
    ]);
    expect(one.unclassified).toEqual([]);
    // The per-invariant rows are as without triage.
    expect(one.invariants.map((i) => [i.invariant, i.runs, i.example?.seed])).toEqual([['no-lost-commands', 8, 0], ['no-split-brain', 4, 3]]);
  });

  test('the first bug of an invariant is its example; the others get a trace file of their own; bugs.json lists them', async () => {
    const dir = tmp();
    const found: string[] = [];
    const ex = fakeExecutor({ concurrency: 2 });
    const r = await runCampaign(ex, options(dir, { triage: {}, onBug: (b) => found.push(`${b.id} ${b.seed} ${b.what}`) }));
    const [first, second] = r.bugs!;
    expect(first!.example.file).toBe(r.invariants[0]!.example!.file);
    expect(second!.example.file).toMatch(new RegExp(`no-lost-commands-streamspace-v2-[0-9a-f]{6}-bug-${second!.id}-seed-6\\.json$`));
    const trace = readTraceFile(second!.example.file, SYSTEMS);
    // A case of the campaign's space with the fixes of the bugs found before it on, checking its invariant only.
    expect(trace.fixes).toEqual(['agent-async-handlers']);
    expect(trace.invariants).toEqual(['no-lost-commands']);
    expect(trace.found).toMatchObject({ shrunk: 'yes', bug: second!.id, context: 'agent-async-handlers' });
    expect(trace.expectations[0]!.fixes).toEqual(['agent-async-handlers']);
    const bugs = JSON.parse(readFileSync(join(dir, 'bugs.json'), 'utf8')) as { format: string; bugs: Array<{ id: string }>; unclassified: unknown[] };
    expect(bugs.format).toBe('hasim-bugs');
    expect(bugs.bugs.map((b) => b.id)).toEqual(r.bugs!.map((b) => b.id));
    // Seed 6's minimal case: its own schedule shrunk to nothing (the synthetic violation needs no fault).
    const found6 = caseForSeed(streamspace, space, 6).schedule.length;
    expect(found.sort()).toEqual([
      `${first!.id} 0 faults 2→0 (no fault needed), removed by agent-async-handlers`,
      `${r.bugs![2]!.id} 3 faults 2→0 (no fault needed), removed by fenced-effects`,
      `${second!.id} 6 faults ${found6}→0 (no fault needed), removed by redeliver-unfinished; found with agent-async-handlers on`,
    ].sort());
    expect(trace.schedule).toEqual([]);
    // Triage shrank one seed (6: seeds 0 and 3 are the invariants' examples, shrunk already) with runs on the workers.
    expect(r.triage).toMatchObject({ shrinks: 1 });
    expect(ex.tasks.filter((t) => t.type === 'probe' && t.probe.schedule !== null).length).toBeGreaterThan(0);
  });

  test('the summary, the JUnit report and the annotations name each bug', async () => {
    const r = await runCampaign(fakeExecutor({ concurrency: 1 }), options(tmp(), { triage: {} }));
    const text = summaryLines(r, 'hasim fuzz').join('\n');
    expect(text).toContain('3 distinct bugs (invariant, fault kinds of the minimal case, the fixes that remove it: docs/triage.md)');
    expect(text).toMatch(new RegExp(`  ${r.bugs![1]!.id}  no-lost-commands +6 seeds from 6 +faults \\d+→0 \\(no fault needed\\), removed by redeliver-unfinished; found with agent-async-handlers on\\n          npx hasim replay \\S+-bug-${r.bugs![1]!.id}-seed-6\\.json`));
    const xml = junitXml(r, 'hasim fuzz', ['no-split-brain', 'no-duplicate-execution', 'no-lost-commands', 'bounded-recovery']);
    expect(xml).toContain('tests="6" failures="3"');
    for (const b of r.bugs!) expect(xml).toContain(`name="${b.invariant}: bug ${b.id}"`);
    expect(xml).toContain('name="no-duplicate-execution"/>');
    const lines = githubAnnotations(r);
    expect(lines.length).toBe(3);
    expect(lines[1]).toMatch(new RegExp(`^::error file=[^,]*-bug-${r.bugs![1]!.id}-seed-6\\.json,title=hasim%3A bug ${r.bugs![1]!.id} \\(no-lost-commands\\)::6 of 30 seeds violate no-lost-commands`));
  });

  test('--max-bugs leaves the seeds it does not reach unclassified, and says so', async () => {
    const r = await runCampaign(fakeExecutor({ concurrency: 2 }), options(tmp(), { triage: { maxBugs: 1 } }));
    expect(r.bugs!.map((b) => b.lowestSeed)).toEqual([0, 3]);
    expect(r.unclassified).toEqual([{ invariant: 'no-lost-commands', count: 6, seeds: [6, 9, 15, 18, 21, 27] }]);
    expect(summaryLines(r, 'x').join('\n')).toContain('unclassified: no-lost-commands, 6 seeds (6, 9, 15, 18, 21, 27) that no bug above accounts for');
    expect(junitXml(r, 'x', ['no-lost-commands'])).toContain('name="no-lost-commands: unclassified"');
  });
});

describe('a budget bounds the whole campaign', () => {
  /**
   * A clock that moves one tick per task started, so that "the budget ends at task k" does not depend
   * on the machine; `started` records the clock when each task was handed to the executor.
   */
  function ticking(inner: Executor & { tasks: Task[] }): { executor: Executor & { tasks: Task[] }; now: () => number; started: Array<{ task: Task; at: number }> } {
    let t = 0;
    const started: Array<{ task: Task; at: number }> = [];
    return {
      executor: { ...inner, run: (task, signal) => {
        started.push({ task, at: t });
        t++;
        return inner.run(task, signal);
      } },
      now: () => t,
      started,
    };
  }
  const untilBudget = { start: 0, total: null, shard: { index: 1, count: 1 } };

  test('seeds stop at half the budget once one failed; triage starts no run after it and reports what it left undone', async () => {
    const whole = await runCampaign(fakeExecutor({ concurrency: 2 }), options(tmp(), { triage: {}, selfCheckEvery: 0 }));
    const clock = ticking(fakeExecutor({ concurrency: 2 }));
    const dir = tmp();
    const r = await runCampaign(clock.executor, options(dir, { range: untilBudget, budgetMs: 60, now: clock.now, triage: {}, selfCheckEvery: 0 }));
    const seedRuns = clock.started.filter((s) => s.task.type === 'run');
    // Seed 0 fails at once: no seed starts after half the budget, and nothing at all after its end.
    expect(r.budgetExhausted).toBe(true);
    expect(Math.max(...seedRuns.map((s) => s.at))).toBeLessThan(30);
    expect(Math.max(...clock.started.map((s) => s.at))).toBeLessThan(60);
    expect(clock.started.filter((s) => s.task.type === 'probe').length).toBeGreaterThan(0);
    expect(r.triage).toMatchObject({ complete: false, deadlineReached: true });
    // Whatever bug it found is one of the unbudgeted campaign's; every failing seed is a bug's or unclassified.
    for (const b of r.bugs!) expect(whole.bugs!.map((w) => w.id)).toContain(b.id);
    const failing = r.invariants.reduce((n, i) => n + i.runs, 0);
    expect(r.bugs!.reduce((n, b) => n + b.count, 0) + r.unclassified!.reduce((n, u) => n + u.count, 0)).toBe(failing);
    expect(r.unclassified!.length).toBeGreaterThan(0);
    // Said in the text, the JSON, the JUnit report and bugs.json.
    const text = summaryLines(r, 'x').join('\n');
    expect(text).toContain('(budget reached)');
    expect(text).toContain('triage reached the end of its budget before it was done: each bug listed is minimal with its signature complete, but its seed count is a lower bound');
    expect(JSON.parse(summaryJson(r, {})).triage).toMatchObject({ complete: false, deadlineReached: true });
    const xml = junitXml(r, 'x', ['no-lost-commands', 'no-split-brain']);
    expect(xml).toMatch(/skipped="1"/);
    expect(xml).toMatch(/<testcase classname="x" name="triage">\s*<skipped message="triage reached the end of its budget before it was done/);
    expect(xml).toMatch(/no bug accounts for them \(triage reached the end of its budget before it was done\)/);
    expect(JSON.parse(readFileSync(join(dir, 'bugs.json'), 'utf8'))).toMatchObject({ complete: false, deadlineReached: true });
  });

  test('where the budget ends decides how much is done, never what: each cut is a part of the whole result', async () => {
    const whole = await runCampaign(fakeExecutor({ concurrency: 2 }), options(tmp(), { triage: {}, selfCheckEvery: 0 }));
    const byId = new Map(whole.bugs!.map((b) => [b.id, b]));
    const withoutFile = (bugs: BugRow[] | null | undefined) => bugs?.map((b) => ({ ...b, example: { ...b.example, file: b.example.file.split('/').at(-1) } }));
    const stages = new Set<string>();
    // Seeds 0-29 take about 45 ticks (runs and example shrinks); triage the rest.
    for (let budget = 50; budget <= 200; budget += 5) {
      const clock = ticking(fakeExecutor({ concurrency: 2 }));
      const r = await runCampaign(clock.executor, options(tmp(), { budgetMs: budget, now: clock.now, triage: {}, selfCheckEvery: 0, seedShare: 1 }));
      expect(r.seedsRun).toBe(30);
      expect(Math.max(...clock.started.map((s) => s.at))).toBeLessThan(budget);
      for (const b of r.bugs!) {
        const w = byId.get(b.id)!;
        expect([b.signature, b.example.seed, b.example.faultsMinimal, b.context]).toEqual([w.signature, w.example.seed, w.example.faultsMinimal, w.context]);
        expect(b.seeds.every((x) => w.seeds.includes(x))).toBe(true);
      }
      for (const u of r.triage!.unfinished) stages.add(u.stage);
      if (r.triage!.complete) {
        expect(withoutFile(r.bugs)).toEqual(withoutFile(whole.bugs));
        expect(r.triage!.unfinished).toEqual([]);
      }
    }
    expect(stages.size).toBeGreaterThan(0);
  });

  test('a budget that is not reached changes nothing: the same bugs as without one', async () => {
    const whole = await runCampaign(fakeExecutor({ concurrency: 2 }), options(tmp(), { triage: {} }));
    const clock = ticking(fakeExecutor({ concurrency: 2 }));
    const r = await runCampaign(clock.executor, options(tmp(), { budgetMs: 1e9, now: clock.now, triage: {} }));
    const withoutFile = (bugs: BugRow[] | null | undefined) => bugs?.map((b) => ({ ...b, example: { ...b.example, file: b.example.file.split('/').at(-1) } }));
    expect(withoutFile(r.bugs)).toEqual(withoutFile(whole.bugs));
    expect(r.results).toEqual(whole.results);
    expect(r).toMatchObject({ budgetExhausted: false, triage: { complete: true, deadlineReached: false, unfinished: [] } });
    expect(junitXml(r, 'x', ['no-lost-commands'])).not.toContain('skipped');
  });

  test('shrinks still running at the end of the budget are cancelled; triage starts nothing and names the rounds it could not do', async () => {
    const clock = ticking(fakeExecutor({ concurrency: 2, hangShrinks: true }));
    const r = await runCampaign(clock.executor, options(tmp(), { range: untilBudget, budgetMs: 20, now: clock.now, triage: {}, selfCheckEvery: 0 }));
    expect(r.invariants.map((i) => [i.invariant, i.example?.shrunk ?? null])).toEqual([['no-lost-commands', null], ['no-split-brain', null]]);
    expect(clock.started.filter((s) => s.task.type === 'probe')).toEqual([]);
    expect(r.bugs).toEqual([]);
    expect(r.triage).toMatchObject({ complete: false, deadlineReached: true, runs: 0 });
    expect(r.triage!.unfinished.map((u) => [u.invariant, u.seed, u.stage])).toEqual([['no-lost-commands', 0, 'shrink'], ['no-split-brain', 3, 'shrink']]);
    const text = summaryLines(r, 'x').join('\n');
    expect(text).toMatch(/unfinished: no-lost-commands seed 0: stopped while shrinking, faults 1→1 so far: not minimal, no signature/);
  });
});

describe('progress', () => {
  test('the line shows seeds done, rate, violations, simulated time per wall second and the ETA', () => {
    expect(progressLine({ done: 100, total: 400, violations: 3, elapsedMs: 4000, simUs: 100 * 660e6 })).toBe(
      '100/400 seeds, 25.0 seeds/s, 3 violating, 16500 sim s/s, 4s elapsed, ETA 12s');
    expect(progressLine({ done: 5000, total: null, violations: 0, elapsedMs: 200_000, simUs: 0 })).toBe(
      '5000 seeds, 25.0 seeds/s, 0 violating, 0 sim s/s, 3m20s elapsed');
  });
});

describe('shrinks beside the seeds', () => {
  /**
   * A pool of `workers` threads as tinypool runs one: tasks start in the order they come, each when a
   * worker is free, and hold it until `work` settles; `log` gets a `start` and an `end` line per
   * task (`<pool> <type> <seed>`). An abort takes a queued task out of the queue, and frees the
   * worker of a running one (tinypool ends its thread).
   */
  function modelPool(name: string, workers: number, work: (task: Task) => Promise<TaskResult>, log: string[]): Executor {
    const queue: Array<() => void> = [];
    let busy = 0;
    const next = (): void => {
      while (busy < workers && queue.length > 0) queue.shift()!();
    };
    return {
      concurrency: workers,
      run: (task, signal) => new Promise<TaskResult>((resolve, reject) => {
        let state: 'queued' | 'running' | 'done' = 'queued';
        const settle = (then: () => void): void => {
          if (state === 'done') return;
          if (state === 'running') {
            busy--;
            log.push(`end ${name} ${task.type} ${task.seed}`);
          } else queue.splice(queue.indexOf(start), 1);
          state = 'done';
          then();
          next();
        };
        const start = (): void => {
          state = 'running';
          busy++;
          log.push(`start ${name} ${task.type} ${task.seed}`);
          work(task).then((r) => settle(() => resolve(r)), (e: unknown) => settle(() => reject(e)));
        };
        signal?.addEventListener('abort', () => settle(() => reject(new Error('aborted'))));
        queue.push(start);
        next();
      }),
      close: async () => undefined,
    };
  }
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  const syntheticRun = async (task: Task): Promise<TaskResult> => {
    await turn();
    if (task.type !== 'run') throw new Error(`unexpected ${task.type} task`);
    return { type: 'run', result: synthetic(task.seed) };
  };
  const between = (log: string[], from: string, to: string, prefix: string): number =>
    log.slice(log.indexOf(from), log.indexOf(to)).filter((l) => l.startsWith(prefix)).length;

  test('a shrink never holds a seed worker: with one, the seeds after a finding run while it shrinks', async () => {
    const log: string[] = [];
    let seedsRun = 0;
    let allSeedsRan = (): void => undefined;
    const seedsDone = new Promise<void>((resolve) => {
      allSeedsRan = resolve;
    });
    const seeds = modelPool('seeds', 1, async (task) => {
      const r = await syntheticRun(task);
      if (++seedsRun === 30) allSeedsRan();
      return r;
    }, log);
    let lanes = 0;
    // The shrinks take as long as every seed: on the seeds' only worker they would hold up all of them.
    const executor = withShrinkLane(seeds, () => {
      lanes++;
      return modelPool('shrinks', 1, async (task) => {
        await seedsDone;
        return { type: 'shrink', shrunk: shrunkOf(task as Extract<Task, { type: 'shrink' }>) };
      }, log);
    });
    const r = await runCampaign(executor, options(tmp(), { selfCheckEvery: 0 }));
    expect(lanes).toBe(1);
    expect(r.seedsRun).toBe(30);
    // Seed 0 fails and its shrink starts at once; all but the seeds already queued start after it.
    expect(log.indexOf('start shrinks shrink 0')).toBeLessThan(log.indexOf('start seeds run 2'));
    expect(between(log, 'start shrinks shrink 0', 'end shrinks shrink 0', 'end seeds run')).toBeGreaterThanOrEqual(28);
    expect(r.invariants.map((i) => [i.invariant, i.example?.seed, i.example?.shrunk?.faultsMinimal])).toEqual([['no-lost-commands', 0, 0], ['no-split-brain', 3, 0]]);
  });

  test('no finding, no shrink thread', async () => {
    let lanes = 0;
    const pass = async (task: Task): Promise<TaskResult> => ({ type: 'run', result: { ...synthetic(task.seed), outcome: 'pass', violation: null, schedule: null } });
    const executor = withShrinkLane(modelPool('seeds', 2, pass, []), () => {
      lanes++;
      return modelPool('shrinks', 1, pass, []);
    });
    const r = await runCampaign(executor, options(tmp()));
    expect([r.seedsRun, r.passed, lanes]).toEqual([30, 30, 0]);
  });

  test('the shrink of an example a lower seed replaces is cancelled, queued or running', async () => {
    // Seed 0 finishes after seeds 3 and 6: their shrinks come first, and would never end on their own.
    const log: string[] = [];
    const seeds = modelPool('seeds', 8, async (task) => {
      for (let i = 0; i < (task.seed === 0 ? 30 : 1); i++) await turn();
      return syntheticRun(task);
    }, log);
    const executor = withShrinkLane(seeds, () => modelPool('shrinks', 1, async (task) => {
      if (task.seed !== 0 && task.seed !== 3) await new Promise(() => undefined);
      return { type: 'shrink', shrunk: shrunkOf(task as Extract<Task, { type: 'shrink' }>) };
    }, log));
    const r = await runCampaign(executor, options(tmp(), { range: { start: 0, total: 8, shard: { index: 1, count: 1 } }, selfCheckEvery: 0 }));
    expect(r.invariants.map((i) => [i.invariant, i.example?.seed, i.example?.shrunk === null])).toEqual([['no-lost-commands', 0, false], ['no-split-brain', 3, false]]);
    expect(log).toContain('end shrinks shrink 6');
  });

  test('an interrupt cancels the shrink on its thread and leaves the unshrunk counterexample', async () => {
    const stop = new AbortController();
    const log: string[] = [];
    const executor = withShrinkLane(modelPool('seeds', 1, syntheticRun, log), () => modelPool('shrinks', 1, () => new Promise(() => undefined), log));
    const r = await runCampaign(executor, options(tmp(), {
      range: { start: 0, total: null, shard: { index: 1, count: 1 } }, signal: stop.signal, selfCheckEvery: 0,
      onSeed: (p) => {
        if (p.done === 5) stop.abort();
      },
    }));
    expect(r.interrupted).toBe(true);
    expect(r.seedsRun).toBeLessThan(10);
    expect(r.invariants.find((i) => i.invariant === 'no-lost-commands')!.example!.shrunk).toBeNull();
    expect(log).toContain('end shrinks shrink 0');
  });

  test('the model\'s campaign: the same results, shrunk examples and summary with 1 and 2 seed workers', async () => {
    // Seeds 0-11 of the seed-000 deployment as built: no-lost-commands from seed 0, no-split-brain at seed 10 (5 faults).
    const space = { profile: 'streamspace-v2', deployment: 'seed-000' };
    const campaign = async (workers: number): Promise<Record<string, unknown>> => {
      const work = async (task: Task): Promise<TaskResult> => {
        for (let i = 0; i < (task.seed * 7919) % 5; i++) await turn();
        return runTask(task);
      };
      const dir = tmp();
      const executor = withShrinkLane(modelPool('seeds', workers, work, []), () => modelPool('shrinks', 1, work, []));
      const r = await runCampaign(executor, { ...options(dir, { space, range: { start: 0, total: 12, shard: { index: 1, count: 1 } }, selfCheckEvery: 0 }), store: new FindingsStore(dir, streamspace, space, 'a test', String) });
      const summary = JSON.parse(summaryJson(r, {}).replaceAll(dir, 'DIR')) as Record<string, unknown>;
      for (const timing of ['elapsedMs', 'seedsPerSecond', 'simSecondsPerSecond']) delete summary[timing];
      return { summary, results: r.results, shrunk: r.invariants.map((i) => [i.example?.shrunk?.case.schedule, i.example?.shrunk?.verdict.hash]) };
    };
    const one = await campaign(1);
    expect(await campaign(2)).toEqual(one);
    const invariants = (one['summary'] as { invariants: Array<{ invariant: string; example: { seed: number; shrunk: { faultsFound: number; faultsMinimal: number } } }> }).invariants;
    expect(invariants.map((i) => [i.invariant, i.example.seed, i.example.shrunk.faultsFound, i.example.shrunk.faultsMinimal])).toEqual([['no-lost-commands', 0, 1, 0], ['no-split-brain', 10, 5, 1]]);
  });
});
