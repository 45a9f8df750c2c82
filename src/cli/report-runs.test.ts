import { existsSync, mkdtempSync, readFileSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { main } from './main.ts';
import { reportCommand } from './report-command.ts';
import { HAKGAL_REPORT } from '../systems/hakgal/scenarios/report.ts';
import type { RunLine } from './report/runs-file.ts';

/**
 * `hasim report --runs FILE`, `--shard K/N` and `--from FILE...`: a report run in pieces (killed,
 * resumed, sharded) and merged is the report of the same seeds run at once, byte for byte. The
 * cheapest scenarios there are (HAK_GAL's, tens of ms a run) on this thread (--jobs 1).
 */

const plan = (scenarios: string): string[] => ['--system', 'hakgal', '--scenario', scenarios, '--jobs', '1'];
const PLAN = plan('r001-single-session-as-written,r001-two-pods');
const ONE = plan('r001-single-session-as-written');

async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'hasim-report-runs-'));
const reportOf = (dir: string): { md: string; html: string } => ({
  md: readFileSync(join(dir, `${HAKGAL_REPORT.file}.md`), 'utf8'),
  html: readFileSync(join(dir, `${HAKGAL_REPORT.file}.html`), 'utf8'),
});
const linesOf = (file: string): RunLine[] => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RunLine);

