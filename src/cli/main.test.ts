import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
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
