import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import type { SeedResult } from './campaign/tasks.ts';
import type { Executor } from './campaign/executor.ts';
import { fuzzCommand } from './fuzz-command.ts';
import { FUZZ_HELP, REPORT_HELP, RUN_HELP } from './help.ts';
import { main } from './main.ts';
import { reportCommand } from './report-command.ts';
import { STREAMSPACE_REPORT } from '../systems/streamspace/scenarios/report.ts';

const REPORT_FILE = STREAMSPACE_REPORT.file;
import { reportDocument, reportTitle } from './report/document.ts';
import { collectReport } from './report/execute.ts';
import { renderHtml } from './report/html.ts';
import { renderMarkdown } from './report/markdown.ts';
import { findScenario } from '../systems/streamspace/scenarios/index.ts';
import { streamspace } from '../systems/index.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'hasim-conventions-'));

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

describe('help', () => {
  test.each([
    [['fuzz', '--help'], FUZZ_HELP],
    [['fuzz', '-h'], FUZZ_HELP],
    [['help', 'fuzz'], FUZZ_HELP],
    [['--help', 'fuzz'], FUZZ_HELP],
    [['run', '--seed', '3', '--help'], RUN_HELP],
    [['report', '--seeds', '-5', '-h'], REPORT_HELP], // help wins over flags it would refuse
  ])('%j prints that command\'s help and exits 0', async (argv, text) => {
    const r = await cli(...argv);
    expect(r).toEqual({ code: 0, out: [text], err: [] });
  });

  test('every listed command has help, as text and as JSON', async () => {
    const list = await cli('help', '--json');
    expect(list.code).toBe(0);
    const { commands, version, exitCodes } = JSON.parse(list.out[0]!) as { commands: Array<{ name: string; summary: string }>; version: string; exitCodes: Record<string, string> };
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Object.keys(exitCodes)).toEqual(['0', '1', '2', '3', '130']);
    const names = commands.map((c) => c.name);
    for (const n of ['fuzz', 'run', 'list', 'replay', 'explain', 'report', 'sample', 'version', 'help']) expect(names).toContain(n);
    for (const c of commands.filter((x) => x.name !== 'help')) {
      const text = await cli(c.name, '--help');
      expect(text.code, c.name).toBe(0);
      expect(text.out[0], c.name).toMatch(new RegExp(`^hasim ${c.name}`));
      const json = await cli('help', c.name, '--json');
      expect(JSON.parse(json.out[0]!)).toMatchObject({ command: c.name, summary: c.summary, help: text.out[0] });
    }
  });

  test('a `--help` after `--` is an argument, not a request for help', async () => {
    const r = await cli('list', '--', '--help');
    expect(r.code).toBe(2);
    expect(r.err).toEqual(["hasim: list: unknown section '--help' (known: systems, profiles, deployments, fixes, faults, invariants, scenarios)"]);
  });

  test('the main help names every exit code', async () => {
    expect((await cli('help')).out[0]).toMatch(/0 ran and found nothing wrong[\s\S]*1 a violation[\s\S]*2 bad usage[\s\S]*3 an internal error[\s\S]*130 interrupted/);
  });
});

describe('--json everywhere', () => {
  test.each([
    [['version', '--json'], { version: JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version }],
    [['--version', '--json'], { version: JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version }],
  ])('%j', async (argv, expected) => {
    const r = await cli(...argv);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out[0]!)).toEqual(expected);
  });

  test.each([
    [['list', 'profiles', '--json']],
    [['sample', '--seed', '1', '--duration', '5s', '--json']],
    [['run', '--seed', '0', '--max-faults', '1', '--json']],
  ])('%j prints one JSON object and nothing else', async (argv) => {
    const r = await cli(...argv);
    expect(r.out).toHaveLength(1);
    expect(typeof JSON.parse(r.out[0]!)).toBe('object');
  });
});

/** A synthetic seed result: violating when `outcome` is an invariant. */
const seedResult = (seed: number, outcome = 'pass'): SeedResult => ({
  seed, outcome, hash: `${seed}`.padStart(64, '0'), steps: 10, simUs: 1_000_000, faults: 0,
  violation: outcome === 'pass' ? null : { invariant: outcome, time: 1, message: `synthetic ${outcome}` },
  modelFailure: null, schedule: outcome === 'pass' ? null : [],
});

