import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Verdict } from '../harness/run-case.ts';
import type { Shrunk } from '../harness/seeded-case.ts';
import type { Executor } from './campaign/executor.ts';
import type { SeedResult, Task, TaskResult } from './campaign/tasks.ts';
import { fuzzCommand } from './fuzz-command.ts';
import { main } from './main.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'hasim-merge-'));
const hashOf = (seed: number, salt = 0): string => (seed + salt * 1_000_003).toString(16).padStart(64, '0');

/** A synthetic seed: every third violates no-lost-commands, every seventh (from 3) no-split-brain. */
function synthetic(seed: number, violating: boolean): SeedResult {
  const outcome = !violating ? 'pass' : seed % 7 === 3 ? 'no-split-brain' : seed % 3 === 0 ? 'no-lost-commands' : 'pass';
  return {
    seed, outcome, hash: hashOf(seed), steps: 10, simUs: 1_000_000, faults: 1,
    violation: outcome === 'pass' ? null : { invariant: outcome, time: 1, message: `synthetic ${outcome} at seed ${seed}` },
    modelFailure: null,
    schedule: outcome === 'pass' ? null : [],
  };
}

/** Synthetic triage: no-lost-commands seeds divisible by 4 go with agent-async-handlers, the others with redeliver-unfinished; no-split-brain with fenced-effects. */
const cured = (seed: number, fixes: readonly string[]): boolean => fixes.includes(seed % 7 === 3 ? 'fenced-effects' : seed % 4 === 0 ? 'agent-async-handlers' : 'redeliver-unfinished');

function shrunkOf(invariant: string, profile: string, seed: number): Shrunk {
  const verdict = { outcome: invariant, hash: 'f'.repeat(64), violation: { invariant, time: 5, message: `shrunk ${invariant}` } } as unknown as Verdict;
  return {
    invariant, case: { profile, fixes: [], config: {}, seed, schedule: [] } as unknown as Shrunk['case'], verdict,
    faultsFound: 1, faultsShrunk: 0, faultsMinimal: 0, shrinkSteps: 1, shrinkRuns: 2, minimizeRuns: 1,
    // As if no-lost-commands' were shrunk before delta debugging was: its files lack the figure.
    ...(invariant === 'no-split-brain' ? { ddminRuns: 3 } : {}),
  };
}

/** Runs synthetic seeds in this thread (shrinks to an empty schedule): a campaign whose findings depend only on its seeds. */
const syntheticExecutor = (violating: boolean) => (): Executor => ({
  concurrency: 2,
  run: async (task: Task): Promise<TaskResult> => {
    if (task.type === 'run') return { type: 'run', result: synthetic(task.seed, violating) };
    if (task.type === 'shrink') return { type: 'shrink', shrunk: shrunkOf(task.invariant, task.space.profile, task.seed) };
    if (task.type === 'probe') {
      const outcome = cured(task.seed, task.probe.fixes) ? 'pass' : task.probe.invariant;
      const verdict = { outcome, hash: 'e'.repeat(64), violation: { invariant: outcome, time: 7, message: `minimal ${outcome}` } } as unknown as Verdict;
      return { type: 'probe', result: { outcome, hash: hashOf(task.seed), ...(task.probe.verdict === true ? { verdict } : {}) } };
    }
    return { type: 'events', hash: '', events: [] };
  },
  close: async () => undefined,
});

interface Summary {
  seedsRun: number;
  selfChecks: number;
  bugs: Array<{ id: string; invariant: string; count: number; lowestSeed: number; removedBy: string[]; file: string }> | null;
  invariants: Array<{ invariant: string; runs: number; seeds: number[]; example: { seed: number; file: string; message: string; shrunk: { faultsMinimal: number; ddminRuns?: number } | null } | null }>;
}

/** `hasim fuzz` over seeds 0..59 (one shard of it), its findings, results, JUnit and --json summary in `dir`. */
async function shard(dir: string, shardFlag: string | null, violating = true, extra: string[] = []): Promise<{ code: number; summary: Summary }> {
  const out: string[] = [];
  const code = await fuzzCommand([
    '--profile', 'streamspace-v2', '--seeds', '60', '--self-check', '5', ...(shardFlag === null ? [] : ['--shard', shardFlag]), ...extra,
    '--out', dir, '--results', join(dir, 'results.jsonl'), '--junit', join(dir, 'junit.xml'), '--json',
  ], { out: (l) => out.push(l), err: () => undefined, env: {}, executor: syntheticExecutor(violating) });
  writeFileSync(join(dir, 'summary.json'), out.join('\n') + '\n');
  return { code, summary: JSON.parse(out.at(-1)!) as Summary };
}

