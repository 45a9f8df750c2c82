import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runTask } from './campaign/tasks.ts';
import { combineCoverageFiles, CoverageFileError, readCoverageFile, type CoverageFile } from './coverage-file.ts';
import { fuzzCommand } from './fuzz-command.ts';
import { main } from './main.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'hasim-coverage-file-'));

/** Runs every task in this thread. */
const inline = () => ({ concurrency: 1, run: async (task: Parameters<typeof runTask>[0]) => runTask(task), close: async () => undefined });

/** Seeds 0 and 1 of hardened seed-000, with --coverage. */
async function twoSeeds(extra: string[]): Promise<{ code: number; out: string[]; dir: string }> {
  const dir = tmp();
  const out: string[] = [];
  const code = await fuzzCommand(['--profile', 'hardened', '--deployment', 'seed-000', '--seeds', '2', '--self-check', '0', '--no-triage', '--out', join(dir, 'found'), '--coverage', join(dir, 'coverage.json'), ...extra], {
    out: (l) => out.push(l), err: () => undefined, env: {}, executor: inline,
  });
  return { code, out, dir };
}

describe('hasim fuzz --coverage FILE', () => {
  test('writes a file of the schema, and --json names its figures and the unreached transitions', async () => {
    const { code, out, dir } = await twoSeeds(['--json']);
    expect(code).toBe(0);
    const file = readCoverageFile(join(dir, 'coverage.json'));
    expect(file).toMatchObject({ format: 'hasim-coverage', version: 1, system: 'streamspace', space: { profile: 'hardened', deployment: 'seed-000' }, seedStart: 0, shards: ['1/1'], runs: 2, interrupted: false });
    const elector = file.machines.find((m) => m.id === 'elector')!;
    expect(elector.transitions.total).toBe(elector.transitions.list.length);
    expect(elector.transitions.reached).toBe(elector.transitions.list.filter((t) => t.reached).length);
    const summary = JSON.parse(out[0]!) as { coverage: { file: string; runs: number; machines: Array<{ id: string; transitions: { reached: number; total: number }; unreached: string[] }> } };
    expect(summary.coverage).toMatchObject({ file: join(dir, 'coverage.json'), runs: 2 });
    const json = summary.coverage.machines.find((m) => m.id === 'elector')!;
    expect(json.transitions).toEqual({ reached: elector.transitions.reached, total: elector.transitions.total });
    // seed-000 sets ReleaseOnCancel: a leader that loses its lease always releases it, never stops without.
    expect(json.unreached).toContain('elector.leading.polling → elector.stopped: after renewDeadline / reportTransition, recordRenewFailed(why=deadline)');
    // One state or transition per line.
    expect(readFileSync(join(dir, 'coverage.json'), 'utf8')).toContain('\n          {"index":0,"id":"elector.acquiring.attempting","reached":true,"runs":2,"lowestSeed":0},\n');
  }, 60_000);

  test('a path that cannot be written is bad input: exit 2, one line, before any seed', async () => {
    const err: string[] = [];
    const dir = tmp();
    const code = await main(['fuzz', '--seeds', '1', '--out', join(dir, 'found'), '--coverage', '/sys/hasim-coverage.json'], () => undefined, (l) => err.push(l));
    expect(code).toBe(2);
    expect(err).toEqual(['hasim: --coverage /sys/hasim-coverage.json: cannot write under /sys (a virtual file system)']);
    const code2 = await main(['fuzz', '--seeds', '1', '--out', join(dir, 'found'), '--coverage', dir], () => undefined, (l) => err.push(l));
    expect(code2).toBe(2);
    expect(err.at(-1)).toBe(`hasim: --coverage ${dir}: is a directory`);
    expect(existsSync(join(dir, 'found'))).toBe(false);
  });
});

describe('coverage files', () => {
  // One campaign for the tests below, which only read its file.
  let written: Promise<CoverageFile> | undefined;
  const valid = (): Promise<CoverageFile> => (written ??= twoSeeds([]).then((r) => readCoverageFile(join(r.dir, 'coverage.json'))));

  test('reading checks the file: one line naming the file and the first problem', async () => {
    const dir = tmp();
    const write = (name: string, content: unknown): string => {
      const path = join(dir, name);
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
      return path;
    };
    const file = await valid();
    expect(() => readCoverageFile(write('a.json', '{'))).toThrow(/a\.json: not valid JSON/);
    expect(() => readCoverageFile(write('b.json', { ...file, format: 'hasim-trace' }))).toThrow(/b\.json: format: not a hasim coverage file/);
    expect(() => readCoverageFile(write('c.json', { ...file, extra: 1 }))).toThrow(/c\.json: extra: unknown field/);
    const broken = structuredClone(file);
    (broken.machines[0]!.transitions.list[1] as unknown as Record<string, unknown>)['lowestSeed'] = -1;
    expect(() => readCoverageFile(write('d.json', broken))).toThrow(CoverageFileError);
    expect(() => readCoverageFile(write('d.json', broken))).toThrow(/d\.json: machines\[0\]\.transitions\.list\[1\]\.lowestSeed: must be ≥ 0, got -1/);
  }, 60_000);

  test('shards combine when they are of one campaign, each shard once', async () => {
    const file = await valid();
    const one = { path: 'one.json', file: { ...file, shards: ['1/2'] } };
    const two = { path: 'two.json', file: { ...file, shards: ['2/2'] } };
    const both = combineCoverageFiles([two, one]);
    expect(both.shards).toEqual(['1/2', '2/2']);
    expect(both.runs).toBe(2 * file.runs);
    const init = both.machines[0]!.transitions.list[0]!;
    expect(init).toMatchObject({ runs: 2 * file.machines[0]!.transitions.list[0]!.runs, lowestSeed: 0 });
    expect(() => combineCoverageFiles([one, { path: 'again.json', file: one.file }])).toThrow('again.json: shard 1/2 is also in one.json');
    expect(() => combineCoverageFiles([one, { path: 'other.json', file: { ...two.file, space: { profile: 'streamspace-v2' } } }])).toThrow(/other\.json: space .* differs from one\.json's/);
    expect(() => combineCoverageFiles([])).toThrow('no coverage files to combine');
  }, 60_000);
});