describe('hasim report in pieces', () => {
  test('two shards\' runs files merged with --from give the report of the same seeds run directly, byte for byte', async () => {
    const dir = tmp();
    const direct = await run(['report', ...PLAN, '--seeds', '5', '--out', join(dir, 'direct')]);
    expect(direct.code).toBe(1); // as built, the two-pods scenario breaks an invariant
    const shards = await Promise.all(['1/2', '2/2'].map((k, i) => run(['report', ...PLAN, '--seeds', '5', '--shard', k, '--runs', join(dir, `shard-${i + 1}.jsonl`)])));
    expect(shards.map((s) => s.code)).toEqual([1, 1]);
    expect(shards[0]!.out[0]).toMatch(/^shard 1\/2: 12 runs \(2 scenarios x 2 profiles x 3 seeds\)/);
    expect(shards[1]!.out[0]).toMatch(/^shard 2\/2: 8 runs \(2 scenarios x 2 profiles x 2 seeds\)/);
    // Shards are disjoint and together the whole: every N-th seed from offset K-1.
    const seeds = (f: string): number[] => [...new Set(linesOf(join(dir, f)).map((l) => l.seed))].sort();
    expect(seeds('shard-1.jsonl')).toEqual([0, 2, 4]);
    expect(seeds('shard-2.jsonl')).toEqual([1, 3]);

    // Nothing is run: no --seeds, --scenario or --profiles either; the files say which.
    const merged = await run(['report', '--from', join(dir, 'shard-2.jsonl'), join(dir, 'shard-1.jsonl'), '--out', join(dir, 'merged'), '--json']);
    expect(merged.code).toBe(1);
    expect(JSON.parse(merged.out[0]!)).toMatchObject({ partial: false, seeds: [0, 4], runs: { done: 20, planned: 20 }, leftOut: 0 });
    expect(reportOf(join(dir, 'merged'))).toEqual(reportOf(join(dir, 'direct')));
  }, 20_000);

  test('a killed report resumes: the runs in its file are not run again, a line cut off mid-write is, and the report is the direct one', async () => {
    const dir = tmp();
    const file = join(dir, 'runs.jsonl');
    await run(['report', ...PLAN, '--seeds', '3', '--runs', file, '--out', join(dir, 'first')]);
    expect(linesOf(file)).toHaveLength(12);
    // A kill during the write of the last line: the file ends in part of a line.
    const text = readFileSync(file, 'utf8');
    truncateSync(file, Buffer.byteLength(text) - 40);
    const resumed = await run(['report', ...PLAN, '--seeds', '4', '--runs', file, '--out', join(dir, 'resumed')]);
    expect(resumed.err).toEqual([`${file}: its last line was cut off mid-write (a killed report); that run is run again`]);
    expect(resumed.out[0]).toMatch(/^16 runs \(2 scenarios x 2 profiles x 4 seeds\) in [\d.]+ s with 1 worker\(s\); 11 were in .*runs\.jsonl, 5 appended$/);
    const lines = linesOf(file);
    expect(lines).toHaveLength(16);
    expect(new Set(lines.map((l) => `${l.scenario}/${l.profile}/${l.seed}`)).size).toBe(16);
    // Every run once more from the file: nothing left to run.
    const again = await run(['report', ...PLAN, '--seeds', '4', '--runs', file, '--out', join(dir, 'again')]);
    expect(again.out[0]).toMatch(/; 16 were in .*, 0 appended$/);
    await run(['report', ...PLAN, '--seeds', '4', '--out', join(dir, 'direct')]);
    expect(reportOf(join(dir, 'resumed'))).toEqual(reportOf(join(dir, 'direct')));
    expect(reportOf(join(dir, 'again'))).toEqual(reportOf(join(dir, 'direct')));
  }, 20_000);

  test('an interrupt stops the runs; every one that finished is in the file, and the rerun completes it', async () => {
    const dir = tmp();
    const file = join(dir, 'runs.jsonl');
    const stop = new AbortController();
    const out: string[] = [];
    let lines = 0;
    const running = reportCommand([...PLAN, '--seeds', '50', '--runs', file, '--out', dir, '--json'], (l) => out.push(l), { err: () => undefined, signal: stop.signal });
    // Stop once the first runs are on disk (flushed as each finishes, not at the end).
    while (lines < 6) {
      await new Promise((r) => setTimeout(r, 20));
      try {
        lines = readFileSync(file, 'utf8').split('\n').length - 1;
      } catch {
        lines = 0;
      }
    }
    stop.abort();
    expect(await running).toBeOneOf([1, 130]);
    const summary = JSON.parse(out[0]!) as { partial: boolean; runs: { done: number; planned: number }; appended: number };
    expect(summary).toMatchObject({ partial: true, runs: { planned: 200 } });
    expect(linesOf(file)).toHaveLength(summary.runs.done);
    expect(summary.appended).toBe(summary.runs.done);
    expect(reportOf(dir).md.split('\n')[0]).toBe(`# ${HAKGAL_REPORT.title} (PARTIAL: interrupted)`);
  }, 20_000);

  test('runs missing from the files: the report is partial, names them, and says over how many seeds each claim holds', async () => {
    const dir = tmp();
    const file = join(dir, 'shard-1.jsonl');
    await run(['report', ...ONE, '--seeds', '4', '--shard', '1/2', '--runs', file]);
    const r = await run(['report', '--from', file, '--out', dir]);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([
      'PARTIAL (missing runs): 4 of 8 runs (1 scenarios x 2 profiles x 4 seeds) from 1 runs file',
      '  r001-single-session-as-written under as-built: seeds 0-3 requested, 2 present (missing 1, 3)',
      '  r001-single-session-as-written under hardened: seeds 0-3 requested, 2 present (missing 1, 3)',
      `wrote ${join(dir, HAKGAL_REPORT.file)}.md and ${join(dir, HAKGAL_REPORT.file)}.html (marked partial)`,
    ]);
    const { md } = reportOf(dir);
    expect(md.split('\n')[0]).toBe(`# ${HAKGAL_REPORT.title} (PARTIAL: 4 of 8 runs)`);
    expect(md).toContain('**Partial report: the runs files hold 4 of the 8 runs requested.**');
    expect(md).toContain('- r001-single-session-as-written under hardened: seeds 0-3 requested, 2 present (missing 1, 3)');
    expect(md).toMatch(/\| \d+% \(\d\/\d\); over 2 seeds \|/);
    // Flags choose what the report is of; runs outside it are left out and counted.
    const one = await run(['report', '--from', file, '--profiles', 'hardened', '--seeds', '1', '--out', dir]);
    expect(one.out[0]).toBe('1 runs (1 scenarios x 1 profiles x 1 seeds) from 1 runs file');
    expect(one.out.at(-1)).toBe('3 runs in the files are outside the scenarios, profiles or seeds asked for and are left out');
  }, 20_000);
});

