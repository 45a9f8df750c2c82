import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readTraceFile } from '../harness/trace-file.ts';
import { SYSTEMS } from '../systems/index.ts';
import type { Executor } from './campaign/executor.ts';
import { runTask, type Task } from './campaign/tasks.ts';
import { fuzzCommand } from './fuzz-command.ts';
import { TRIAGE_HELP } from './help.ts';
import { main } from './main.ts';
import { triageCommand } from './triage-command.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'hasim-triage-'));

/**
 * Runs tasks in this thread, `concurrency` at a time in name only: each task settles after a number
 * of event-loop turns that depends on it, so tasks finish in another order than they started.
 */
const inline = (concurrency: number, scramble: boolean) => (): Executor => ({
  concurrency,
  run: async (task: Task) => {
    const turns = scramble ? (task.seed * 7919 + task.type.length) % 7 : 0;
    for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
    return runTask(task);
  },
  close: async () => undefined,
});

interface Bugs {
  bugs: Array<{ id: string; signature: string; invariant: string; count: number; lowestSeed: number; seeds: number[]; file: string; replay: string; removedBy: string[]; context: string[]; faults: { found: number; minimal: number } }>;
}

/** A small as-built campaign: every seed fails, and its failing seeds hold more than one bug. */
const CAMPAIGN = ['--profile', 'streamspace-v2', '--seeds', '5', '--max-faults', '2', '--max-shrink-runs', '60', '--self-check', '0', '--json'];

async function fuzz(dir: string, workers: number, scramble: boolean): Promise<{ code: number; summary: Bugs }> {
  const out: string[] = [];
  const code = await fuzzCommand([...CAMPAIGN, '--workers', String(workers), '--out', dir], { out: (l) => out.push(l), err: () => undefined, env: {}, executor: inline(workers, scramble) });
  return { code, summary: JSON.parse(out.at(-1)!) as Bugs };
}

async function triage(argv: string[], executor = inline(2, true)): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await triageCommand(argv, { out: (l) => out.push(l), err: (l) => err.push(l), executor });
  return { code, out, err };
}

const shape = (b: Bugs) => b.bugs.map((x) => ({ id: x.id, count: x.count, seeds: x.seeds, lowestSeed: x.lowestSeed, context: x.context, faults: x.faults, file: x.file.split('/').at(-1) }));

describe('hasim fuzz triage and hasim triage on the model', () => {
  const first = tmp();
  const run1 = fuzz(first, 1, false);

  test('two campaigns over the same seeds give the same bugs, whatever the worker count and the order runs finish in', async () => {
    const a = await run1;
    const b = await fuzz(tmp(), 3, true);
    expect(a.code).toBe(1);
    expect(shape(b.summary)).toEqual(shape(a.summary));
    expect(a.summary.bugs.length).toBeGreaterThanOrEqual(2);
    // Every bug's counterexample replays; every one was shrunk with delta debugging first, the
    // invariants' examples (the first bugs) and triage's shrinks alike.
    for (const bug of a.summary.bugs) {
      const replay: string[] = [];
      expect(await main(['replay', bug.file], (l) => replay.push(l), () => undefined), bug.file).toBe(0);
      const trace = readTraceFile(bug.file, SYSTEMS);
      expect(trace.expectations[0]!.outcome).toBe(bug.invariant);
      expect(trace.found?.['ddminRuns'], bug.file).toEqual(expect.any(Number));
    }
  }, 60_000);

  test('hasim triage DIR regroups the campaign\'s findings into the same bugs, reusing its shrunk cases', async () => {
    const campaign = (await run1).summary;
    const r = await triage([first, '--json']);
    expect(r.code).toBe(1);
    const t = JSON.parse(r.out[0]!) as Bugs & { changed: unknown[]; triage: { shrinks: number }; seeds: number };
    expect(t.changed).toEqual([]);
    expect(t.seeds).toBe(5);
    expect(shape(t)).toEqual(shape(campaign));
    expect(t.triage.shrinks).toBe(0);
    const text = await triage([first]);
    expect(text.out[0]).toMatch(new RegExp(`^hasim triage ${first}: 5 recorded failing seeds, 5 failing now, ${campaign.bugs.length} distinct bugs$`));
    expect(text.out.join('\n')).toContain(`npx hasim replay ${campaign.bugs[0]!.file}`);
  }, 60_000);
});

