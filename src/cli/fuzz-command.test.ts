import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { DESIGN_FIXES } from '../systems/streamspace/profiles.ts';
import { readTraceFile } from '../harness/trace-file.ts';
import { streamspace, SYSTEMS } from '../systems/index.ts';
import { caseSpaceDigest } from './campaign/findings-store.ts';
import { runTask } from './campaign/tasks.ts';
import { combineCoverageFiles, readCoverageFile } from './coverage-file.ts';
import { fuzzCommand } from './fuzz-command.ts';
import { main } from './main.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'hasim-fuzz-'));

async function fuzz(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await fuzzCommand(args, { out: (l) => out.push(l), err: (l) => err.push(l), env });
  return { code, out, err };
}

/** Runs tasks in this thread, each after `delayMs` of real time: a slow campaign for progress output. */
const slowInline = (delayMs: number) => () => ({
  concurrency: 1,
  run: async (task: Parameters<typeof runTask>[0]) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return runTask(task);
  },
  close: async () => undefined,
});

const results = (path: string): string[] => readFileSync(path, 'utf8').trim().split('\n').sort();

describe('hasim fuzz progress', () => {
  async function progressOf(isTty: boolean): Promise<string[]> {
    const err: string[] = [];
    const code = await fuzzCommand(['--seeds', '4', '--workers', '1', '--self-check', '0', '--out', tmp()], {
      out: () => undefined, err: (l) => err.push(l), env: {}, isTty, executor: slowInline(200),
    });
    expect(code).toBe(0);
    return err.filter((l) => l.includes('seeds/s'));
  }

  test('on a terminal: a line redrawn in place with rate, violations, simulated time per second and ETA', async () => {
    const lines = await progressOf(true);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/^\r\x1b\[K\d+\/4 seeds, [\d.]+ seeds\/s, 0 violating, \d+ sim s\/s, \d+s elapsed, ETA /);
  });

  test('in a log: plain lines every 10 s, so none in a one-second campaign', async () => {
    expect(await progressOf(false)).toEqual([]);
  });
});