describe('hasim report: bad runs files and flags', () => {
  // One good file of four runs to corrupt: seeds 0-1 of one scenario under both profiles.
  const dir = tmp();
  const good = join(dir, 'good.jsonl');
  const ready = () => run(['report', ...ONE, '--seeds', '2', '--runs', good, '--out', dir]);
  let made: ReturnType<typeof ready> | undefined;
  const variant = async (name: string, edit: (lines: string[]) => string[]): Promise<string> => {
    const r = await (made ??= ready());
    if (r.code !== 0 || !existsSync(good)) throw new Error(`the good file was not made: ${r.err.join(' ')}`);
    const path = join(dir, name);
    writeFileSync(path, `${edit(readFileSync(good, 'utf8').trim().split('\n')).join('\n')}\n`);
    return path;
  };
  const set = (line: string, key: string, value: unknown): string => JSON.stringify({ ...(JSON.parse(line) as object), [key]: value });

  test.each<[string, (lines: string[]) => string[], RegExp]>([
    ['malformed line', (l) => [l[0]!, '{"format":', l[1]!], /^report: .*malformed-line\.jsonl:2: not valid JSON/],
    ['wrong schema', (l) => [l[0]!, set(l[1]!, 'seed', -1)], /^report: .*wrong-schema\.jsonl:2: seed: must be ≥ 0, got -1$/],
    ['unknown field', (l) => [set(l[0]!, 'extra', 1)], /^report: .*unknown-field\.jsonl:1: extra: unknown field/],
    ['not a runs file', (l) => [set(l[0]!, 'format', 'hasim-coverage')], /^report: .*not-a-runs-file\.jsonl:1: format: not a hasim runs file line/],
    ['unknown scenario', (l) => [l[0]!, set(l[1]!, 'scenario', 'r001-nope')], /^report: .*unknown-scenario\.jsonl:2: unknown scenario 'r001-nope' of system hakgal/],
    ['other version', (l) => [set(l[0]!, 'hasim', '0.0.1')], /^report: .*other-version\.jsonl:1: run by hasim 0\.0\.1, this is hasim \d/],
    ['other definition', (l) => [set(l[0]!, 'definition', '0123456789ab')], /^report: .*other-definition\.jsonl:1: scenario r001-single-session-as-written was defined otherwise when this ran/],
    ['mixed identities', (l) => [l[0]!, l[1]!, set(l[2]!, 'seed0', '0123456789ab')], /^report: .*mixed-identities\.jsonl:3: r001-single-session-as-written under \S+ ran with seed-0 digest 0123456789ab, but .*mixed-identities\.jsonl:1 with [0-9a-f]{12}: runs of different code are not mixed$/],
    ['two hashes for one seed', (l) => [...l, set(l[0]!, 'hash', 'f'.repeat(64))], /^report: .*two-hashes-for-one-seed\.jsonl:5: .* has trace hash f+, but .*:1 has [0-9a-f]{64}: a determinism failure \(replay it: npx hasim run --system hakgal --scenario/],
    ['metrics of another scenario', (l) => [set(l[0]!, 'metrics', { x: 1 })], /^report: .*metrics-of-another-scenario\.jsonl:1: metrics x, but r001-single-session-as-written measures/],
  ])('--from: %s is exit 2 and one line naming the file and line', async (name, edit, message) => {
    const path = await variant(`${name.replaceAll(' ', '-')}.jsonl`, edit);
    const r = await run(['report', '--from', path, '--out', join(dir, 'never')]);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]!.replace(/^hasim: /, '')).toMatch(message);
  }, 10_000);

  test('--runs: a file of runs by other code (another seed 0) is refused before anything is appended', async () => {
    const path = await variant('other-code.jsonl', (l) => l.map((x) => set(x, 'seed0', '0123456789ab')));
    const before = readFileSync(path, 'utf8');
    const r = await run(['report', ...ONE, '--seeds', '3', '--runs', path, '--out', join(dir, 'never')]);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/other-code\.jsonl:1: r001-single-session-as-written under as-built was run by other code \(seed-0 digest 0123456789ab; this hasim's is [0-9a-f]{12}\)/);
    expect(readFileSync(path, 'utf8')).toBe(before);
  }, 10_000);

  test.each([
    [['report', '--shard', '1/2'], /--shard: needs --runs FILE/],
    [['report', '--runs', '/tmp/x.jsonl', '--shard', '3/2'], /--shard: expected K\/N with 1 <= K <= N, got '3\/2'/],
    [['report', '--from', 'a.jsonl', '--runs', 'b.jsonl'], /--from builds the report from runs files and runs nothing: --runs does not go with it/],
    [['report', '--from', 'a.jsonl', '--jobs', '2'], /--jobs does not go with it/],
    [['report', '--from', join(tmpdir(), 'hasim-no-such-runs.jsonl')], /hasim-no-such-runs\.jsonl: cannot read \(ENOENT\)/],
    [['report', 'runs.jsonl'], /unexpected argument 'runs\.jsonl'/],
  ])('%j: exit 2, one line', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(message);
  });

  test('--from: files of nothing but a torn line hold no runs', async () => {
    const path = join(dir, 'empty.jsonl');
    writeFileSync(path, '');
    appendFileSync(path, '{"format":"hasim-rep');
    const r = await run(['report', '--from', path]);
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(/--from: no runs in .*empty\.jsonl$/);
  });
});