/** An executor whose listed seeds finish at once and whose other tasks never finish (they wait to be abandoned). */
function stuckExecutor(done: Record<number, string>, seen: { workers?: number } = {}) {
  return (workers: number): Executor => {
    seen.workers = workers;
    return {
      concurrency: 2,
      run: (task) => task.type === 'run' && task.seed in done ? Promise.resolve({ type: 'run', result: seedResult(task.seed, done[task.seed]) }) : new Promise(() => undefined),
      close: async () => undefined,
    };
  };
}

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('--workers and --jobs are capped at the work there is', () => {
  test.each([
    [['--seeds', '2', '--workers', '16'], 2],
    [['--seeds', '3', '--shard', '3/3', '--workers', '16'], 1],
    [['--seeds', '0', '--workers', '16'], 1],
    [['--seeds', '100', '--workers', '16'], 16],
    [['--budget', '1s', '--seeds', '0', '--workers', '5'], 1],
  ])('fuzz %j starts %i threads', async (args, expected) => {
    const seen: { workers?: number } = {};
    const err: string[] = [];
    const io = { out: () => undefined, err: (l: string) => err.push(l), executor: stuckExecutor(Object.fromEntries([...Array(100).keys()].map((s) => [s, 'pass'])), seen) };
    await fuzzCommand([...args, '--self-check', '0', '--out', tmp()], io);
    expect(seen.workers).toBe(expected);
    expect(err[0]).toContain(`${expected} worker${expected === 1 ? '' : 's'}`);
  });

  test('report: one thread per batch at most', async () => {
    const out: string[] = [];
    expect(await reportCommand(['--scenario', 'r002-heartbeat-timing', '--seeds', '2', '--profiles', 'hardened', '--jobs', '8', '--out', tmp()], (l) => out.push(l), { err: () => undefined })).toBe(0);
    expect(out[0]).toMatch(/with 1 worker\(s\)$/);
  }, 20_000);
});