describe('hasim fuzz on worker threads', () => {
  // The real thing: seeds of the StreamSpace model on a worker pool. A seed's outcome and trace hash
  // must not depend on the worker count or on the sharding.
  test('results and statechart coverage are identical for any --workers and any --shard', async () => {
    const dir = tmp();
    const common = ['--profile', 'hardened', '--deployment', 'seed-000', '--seeds', '6', '--seed-start', '40', '--self-check', '3', '--out', join(dir, 'found')];
    const one = await fuzz([...common, '--workers', '1', '--results', join(dir, 'w1.jsonl'), '--coverage', join(dir, 'w1-coverage.json')]);
    expect(one.code).toBe(0);
    const two = await fuzz([...common, '--workers', '2', '--results', join(dir, 'w2.jsonl'), '--junit', join(dir, 'junit.xml'), '--coverage', join(dir, 'w2-coverage.json')]);
    expect(two.code).toBe(0);
    const s1 = await fuzz([...common, '--workers', '1', '--shard', '1/2', '--results', join(dir, 's1.jsonl'), '--coverage', join(dir, 's1-coverage.json')]);
    const s2 = await fuzz([...common, '--workers', '1', '--shard', '2/2', '--results', join(dir, 's2.jsonl'), '--coverage', join(dir, 's2-coverage.json')]);
    expect(s1.code + s2.code).toBe(0);
    // Coverage: the same file from 1 and 2 workers; the shards' files combine into it.
    const coverage = readCoverageFile(join(dir, 'w1-coverage.json'));
    expect(readFileSync(join(dir, 'w2-coverage.json'), 'utf8')).toBe(readFileSync(join(dir, 'w1-coverage.json'), 'utf8'));
    expect(coverage).toMatchObject({ runs: 6, seedStart: 40, shards: ['1/1'], interrupted: false });
    const shards = ['s1', 's2'].map((s) => ({ path: s, file: readCoverageFile(join(dir, `${s}-coverage.json`)) }));
    expect(combineCoverageFiles(shards)).toEqual({ ...coverage, shards: ['1/2', '2/2'] });
    const elector = coverage.machines.find((m) => m.id === 'elector')!;
    expect(one.out.join('\n')).toContain(`statechart coverage of 6 seeds: elector ${elector.states.reached}/${elector.states.total} states, ${elector.transitions.reached}/${elector.transitions.total} transitions`);
    const w1 = results(join(dir, 'w1.jsonl'));
    expect(w1.length).toBe(6);
    expect(results(join(dir, 'w2.jsonl'))).toEqual(w1);
    expect([...results(join(dir, 's1.jsonl')), ...results(join(dir, 's2.jsonl'))].sort()).toEqual(w1);
    expect(results(join(dir, 's1.jsonl')).map((l) => (JSON.parse(l) as { seed: number }).seed).sort()).toEqual([40, 42, 44]);
    expect(two.out.join('\n')).toMatch(/6 seeds, 6 passed, 0 violating[\s\S]*determinism self-check: 2 seeds rerun, 0 mismatches/);
    // One testcase per invariant (nine) and one for the determinism self-check.
    expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toContain('tests="10" failures="0"');
  }, 60_000);

  test('a violation exits 1, is shrunk and saved, and the summary names its replay command; --json and annotations', async () => {
    const dir = tmp();
    // seed-000 is the space without a deployment: the same cases, the same digest.
    const r = await fuzz(['--profile', 'streamspace-v2', '--deployment', 'seed-000', '--seeds', '1', '--workers', '1', '--out', dir, '--json'], { GITHUB_ACTIONS: 'true' });
    expect(r.code).toBe(1);
    // The file name carries the case space's digest, so campaigns over other spaces in one --out keep their own files.
    const file = `no-lost-commands-streamspace-v2-${caseSpaceDigest(streamspace, { profile: 'streamspace-v2' })}-seed-0.json`;
    // Annotations go to stderr: stdout is the one JSON object alone.
    // One per distinct bug: this seed's is the invariant's example itself.
    expect(r.err.find((l) => l.startsWith('::error'))).toMatch(new RegExp(`^::error file=.*${file.replace(/\./g, '\\.')},title=hasim%3A bug [0-9a-f]{6} \\(no-lost-commands\\)::`));
    expect(r.out).toHaveLength(1);
    const summary = JSON.parse(r.out[0]!) as { violating: number; invariants: Array<{ invariant: string; example: { replay: string; shrunk: { faultsMinimal: number } } }> };
    expect(summary.violating).toBe(1);
    expect(summary.invariants[0]!.invariant).toBe('no-lost-commands');
    expect(summary.invariants[0]!.example.replay).toBe(`npx hasim replay ${join(dir, file)}`);
    // As built, a long start_session loses a command with no fault at all (traces/lost-command-during-long-execution.json).
    expect(summary.invariants[0]!.example.shrunk.faultsMinimal).toBe(0);
    const replay: string[] = [];
    expect(await main(['replay', join(dir, file)], (l) => replay.push(l), () => undefined)).toBe(0);
    expect(replay.join('\n')).toContain('[ok] streamspace-v2: no-lost-commands');
  }, 60_000);
});