async function merge(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['merge', ...argv], (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

describe('hasim merge', () => {
  test('three shards merge into the summary of the unsharded campaign, with one JUnit report', async () => {
    const root = tmp();
    const whole = await shard(join(root, 'whole'), null);
    expect(whole.code).toBe(1);
    const dirs = ['1/3', '2/3', '3/3'].map((_, i) => join(root, `shard-${i + 1}`));
    for (const [i, d] of dirs.entries()) expect((await shard(d, `${i + 1}/3`)).code).toBe(1);

    const junit = join(root, 'merged.xml');
    const r = await merge([...dirs, '--results', ...dirs.map((d) => join(d, 'results.jsonl')), '--junit', junit, '--json']);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(1);
    const m = JSON.parse(r.out[0]!) as Summary & { shards: string[]; missingShards: string[]; passed: number; violating: number; selfCheckEvery: number; mismatches: unknown[]; profile: string };
    expect(m).toMatchObject({ profile: 'streamspace-v2', shards: ['1/3', '2/3', '3/3'], missingShards: [], seedsRun: 60, selfCheckEvery: 5, selfChecks: whole.summary.selfChecks, mismatches: [] });
    expect(m.passed + m.violating).toBe(60);
    // The same invariants, counts, lowest seeds and shrunk examples as the unsharded campaign; the
    // example file is the one in the shard that ran the seed.
    const shape = (s: Summary) => s.invariants.map((i) => ({ invariant: i.invariant, runs: i.runs, seeds: i.seeds, seed: i.example?.seed, minimal: i.example?.shrunk?.faultsMinimal, message: i.example?.message }));
    expect(shape(m)).toEqual(shape(whole.summary));
    expect(m.invariants.map((i) => i.example!.seed)).toEqual([0, 3]);
    expect(m.invariants[0]!.example!.file.startsWith(dirs[0]!)).toBe(true); // seed 0 is shard 1's
    expect(m.invariants[1]!.example!.file.startsWith(dirs[0]!)).toBe(true); // seed 3 too (offset 3 of a stride of 3)
    // The shrink figures its trace file records, delta debugging's runs where it ran.
    expect(m.invariants.map((i) => i.example!.shrunk)).toEqual(whole.summary.invariants.map((i) => i.example!.shrunk));
    expect(m.invariants[0]!.example!.shrunk).not.toHaveProperty('ddminRuns');
    expect(m.invariants[1]!.example!.shrunk).toMatchObject({ ddminRuns: 3, shrinkRuns: 2, minimizeRuns: 1 });

    // The bugs: those of the unsharded campaign, added up by signature across the shards.
    const bugShape = (s: Summary) => s.bugs!.map((b) => ({ id: b.id, invariant: b.invariant, count: b.count, lowestSeed: b.lowestSeed, removedBy: b.removedBy }));
    expect(bugShape(m)).toEqual(bugShape(whole.summary));
    expect(bugShape(m)).toEqual([
      { id: expect.any(String), invariant: 'no-lost-commands', count: 4, lowestSeed: 0, removedBy: ['agent-async-handlers'] },
      { id: expect.any(String), invariant: 'no-lost-commands', count: 13, lowestSeed: 6, removedBy: ['redeliver-unfinished'] },
      { id: expect.any(String), invariant: 'no-split-brain', count: 9, lowestSeed: 3, removedBy: ['fenced-effects'] },
    ]);
    expect(m.bugs![1]!.file.startsWith(dirs[0]!)).toBe(true);

    // JUnit: a test case per bug (three), the six invariants nothing violated, the self-check.
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('<testsuite name="hasim merge --profile streamspace-v2 (3 shards)" tests="11" failures="3"');
    expect(xml).toMatch(new RegExp(`name="no-lost-commands: bug ${m.bugs![0]!.id}">\\s*<failure message="4 of 60 seeds: no-lost-commands, faults 1→0 \\(no fault needed\\), removed by agent-async-handlers">bug ${m.bugs![0]!.id} \\(no-lost-commands\\|kinds=\\|fixes=agent-async-handlers\\)\\nseed 0: shrunk no-lost-commands\\nreplay: npx hasim replay `));
    expect(xml).toMatch(new RegExp(`name="no-lost-commands: bug ${m.bugs![1]!.id}">\\s*<failure message="13 of 60 seeds: no-lost-commands, faults 1→0 \\(no fault needed\\), removed by redeliver-unfinished; found with agent-async-handlers on">`));
    expect(xml).toContain('name="bounded-recovery"/>');
    expect(xml).toContain('name="determinism self-check"/>');

    const text = await merge([...dirs, '--results', ...dirs.map((d) => join(d, 'results.jsonl'))]);
    expect(text.out[0]).toBe(`hasim merge: 3 findings directories, 60 seeds, ${m.passed} passed, ${m.violating} violating`);
    expect(text.out[1]).toBe('  shards 1/3, 2/3, 3/3 of streamspace-v2');
    expect(text.out.join('\n')).toMatch(/no-lost-commands\s+\d+\s+0\s+1→0\s+npx hasim replay .*shard-1/);
    expect(text.out.at(-1)).toBe(`  determinism self-check: ${whole.summary.selfChecks} seeds rerun, 0 mismatches (about 1 seed in 5, chosen by a hash of the seed)`);
  });

  test('clean shards exit 0; a missing shard summary is named', async () => {
    const root = tmp();
    const dirs = [join(root, 'a'), join(root, 'b')];
    expect((await shard(dirs[0]!, '1/3', false)).code).toBe(0);
    expect((await shard(dirs[1]!, '3/3', false)).code).toBe(0);
    const r = await merge(dirs);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe('hasim merge: 2 findings directories, 40 seeds, 40 passed, 0 violating');
    expect(r.out[1]).toBe('  shards 1/3, 3/3 of streamspace-v2 (no summary here from 2/3)');
  });

  test('a summary after annotation lines (the output copied with tee) is read', async () => {
    const root = tmp();
    const dir = join(root, 's');
    await shard(dir, null);
    const summary = readFileSync(join(dir, 'summary.json'), 'utf8');
    writeFileSync(join(dir, 'summary.json'), `::error file=x.json,title=hasim%3A no-lost-commands::20 of 60 seeds\n${summary}`);
    const r = await merge([dir, '--json']);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.out[0]!) as { seedsRun: number }).seedsRun).toBe(60);
  });

  test('a seed recorded with two trace hashes is a determinism mismatch (exit 1), and a shard\'s own self-check mismatch is kept', async () => {
    const root = tmp();
    const dir = join(root, 's');
    await shard(dir, null, false);
    const a = join(root, 'a.jsonl');
    const b = join(root, 'b.jsonl');
    writeFileSync(a, `${JSON.stringify({ seed: 7, outcome: 'pass', hash: hashOf(7) })}\n`);
    writeFileSync(b, `${JSON.stringify({ seed: 7, outcome: 'pass', hash: hashOf(7, 1) })}\n${JSON.stringify({ seed: 8, outcome: 'pass', hash: hashOf(8) })}\n`);
    const r = await merge([dir, '--results', a, b]);
    expect(r.code).toBe(1);
    expect(r.out.join('\n')).toContain('determinism self-check: ');
    expect(r.out.join('\n')).toContain(`FRAMEWORK BUG: seed 7 gave two trace hashes (${hashOf(7).slice(0, 12)} vs ${hashOf(7, 1).slice(0, 12)})`);
    expect(r.out.join('\n')).toContain(`recorded in ${a}:1 (pass) and ${b}:1 (pass)`);

    const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8').trim().split('\n').at(-1)!) as Record<string, unknown>;
    writeFileSync(join(dir, 'summary.json'), JSON.stringify({ ...s, mismatches: [{ seed: 12, hashes: [hashOf(12), hashOf(12, 1)], divergence: null }] }) + '\n');
    const own = await merge([dir, '--json', '--junit', join(root, 'j.xml')]);
    expect(own.code).toBe(1);
    expect((JSON.parse(own.out[0]!) as { mismatches: Array<{ seed: number }> }).mismatches.map((x) => x.seed)).toEqual([12]);
    expect(readFileSync(join(root, 'j.xml'), 'utf8')).toContain('<failure message="1 seeds gave two trace hashes">seed 12</failure>');
  });

  test('a retried shard that recorded a seed twice with the same hash counts it once', async () => {
    const root = tmp();
    const dir = join(root, 's');
    await shard(dir, null);
    const violations = join(dir, 'violations.jsonl');
    const first = readFileSync(violations, 'utf8').split('\n')[0]!;
    appendFileSync(violations, `${first}\n`);
    const r = await merge([dir, '--results', join(dir, 'results.jsonl'), '--json']);
    const m = JSON.parse(r.out[0]!) as { seedsRun: number; violating: number; mismatches: unknown[] };
    expect(m.seedsRun).toBe(60);
    expect(m.mismatches).toEqual([]);
    expect(m.violating).toBe(readFileSync(join(dir, 'results.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"outcome":"no-')).length);
  });

  test('a resumed shard: two attempts in one directory merge into the campaign they make together', async () => {
    const root = tmp();
    const whole = await shard(join(root, 'whole'), null);
    const dir = join(root, 'index-0');
    for (const [i, range] of [['0', '24'], ['24', '36']].entries()) {
      const out: string[] = [];
      await fuzzCommand(['--profile', 'streamspace-v2', '--seed-start', range[0]!, '--seeds', range[1]!, '--self-check', '5', '--out', dir, '--results', join(dir, `results-${i}.jsonl`), '--json'], {
        out: (l) => out.push(l), err: () => undefined, env: {}, executor: syntheticExecutor(true),
      });
      // The first attempt was stopped (an eviction) after its 24 seeds.
      const summary = JSON.parse(out.at(-1)!) as Record<string, unknown>;
      writeFileSync(join(dir, `summary-${i}.json`), JSON.stringify({ ...summary, interrupted: i === 0 }) + '\n');
    }
    const r = await merge([dir, '--results', join(dir, 'results-0.jsonl'), join(dir, 'results-1.jsonl'), '--json']);
    expect(r.code).toBe(1);
    const m = JSON.parse(r.out[0]!) as Summary & { interrupted: boolean; selfChecks: number };
    expect(m.seedsRun).toBe(60);
    expect(m.interrupted).toBe(false);
    expect(m.selfChecks).toBe(whole.summary.selfChecks);
    const shape = (s: Summary) => s.invariants.map((i) => ({ invariant: i.invariant, runs: i.runs, seeds: i.seeds, seed: i.example?.seed }));
    expect(shape(m)).toEqual(shape(whole.summary));
  });

  test('findings directories alone: the violations and counterexamples, seeds run not known', async () => {
    const root = tmp();
    const dir = join(root, 's');
    await shard(dir, '2/2');
    // What `hasim fuzz --out` alone leaves: violations.jsonl and the trace files.
    const bare = join(root, 'bare');
    mkdirSync(bare);
    for (const f of readdirSync(dir)) if ((f.endsWith('.json') && !f.startsWith('summary')) || f === 'violations.jsonl') writeFileSync(join(bare, f), readFileSync(join(dir, f)));
    const r = await merge([bare]);
    expect(r.code).toBe(1);
    expect(r.out[0]).toMatch(/^hasim merge: 1 findings directory, \d+ violating seeds \(seeds run: not known without --results files or a summary in every directory\)$/);
    expect(r.out.at(-1)).toBe('  determinism self-check: an unknown number of seeds rerun, 0 mismatches');
    const junit = join(root, 'j.xml');
    await merge([bare, '--junit', junit]);
    // Without summaries, the report lists every invariant of the system, and counts without a total.
    expect(readFileSync(junit, 'utf8')).toMatch(/tests="10" failures="2"[\s\S]*<failure message="\d+ seeds: no-lost-commands, faults 1→0 \(no fault needed\), removed by redeliver-unfinished">/);
  });

  test('bugs are not known when a shard with violations did not triage; a bad bugs.json is bad input', async () => {
    const root = tmp();
    const a = join(root, 'a');
    const b = join(root, 'b');
    await shard(a, '1/2');
    await shard(b, '2/2', true, ['--no-triage']);
    const r = await merge([a, b]);
    expect(r.code).toBe(1);
    expect(r.out.join('\n')).toContain(`bugs: not known (${b} did not triage: hasim triage DIR)`);
    expect(r.out.join('\n')).not.toContain('distinct bug');
    const json = JSON.parse((await merge([a, b, '--json'])).out[0]!) as { bugs: unknown; untriaged: string[] };
    expect(json).toMatchObject({ bugs: null, untriaged: [b] });
    writeFileSync(join(a, 'bugs.json'), '{"format":"hasim-bugs","bugs":[{"id":1}],"unclassified":[]}');
    const bad = await merge([a]);
    expect(bad.code).toBe(2);
    expect(bad.err[0]).toMatch(/bugs\.json: bugs\[0\]: expected id, signature, invariant/);
  });

  test('an empty findings directory (a shard that found nothing) is clean', async () => {
    const r = await merge([tmp()]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/0 violating seeds/);
  });
});