describe('interrupts', () => {
  test('fuzz: a second interrupt abandons the seeds in flight and still writes --results, --junit and the summary', async () => {
    const dir = tmp();
    const signal = new EventTarget();
    const out: string[] = [];
    const err: string[] = [];
    // Seeds 0 and 1 finish (0 violates); seeds 2 and 3 and the shrink of seed 0 never do.
    const running = fuzzCommand(['--profile', 'streamspace-v2', '--seeds', '100', '--self-check', '0', '--out', join(dir, 'found'), '--results', join(dir, 'r.jsonl'), '--junit', join(dir, 'j.xml')], {
      out: (l) => out.push(l), err: (l) => err.push(l), signal, executor: stuckExecutor({ 0: 'no-lost-commands', 1: 'pass' }),
    });
    await settle(50);
    signal.dispatchEvent(new Event('abort'));
    await settle(50);
    expect(err.some((l) => l.startsWith('interrupted: finishing the seeds in flight'))).toBe(true);
    signal.dispatchEvent(new Event('abort'));
    const code = await running;
    expect(code).toBe(1); // a violation was found before the interrupt
    expect(err.some((l) => l.startsWith('interrupted again: abandoning the seeds in flight'))).toBe(true);
    expect(readFileSync(join(dir, 'r.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { seed: number }).seed)).toEqual([0, 1]);
    expect(readFileSync(join(dir, 'j.xml'), 'utf8')).toMatch(/<failure message="1 of 2 seeds violate no-lost-commands">/);
    const summary = out.join('\n');
    expect(summary).toMatch(/2 seeds \(interrupted\), 1 passed, 1 violating/);
    expect(summary).toMatch(/no-lost-commands +1 +0 +unshrunk +npx hasim replay .*no-lost-commands-streamspace-v2-[0-9a-f]{6}-seed-0\.json/);
  }, 10_000);

  test('fuzz: interrupted twice with nothing found is exit 130, with the summary', async () => {
    const signal = new EventTarget();
    const out: string[] = [];
    const running = fuzzCommand(['--seeds', '100', '--self-check', '0', '--out', tmp(), '--json'], {
      out: (l) => out.push(l), err: () => undefined, signal, executor: stuckExecutor({ 0: 'pass' }),
    });
    await settle(50);
    signal.dispatchEvent(new Event('abort'));
    signal.dispatchEvent(new Event('abort'));
    expect(await running).toBe(130);
    expect(JSON.parse(out[0]!)).toMatchObject({ seedsRun: 1, passed: 1, interrupted: true });
  }, 10_000);

  const reportArgs = (dir: string, jobs: number, seeds = 400): string[] => ['--scenario', 'r002-heartbeat-timing', '--seeds', String(seeds), '--profiles', 'hardened', '--jobs', String(jobs), '--out', dir, '--json'];

  test('report: an interrupt stops starting runs and writes a report marked partial (title, first paragraph, JSON), exit 130', async () => {
    const dir = tmp();
    const signal = new EventTarget();
    const out: string[] = [];
    const err: string[] = [];
    const running = reportCommand(reportArgs(dir, 1), (l) => out.push(l), { err: (l) => err.push(l), signal });
    await settle(400);
    signal.dispatchEvent(new Event('abort'));
    expect(await running).toBe(130);
    expect(err).toEqual(['interrupted: finishing the runs in flight, then writing a partial report; interrupt again to stop now']);
    const summary = JSON.parse(out[0]!) as { partial: boolean; runs: { done: number; planned: number } };
    expect(summary.partial).toBe(true);
    expect(summary.runs.planned).toBe(400);
    expect(summary.runs.done).toBeGreaterThan(0);
    expect(summary.runs.done).toBeLessThan(400);
    const md = readFileSync(join(dir, `${REPORT_FILE}.md`), 'utf8');
    expect(md.split('\n')[0]).toBe('# The StreamSpace seed reports, rerun as seeded simulations (PARTIAL: interrupted)');
    expect(md).toContain(`**Partial report: interrupted after ${summary.runs.done} of 400 runs.**`);
    expect(md).toContain(`${summary.runs.done} runs of 400 planned`);
    expect(readFileSync(join(dir, `${REPORT_FILE}.html`), 'utf8')).toContain('(PARTIAL: interrupted)');
  }, 20_000);

  test('report: a second interrupt abandons the batches in flight on the worker threads', async () => {
    const dir = tmp();
    const signal = new EventTarget();
    const out: string[] = [];
    const err: string[] = [];
    const running = reportCommand(reportArgs(dir, 2, 2000), (l) => out.push(l), { err: (l) => err.push(l), signal });
    await settle(300);
    const t0 = performance.now();
    signal.dispatchEvent(new Event('abort'));
    signal.dispatchEvent(new Event('abort'));
    expect(await running).toBe(130);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(err[1]).toBe('interrupted again: abandoning the runs in flight; writing a partial report');
    expect(JSON.parse(out[0]!)).toMatchObject({ partial: true, runs: { planned: 2000 } });
  }, 20_000);

  // The real process and the real signals: what a user's Ctrl-C does.
  const bin = fileURLToPath(new URL('../../bin/hasim.mjs', import.meta.url));
  /** Runs the command, waits `afterMs` or until stderr contains `ready`, then sends `signals` SIGINTs. */
  async function interrupted(argv: string[], afterMs: number, signals: number, ready?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [bin, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let isReady: () => void = () => undefined;
    const readyNow = new Promise<void>((resolve) => (isReady = resolve));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (ready !== undefined && stderr.includes(ready)) isReady();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await (ready === undefined ? settle(afterMs) : readyNow);
    for (let i = 0; i < signals; i++) {
      child.kill('SIGINT');
      await settle(100);
    }
    return { code: await exited, stdout, stderr };
  }

  test('hasim report: Ctrl-C on a one-thread report writes a partial report, exit 130', async () => {
    const dir = tmp();
    const r = await interrupted(['report', ...reportArgs(dir, 1)], 1_500, 1);
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('interrupted: finishing the runs in flight');
    expect(JSON.parse(r.stdout)).toMatchObject({ partial: true, runs: { planned: 400 } });
    expect(readFileSync(join(dir, `${REPORT_FILE}.md`), 'utf8')).toMatch(/^# .*\(PARTIAL: interrupted\)/);
  }, 30_000);

  test('hasim fuzz: a second Ctrl-C still writes --results, --junit and the summary', async () => {
    const dir = tmp();
    const r = await interrupted(['fuzz', '--profile', 'streamspace-v2', '--budget', '1h', '--workers', '2', '--out', dir, '--results', join(dir, 'r.jsonl'), '--junit', join(dir, 'j.xml')], 0, 2, 'found ');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('interrupted again: abandoning the seeds in flight');
    expect(r.stdout).toMatch(/seeds \(interrupted\)[\s\S]*no-lost-commands/);
    expect(readFileSync(join(dir, 'r.jsonl'), 'utf8').length).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'j.xml'), 'utf8')).toContain('no-lost-commands');
  }, 30_000);

  test('report: stopped before any run, the partial report still renders', async () => {
    const data = await collectReport({ system: streamspace, scenarios: [findScenario('r002-heartbeat-timing')!], profiles: ['hardened'], firstSeed: 0, seeds: 10, jobs: 1, commit: 'test' }, { stop: AbortSignal.abort() });
    expect(data.partial).toEqual({ runs: 0, planned: 10 });
    const blocks = reportDocument(data);
    expect(renderMarkdown(blocks)).toContain('interrupted after 0 of 10 runs');
    expect(renderHtml(blocks, reportTitle(data))).toContain('(PARTIAL: interrupted)');
  });
});
