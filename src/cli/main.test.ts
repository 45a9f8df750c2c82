import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { runSampleCluster } from '../sim-cluster/sample-cluster.ts';
import { SECOND } from '../sim-cluster/time.ts';
import { main } from './main.ts';

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

describe('hasim help and version', () => {
  test.each([[[]], [['help']], [['--help']], [['-h']]])('%j prints every command and its flags, exit 0', async (argv) => {
    const r = await cli(...argv);
    expect(r.code).toBe(0);
    const help = r.out.join('\n');
    for (const command of ['fuzz', 'run', 'list', 'replay', 'explain', 'report', 'sample', 'version', 'help']) {
      expect(help).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    for (const flag of ['--seeds', '--budget', '--shard', '--workers', '--junit', '--scenario', '--timeline', '--html']) expect(help).toContain(flag);
  });

  test('version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const argv of [['version'], ['--version']]) expect((await cli(...argv)).out).toEqual([pkg.version]);
  });
});

describe('hasim CLI (kernel commands)', () => {
  test('sample prints the same hash as the library, as JSON', async () => {
    const r = await cli('sample', '--seed', '5', '--duration', '30s', '--json');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out[0]!);
    expect(summary.hash).toBe(runSampleCluster(5, 30 * SECOND).hash);
    expect(summary.status).toBe('until-reached');
  });

  test('sample --trace writes the JSON Lines trace', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hasim-')), 'trace.jsonl');
    const r = await cli('sample', '--seed', '2', '--duration', '5s', '--trace', file, '--json');
    expect(r.code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.length).toBe(JSON.parse(r.out[0]!).traceEvents);
    expect(JSON.parse(lines[0]!)).toMatchObject({ t: 0, k: 'proc.start' });
  });

  test.each([
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['sample', '--bogus'], "Unknown option '--bogus'"],
    [['sample', '--seed', 'abc'], "--seed: expected a non-negative integer, got 'abc'"],
    [['sample', '--duration', '10 minutes'], '--duration: expected a duration'],
    [['sample', '--duration', '48h'], '--duration: at most 24h'],
    [['sample', 'extra'], "unexpected argument 'extra'"],
  ])('bad input %j: one line naming the problem, exit 2', async (argv, message) => {
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.err.length).toBe(1);
    expect(r.err[0]).toContain(message);
    expect(r.out).toEqual([]);
  });

  test('the installed bin runs from a fresh process', () => {
    const bin = fileURLToPath(new URL('../../bin/hasim.mjs', import.meta.url));
    const out = execFileSync(process.execPath, [bin, 'sample', '--seed', '5', '--duration', '30s', '--json'], { encoding: 'utf8' });
    expect(JSON.parse(out).hash).toBe(runSampleCluster(5, 30 * SECOND).hash);
  });
});

describe('hasim replay', () => {
  const trace = fileURLToPath(new URL('../../traces/redis-restart-loses-routing.json', import.meta.url));

  test('a corpus trace replays: outcome and hash match under every profile, exit 0', async () => {
    const r = await cli('replay', trace, '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out[0]!);
    expect(out.match).toBe(true);
    expect(out.results.map((x: { profile: string; outcome: string }) => [x.profile, x.outcome])).toEqual([['streamspace-v2', 'bounded-recovery'], ['hardened', 'pass']]);
  });

  test('a trace whose hash no longer matches exits 1 and says MISMATCH', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hasim-'));
    const data = JSON.parse(readFileSync(trace, 'utf8'));
    data.expectations[1].hash = '0'.repeat(64);
    writeFileSync(join(dir, 't.json'), JSON.stringify(data));
    const r = await cli('replay', join(dir, 't.json'));
    expect(r.code).toBe(1);
    expect(r.out.some((l) => l.startsWith('[MISMATCH] hardened'))).toBe(true);
  });

  const bad = (mutate: (t: Record<string, unknown>) => unknown): string => {
    const dir = mkdtempSync(join(tmpdir(), 'hasim-'));
    const data = mutate(JSON.parse(readFileSync(trace, 'utf8')));
    writeFileSync(join(dir, 'bad.json'), typeof data === 'string' ? data : JSON.stringify(data));
    return join(dir, 'bad.json');
  };
  test.each([
    ['missing file', () => '/nonexistent/trace.json', 'cannot read (ENOENT)'],
    ['malformed JSON', () => bad(() => '{ not json'), 'not valid JSON'],
    ['not a trace', () => bad(() => ({ hello: 1 })), 'not a hasim trace file'],
    ['future version', () => bad((t) => ({ ...t, version: 99 })), 'format version 99 is newer than this build reads'],
    ['fractional version', () => bad((t) => ({ ...t, version: 1.5 })), 'unknown format version 1.5'],
    ['version 0', () => bad((t) => ({ ...t, version: 0 })), 'unknown format version 0'],
    ['unknown fault kind', () => bad((t) => ({ ...t, schedule: [{ kind: 'meteor', at: 0 }] })), "schedule[0].kind: unknown fault kind \"meteor\""],
    ['unknown profile', () => bad((t) => ({ ...t, expectations: [{ profile: 'nope', outcome: 'pass', hash: '0'.repeat(64) }] })), 'expectations[0].profile: unknown profile "nope"'],
  ])('%s: one line naming the problem, exit 2', async (_what, file, message) => {
    const r = await cli('replay', file());
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toContain(message);
  });
});