describe('hasim merge: bad input is one line and exit code 2', () => {
  const root = tmp();
  const corrupt = (name: string, file: string, content: string): string => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, file), content);
    return dir;
  };
  const badJsonl = corrupt('bad-jsonl', 'violations.jsonl', '{"seed":1,"outcome":"no-split-brain","hash":"ab"}\n{"seed": 2, "outc');
  const badSeed = corrupt('bad-seed', 'violations.jsonl', '{"seed":-1,"outcome":"no-split-brain","hash":"ab"}\n');
  const badTrace = corrupt('bad-trace', 'no-split-brain-streamspace-v2-seed-1.json', '{ "format": "hasim-trace", ');
  const notTrace = corrupt('not-trace', 'notes.json', '{ "hello": 1 }');
  const badSummary = corrupt('bad-summary', 'summary.json', '::error::no json here\n');
  const partSummary = corrupt('part-summary', 'summary.json', '{"seedsRun": 3}\n');
  const v2 = corrupt('v2', 'violations.jsonl', '{"seed":1,"profile":"streamspace-v2","outcome":"no-split-brain","hash":"ab"}\n');
  const hardened = corrupt('hardened', 'violations.jsonl', '{"seed":2,"profile":"hardened","outcome":"no-split-brain","hash":"cd"}\n');
  const badResults = join(root, 'bad-results.jsonl');
  writeFileSync(badResults, '{"seed":1,"outcome":"pass"}\n');
  const cases: Array<[string[], RegExp]> = [
    [[], /merge: expected one or more findings directories/],
    [[join(root, 'nowhere')], /merge: .*nowhere: no such directory/],
    [[badResults], /merge: .*bad-results\.jsonl: not a directory/],
    [[badJsonl], /merge: .*bad-jsonl\/violations\.jsonl:2: not valid JSON/],
    [[badSeed], /violations\.jsonl:1: seed must be a non-negative integer, got -1/],
    [[badTrace], /bad-trace\/no-split-brain-streamspace-v2-seed-1\.json: not valid JSON/],
    [[notTrace], /notes\.json: not a hasim trace file/],
    [[badSummary], /bad-summary\/summary\.json: no hasim fuzz --json summary in it/],
    [[partSummary], /part-summary\/summary\.json: elapsedMs must be a non-negative number|mismatches must be an array/],
    [[v2, hardened], /the shards are of different campaigns: profile streamspace-v2 in .*v2\/violations\.jsonl:1, hardened in .*hardened\/violations\.jsonl:1/],
    [[v2, '--results', badResults], /bad-results\.jsonl:1: hash must be a non-empty string/],
    [[v2, '--results', join(root, 'missing.jsonl')], /missing\.jsonl: cannot read \(ENOENT\)/],
    [[v2, '--results'], /--results: expects one or more files/],
    [[v2, '--bogus'], /Unknown option '--bogus'/],
  ];
  test.each(cases)('%j', async (argv, message) => {
    const r = await merge(argv);
    expect(r.code).toBe(2);
    expect(r.out).toEqual([]);
    expect(r.err.length).toBe(1);
    expect(r.err[0]).toMatch(/^hasim: /);
    expect(r.err[0]).toMatch(message);
  });

  test('--help prints the command\'s help', async () => {
    const r = await merge(['--help']);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(/^hasim merge DIR\.\.\. \[--results FILE\.\.\.\] \[--junit FILE\] \[--json\]/);
  });
});