describe('hasim triage: input', () => {
  test('a directory without failing seeds has no bug: exit 0', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'violations.jsonl'), '');
    const r = await triage([dir]);
    expect(r).toMatchObject({ code: 0, out: [`hasim triage ${dir}: no failing seeds`] });
  });

  const root = tmp();
  const corrupt = (name: string, content: string | null): string => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    if (content !== null) writeFileSync(join(dir, 'violations.jsonl'), content);
    return dir;
  };
  const space = (profile: string) => JSON.stringify({ profile, maxFaults: 1 });
  const cases: Array<[string[], RegExp]> = [
    [[], /triage: expected one findings directory/],
    [[join(root, 'nowhere')], /nowhere: no such directory/],
    [[corrupt('empty-dir', null)], /no violations\.jsonl \(not a findings directory of hasim fuzz\)/],
    [[corrupt('bad-json', '{"seed": 1, "outc')], /violations\.jsonl:1: not valid JSON/],
    [[corrupt('bad-seed', '{"seed":-1,"outcome":"no-split-brain","hash":"ab"}\n')], /violations\.jsonl:1: seed must be a non-negative integer, got -1/],
    [[corrupt('bad-space', '{"seed":1,"outcome":"no-split-brain","hash":"ab","space":{"profile":"nope"}}\n')], /violations\.jsonl:1: the recorded case space does not resolve \(unknown profile 'nope'/],
    [[corrupt('no-space', '{"seed":1,"outcome":"no-split-brain","hash":"ab"}\n')], /violations\.jsonl:1: neither a space nor a rerun command/],
    [[corrupt('two-spaces', `{"seed":1,"outcome":"no-split-brain","hash":"ab","space":${space('hardened')}}\n{"seed":2,"outcome":"no-split-brain","hash":"ab","space":${space('streamspace-v2')}}\n`)], /holds the seeds of campaigns over 2 case spaces \(digests [0-9a-f]{6}, [0-9a-f]{6}\): choose one with --digest/],
    [[corrupt('digest', `{"seed":1,"outcome":"no-split-brain","hash":"ab","space":${space('hardened')}}\n`), '--digest', 'ffffff'], /--digest ffffff: no seeds of that case space/],
    [[root, '--max-bugs', '0'], /--max-bugs: must be at least 1/],
  ];
  test.each(cases)('%j is bad input: one line, exit 2', async (argv, message) => {
    const err: string[] = [];
    const code = await main(['triage', ...argv], () => undefined, (l) => err.push(l));
    expect(code).toBe(2);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^hasim: /);
    expect(err[0]).toMatch(message);
  });

  test('--help prints the command\'s help', async () => {
    const out: string[] = [];
    expect(await main(['triage', '--help'], (l) => out.push(l), () => undefined)).toBe(0);
    expect(out).toEqual([TRIAGE_HELP]);
  });

  test('--budget: no run starts after it; seeds not rerun and rounds cut short are reported, never a complete triage; exit 1', async () => {
    // Four fault-free as-built seeds, each failing no-lost-commands, recorded as a campaign records them.
    const dir = tmp();
    const space = { profile: 'streamspace-v2', maxFaults: 1, kinds: [] };
    const lines = [0, 1, 2, 3].map((seed) => {
      const r = runTask({ type: 'run', system: 'streamspace', space, seed });
      if (r.type !== 'run') throw new Error('expected a run');
      return JSON.stringify({ seed, outcome: r.result.outcome, hash: r.result.hash, system: 'streamspace', space });
    });
    writeFileSync(join(dir, 'violations.jsonl'), lines.join('\n') + '\n');
    // A clock that moves one millisecond per task started: the budget ends at task k whatever the machine.
    const budgeted = async (k: number): Promise<{ code: number; json: Record<string, unknown>; started: number }> => {
      let t = 0;
      const inner = inline(1, false)();
      const executor = (): Executor => ({ ...inner, run: (task, signal) => {
        t++;
        return inner.run(task, signal);
      } });
      const out: string[] = [];
      const code = await triageCommand([dir, '--budget', `${k}ms`, '--workers', '1', '--json'], { out: (l) => out.push(l), err: () => undefined, executor, now: () => t });
      return { code, json: JSON.parse(out[0]!) as Record<string, unknown>, started: t };
    };
    // Two reruns start (two at once for one worker), then the budget has ended: nothing else starts.
    const early = await budgeted(2);
    expect(early.started).toBe(2);
    expect(early.code).toBe(1);
    expect(early.json).toMatchObject({ unchecked: [2, 3], failing: 2, bugs: [], triage: { complete: false, deadlineReached: true, runs: 0 } });
    // Seed 0's first round: its fault-free schedule is minimal already, but the run that gives its verdict was refused.
    expect((early.json['triage'] as { unfinished: unknown[] }).unfinished).toEqual([
      { invariant: 'no-lost-commands', seed: 0, context: [], stage: 'signature', faultsFound: 0, faultsSoFar: 0 },
    ]);
    expect(early.json['unclassified']).toEqual([{ invariant: 'no-lost-commands', count: 2, seeds: [0, 1] }]);
    expect(JSON.parse(readFileSync(join(dir, 'bugs.json'), 'utf8'))).toMatchObject({ complete: false, deadlineReached: true });
    // Every seed rerun, triage cut while it attributes or counts: what it found is what an unbudgeted triage finds.
    const whole = await triage([dir, '--json'], inline(1, false));
    const all = JSON.parse(whole.out[0]!) as Bugs & { triage: { complete: boolean } };
    expect(all.triage.complete).toBe(true);
    const later = await budgeted(10);
    expect(later.code).toBe(1);
    expect(later.json).toMatchObject({ unchecked: [], failing: 4, triage: { complete: false, deadlineReached: true } });
    for (const b of (later.json as unknown as Bugs).bugs) expect(all.bugs.map((x) => x.signature)).toContain(b.signature);
    // A budget it does not reach changes nothing.
    const ample = await budgeted(1_000_000);
    expect(ample.json).toMatchObject({ unchecked: [], triage: { complete: true, deadlineReached: false, unfinished: [] } });
    expect(shape(ample.json as unknown as Bugs)).toEqual(shape(all));
  }, 60_000);

  test('a seed that no longer fails is named and left out', async () => {
    // Seed 0 of a fault-free hardened space passes; the line says it failed.
    const dir = tmp();
    writeFileSync(join(dir, 'violations.jsonl'), `${JSON.stringify({ seed: 0, outcome: 'no-lost-commands', hash: 'ab'.repeat(32), space: { profile: 'hardened', maxFaults: 1, kinds: [] } })}\n`);
    const r = await triage([dir, '--json']);
    expect(r.code).toBe(0);
    const t = JSON.parse(r.out[0]!) as { changed: Array<{ seed: number; now: { outcome: string } }>; bugs: unknown[]; failing: number };
    expect(t.changed).toMatchObject([{ seed: 0, now: { outcome: 'pass' } }]);
    expect(t).toMatchObject({ failing: 0, bugs: [] });
    expect(r.err.join('\n')).toContain('seed 0 changed since the campaign: no-lost-commands');
    expect(readdirSync(dir)).toContain('bugs.json');
    expect(JSON.parse(readFileSync(join(dir, 'bugs.json'), 'utf8'))).toMatchObject({ format: 'hasim-bugs', bugs: [] });
  }, 30_000);
});