describe('hasim fuzz, run and list: bad input is one line and exit code 2', () => {
  const dir = tmp();
  const malformed = join(dir, 'malformed.json');
  writeFileSync(malformed, '{ "api": ');
  const badSection = join(dir, 'bad-section.json');
  writeFileSync(badSection, '{ "nonsense": { "x": 1 } }');
  const badField = join(dir, 'bad-field.json');
  writeFileSync(badField, '{ "api": { "nonsense": 1 } }');
  const badType = join(dir, 'bad-type.json');
  writeFileSync(badType, '{ "agent": { "startSessionUs": 5 } }');
  const badSchedule = join(dir, 'bad-schedule.json');
  writeFileSync(badSchedule, '[{ "kind": "meteor", "at": 5 }]');
  const cases: Array<[string[], RegExp]> = [
    [['fuzz', '--bogus'], /Unknown option '--bogus'/],
    [['fuzz', 'extra'], /unexpected argument 'extra'/],
    [['fuzz', '--seeds', 'many'], /--seeds: expected a non-negative integer, got 'many'/],
    [['fuzz', '--seeds'], /argument missing|--seeds/],
    [['fuzz', '--budget', '5 minutes'], /--budget: expected a duration/],
    [['fuzz', '--workers', '0'], /--workers: must be at least 1/],
    [['fuzz', '--shard', '3/2'], /--shard: expected K\/N with 1 <= K <= N, got '3\/2'/],
    [['fuzz', '--shard', 'half'], /--shard: expected K\/N/],
    [['fuzz', '--profile', 'nope'], /--profile: unknown profile 'nope' \(known: streamspace-v2, hardened\)/],
    [['fuzz', '--faults', 'crash,meteor'], /--faults: unknown name 'meteor'/],
    [['fuzz', '--invariants', 'no-bugs'], /--invariants: unknown name 'no-bugs'/],
    [['fuzz', '--fixes', 'magic'], /--fixes: unknown name 'magic'/],
    [['fuzz', '--config', join(dir, 'missing.json')], /--config .*missing\.json: cannot read \(ENOENT\)/],
    [['fuzz', '--config', malformed], /--config .*malformed\.json: not valid JSON/],
    [['fuzz', '--config', badSection], /config\.nonsense: unknown section/],
    [['fuzz', '--config', badField], /config\.api\.nonsense: unknown field/],
    [['fuzz', '--config', badType], /config\.agent\.startSessionUs: must be \[min, max\] .*, got 5/],
    [['fuzz', '--swarm', '--no-swarm'], /contradict/],
    [['fuzz', '--max-faults', '0'], /--max-faults: must be at least 1/],
    [['fuzz', '--self-check', '-1'], /--self-check: must be a non-negative integer, got -1/],
    [['run'], /run: --seed is required/],
    [['run', '--seed', 'x'], /--seed: expected a non-negative integer/],
    [['run', '--seed', '1', '--schedule', malformed], /--schedule .*: not valid JSON/],
    [['run', '--seed', '1', '--schedule', badSchedule], /schedule\[0\]\.kind: unknown fault kind "meteor"/],
    [['list', 'planets'], /list: unknown section 'planets'/],
    [['run', '--scenario', 'r999-nothing'], /--scenario: unknown scenario 'r999-nothing' \(known: r000-/],
    [['run', '--scenario', 'r000-api-and-redis-deletion', '--faults', 'crash'], /--faults does not apply to --scenario runs/],
    [['run', '--scenario', 'r000-api-and-redis-deletion', '--profile', 'nope'], /--profile: unknown profile 'nope'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  test.each(cases)('%j', async (argv, message) => {
    const err: string[] = [];
    const code = await main(argv, () => undefined, (l) => err.push(l));
    expect(code).toBe(2);
    expect(err.length).toBe(1);
    expect(err[0]).toMatch(/^hasim: /);
    expect(err[0]).toMatch(message);
    expect(err[0]).not.toMatch(/\n|    at /);
  });
});

describe('hasim run and list', () => {
  test('run prints the case and the verdict, and --save writes a trace file that replays', async () => {
    const dir = tmp();
    const out: string[] = [];
    const save = join(dir, 'saved.json');
    const schedule = join(dir, 'schedule.json');
    writeFileSync(schedule, JSON.stringify([{ kind: 'crash', at: 150_000_000, target: { role: 'redis' } }]));
    const code = await main(['run', '--seed', '3', '--profile', 'hardened', '--schedule', schedule, '--save', save], (l) => out.push(l), () => undefined);
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/profile hardened, seed 3, 1 faults[\s\S]*crash +target=\{"role":"redis"\}[\s\S]*outcome: pass[\s\S]*trace hash [0-9a-f]{64}/);
    const replay: string[] = [];
    expect(await main(['replay', save], (l) => replay.push(l), () => undefined)).toBe(0);
  });

  test('run --timeline prints the key events and --html writes a self-contained page', async () => {
    const dir = tmp();
    const out: string[] = [];
    const html = join(dir, 'run.html');
    // The space seed 9 was found in: the seed-000 deployment and the kinds from before the pod-level ones.
    const kinds = 'crash,delete,pause,isolate,partition,link-burst,clock-jump,clock-drift,redis-restart,redis-evict,pg-write-errors,kube-api,node-failure';
    const code = await main(['run', '--seed', '9', '--profile', 'streamspace-v2', '--deployment', 'seed-000', '--faults', kinds, '--max-faults', '3', '--timeline', '--html', html], (l) => out.push(l), () => undefined);
    expect(code).toBe(1);
    const text = out.join('\n');
    expect(text).toMatch(/timeline:[\s\S]*fault kube-api[\s\S]*VIOLATION no-split-brain/);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<svg');
    expect(page).toContain('no-split-brain');
    expect(page).not.toMatch(/(src|href)="https?:/);
  });

  test('run --seed reruns exactly the case fuzz ran for that seed', async () => {
    const dir = tmp();
    await fuzz(['--profile', 'hardened', '--seeds', '1', '--seed-start', '7', '--workers', '1', '--self-check', '0', '--out', dir, '--results', join(dir, 'r.jsonl')]);
    const fuzzed = JSON.parse(results(join(dir, 'r.jsonl'))[0]!) as { hash: string };
    const out: string[] = [];
    await main(['run', '--seed', '7', '--profile', 'hardened', '--json'], (l) => out.push(l), () => undefined);
    expect((JSON.parse(out[0]!) as { hash: string }).hash).toBe(fuzzed.hash);
  }, 30_000);

  test('run --scenario runs a seed-report scenario: seed 0 is the report\'s procedure', async () => {
    const out: string[] = [];
    const code = await main(['run', '--scenario', 'r000-api-and-redis-deletion', '--json'], (l) => out.push(l), () => undefined);
    const r = JSON.parse(out[0]!) as { scenario: string; seed: number; profile: string; outcome: string; hash: string; metrics: Record<string, number | null> };
    expect(r).toMatchObject({ scenario: 'r000-api-and-redis-deletion', seed: 0, profile: 'streamspace-v2' });
    expect(code).toBe(r.outcome === 'pass' ? 0 : 1);
    expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(r.metrics)).toContain('agent-reconnect');
  });

  test('list names every section, and --json is machine-readable', async () => {
    const out: string[] = [];
    expect(await main(['list', '--json'], (l) => out.push(l), () => undefined)).toBe(0);
    const data = JSON.parse(out[0]!) as Record<string, Array<{ name: string }>>;
    expect(Object.keys(data)).toEqual(['systems', 'profiles', 'deployments', 'fixes', 'faults', 'invariants', 'scenarios']);
    expect(data['deployments']!.map((d) => d.name)).toEqual(['seed-000', 'helm-chart-default', 'helm-chart-ha', 'many-agents', 'r004-chart-autoscaling', 'r004-jewelry-shop', 'r004-redis-sentinel', 'r004-redis-sentinel-all-nodes', 'r004-patroni-async', 'r004-patroni-sync', 'r004-patroni-sync-strict', 'swarm']);
    expect(data['scenarios']!.map((s) => s.name)).toContain('r000-api-and-redis-deletion');
    expect(data['faults']!.map((f) => f.name)).toContain('node-failure');
    expect(data['invariants']!.map((f) => f.name)).toEqual(['no-split-brain', 'no-duplicate-execution', 'no-lost-commands', 'bounded-recovery', 'no-flapping', 'no-lost-session', 'revocation', 'hpa-converges', 'no-lost-acknowledged-write']);
    expect(data['fixes']!.map((f) => f.name)).toEqual(DESIGN_FIXES.map((f) => f.name));
  });
});

describe('Ctrl-C', () => {
  // The real process and the real signal: a campaign interrupted mid-shrink still prints its summary,
  // and its counterexample is a valid trace file on disk.
  test('SIGINT stops the campaign cleanly with the findings on disk', async () => {
    const dir = tmp();
    const bin = fileURLToPath(new URL('../../bin/hasim.mjs', import.meta.url));
    const child = spawn(process.execPath, [bin, 'fuzz', '--profile', 'streamspace-v2', '--budget', '1h', '--workers', '1', '--out', dir, '--results', join(dir, 'r.jsonl')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const found = new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('found ')) resolve();
    }));
    await found;
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('interrupted: finishing the seeds in flight');
    expect(stdout).toMatch(/seeds \(interrupted\)[\s\S]*no-lost-commands/);
    const file = /npx hasim replay (\S+)/.exec(stdout)![1]!;
    expect(readTraceFile(file, SYSTEMS).expectations[0]!.outcome).toBe('no-lost-commands');
    expect(readFileSync(join(dir, 'r.jsonl'), 'utf8').length).toBeGreaterThan(0);
  }, 60_000);
});
