import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { drawnByDefault } from '../faults/fault-kind.ts';
import type { Verdict } from '../harness/run-case.ts';
import { streamspace } from '../systems/index.ts';
import { UsageError } from './args.ts';
import { makeDirs, writeFileAtomic, type WriteFs } from './atomic-write.ts';
import { caseSpaceDigest, FindingsStore } from './campaign/findings-store.ts';
import type { SeedResult } from './campaign/tasks.ts';
import { fuzzCommand } from './fuzz-command.ts';
import { checkOutputPath, Outputs } from './output-paths.ts';
import { reportCommand } from './report-command.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'hasim-outputs-'));
const bin = fileURLToPath(new URL('../../bin/hasim.mjs', import.meta.url));

const realFs: WriteFs = {
  mkdirSync: (p) => mkdirSync(p),
  writeFileSync: (p, c) => writeFileSync(p, c),
  renameSync: (a, b) => renameSync(a, b),
  rmSync: (p) => rmSync(p, { force: true }),
};
const errno = (code: string): Error => Object.assign(new Error(`${code}: simulated`), { code });
/** node:fs, except that writing (or renaming onto) a path matching `pattern` fails with `code`, after a partial write. */
const failingFs = (pattern: RegExp, code = 'ENOSPC', at: 'write' | 'rename' = 'write'): WriteFs => ({
  ...realFs,
  writeFileSync: (p, c) => {
    if (at === 'write' && pattern.test(p)) {
      writeFileSync(p, c.slice(0, 10)); // a full disk takes the first bytes and refuses the rest
      throw errno(code);
    }
    writeFileSync(p, c);
  },
  renameSync: (a, b) => {
    if (at === 'rename' && pattern.test(b)) throw errno(code);
    renameSync(a, b);
  },
});

describe('output paths are checked before any work', () => {
  test('a path in directories that do not exist yet is fine, and checking creates nothing', () => {
    const dir = tmp();
    checkOutputPath({ flag: '--out', path: join(dir, 'a', 'b', 'c'), kind: 'dir' });
    checkOutputPath({ flag: '--results', path: join(dir, 'a', 'b', 'r.jsonl'), kind: 'file' });
    expect(readdirSync(dir)).toEqual([]); // nor is the writability probe left behind
  });

  test.each([
    ['/proc', { flag: '--out', path: '/proc/foo/bar', kind: 'dir' as const }, /^--out \/proc\/foo\/bar: cannot write under \/proc/],
    ['/sys', { flag: '--junit', path: '/sys/j.xml', kind: 'file' as const }, /^--junit \/sys\/j\.xml: cannot write under \/sys/],
    ['/proc itself', { flag: '--out', path: '/proc', kind: 'dir' as const }, /cannot write under \/proc/],
    ['a device', { flag: '--trace', path: '/dev/null', kind: 'file' as const }, /--trace \/dev\/null: is not a regular file/],
  ])('%s is refused', (_what, p, message) => {
    expect(() => checkOutputPath(p)).toThrow(message);
  });

  test('a symbolic link into /proc is refused too', () => {
    const dir = tmp();
    symlinkSync('/proc/self', join(dir, 'link'));
    expect(() => checkOutputPath({ flag: '--out', path: join(dir, 'link', 'x'), kind: 'dir' })).toThrow(/cannot write under \/proc/);
  });

  test('a file where a directory is needed, and a directory where a file is', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'f'), '');
    expect(() => checkOutputPath({ flag: '--out', path: join(dir, 'f'), kind: 'dir' })).toThrow(/--out .*\/f: is not a directory/);
    expect(() => checkOutputPath({ flag: '--out', path: join(dir, 'f', 'sub', 'deeper'), kind: 'dir' })).toThrow(/--out .*\/f\/sub\/deeper: .*\/f is not a directory/);
    expect(() => checkOutputPath({ flag: '--results', path: dir, kind: 'file' })).toThrow(/--results .*: is a directory/);
    expect(() => checkOutputPath({ flag: '--results', path: join(dir, 'f'), kind: 'file' })).not.toThrow(); // replacing a file is the point
  });

  const asRoot = process.getuid?.() === 0;
  test.skipIf(asRoot)('a directory without write permission is refused (not as root, where permissions do not stop writes)', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'ro'), { mode: 0o555 });
    expect(() => checkOutputPath({ flag: '--out', path: join(dir, 'ro', 'x'), kind: 'dir' })).toThrow(/not writable \(EACCES/);
  });
});

describe('writes that fail later', () => {
  test('writeFileAtomic removes its temporary file when the write fails, and when the rename fails', () => {
    const dir = tmp();
    const target = join(dir, 'r.jsonl');
    expect(() => writeFileAtomic(target, 'x'.repeat(100), failingFs(/\.tmp$/, 'ENOSPC', 'write'))).toThrow(/ENOSPC/);
    expect(readdirSync(dir)).toEqual([]);
    writeFileSync(target, 'old');
    expect(() => writeFileAtomic(target, 'new', failingFs(/r\.jsonl$/, 'ENOENT', 'rename'))).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual(['r.jsonl']);
    expect(readFileSync(target, 'utf8')).toBe('old');
  });

  test('makeDirs creates missing levels and returns under /proc instead of spinning', () => {
    const dir = tmp();
    makeDirs(join(dir, 'a', 'b', 'c'));
    expect(existsSync(join(dir, 'a', 'b', 'c'))).toBe(true);
    expect(() => makeDirs('/proc/hasim-never/x')).toThrow();
  });

  test('Outputs tries each write on its own and reports every failure in one line', () => {
    const dir = tmp();
    const outputs = new Outputs(failingFs(/junit/));
    expect(outputs.write('--results', join(dir, 'results.jsonl'), 'r')).toBe(true);
    expect(outputs.write('--junit', join(dir, 'junit.xml'), 'j')).toBe(false);
    expect(outputs.failure()).toBe(`could not write --junit ${join(dir, 'junit.xml')} (ENOSPC)`);
    expect(() => outputs.throwIfFailed()).toThrow(UsageError);
    expect(readdirSync(dir)).toEqual(['results.jsonl']);
  });

  const passing = (seed: number): SeedResult => ({ seed, outcome: 'pass', hash: 'a'.repeat(64), steps: 1, simUs: 1, faults: 0, violation: null, modelFailure: null, schedule: null });
  const passingExecutor = () => ({ concurrency: 1, run: async (t: { seed: number }) => ({ type: 'run' as const, result: passing(t.seed) }), close: async () => undefined });

  test('fuzz: a --junit that cannot be written still leaves --results and the summary; then one line and exit 2', async () => {
    const dir = tmp();
    const out: string[] = [];
    const err: string[] = [];
    const code = await fuzzCommand(['--seeds', '3', '--self-check', '0', '--out', join(dir, 'found'), '--results', join(dir, 'r.jsonl'), '--junit', join(dir, 'j.xml'), '--json'], {
      out: (l) => out.push(l), err: (l) => err.push(l), executor: passingExecutor, fs: failingFs(/j\.xml/),
    });
    expect(code).toBe(2);
    expect(JSON.parse(out[0]!)).toMatchObject({ seedsRun: 3, passed: 3 });
    expect(readFileSync(join(dir, 'r.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    expect(err.at(-1)).toBe(`hasim: could not write --junit ${join(dir, 'j.xml')} (ENOSPC)`);
    expect(readdirSync(dir).sort()).toEqual(['r.jsonl']); // no temporary file left, and no findings directory for a clean campaign
  }, 10_000);

  test('fuzz: a findings directory removed during the campaign is reported after the summary, exit 2', async () => {
    const dir = tmp();
    const found = join(dir, 'found');
    const failing = (seed: number): SeedResult => ({ ...passing(seed), outcome: 'no-lost-commands', violation: { invariant: 'no-lost-commands', time: 1, message: 'synthetic' }, schedule: [] });
    const out: string[] = [];
    const err: string[] = [];
    // Without triage: its runs are not this test's subject, and its executor only knows seeds and shrinks.
    const code = await fuzzCommand(['--profile', 'streamspace-v2', '--seeds', '1', '--self-check', '0', '--no-triage', '--out', found], {
      out: (l) => out.push(l), err: (l) => err.push(l),
      executor: () => ({
        concurrency: 1,
        run: async (t) => {
          if (t.type === 'shrink') {
            const verdict = { outcome: t.invariant, hash: 'b'.repeat(64), violation: { invariant: t.invariant, time: 1, message: 'shrunk' } } as unknown as Verdict;
            const shrunk = { invariant: t.invariant, case: { profile: 'streamspace-v2', fixes: [], config: {}, seed: t.seed, schedule: [] }, verdict, faultsFound: 0, faultsShrunk: 0, faultsMinimal: 0, shrinkSteps: 0, shrinkRuns: 0, minimizeRuns: 0 };
            return { type: 'shrink' as const, shrunk };
          }
          // Between the check and the first finding, the directory's place is taken by a file.
          writeFileSync(found, 'in the way');
          return { type: 'run' as const, result: failing(t.seed) };
        },
        close: async () => undefined,
      }),
    });
    expect(code).toBe(2);
    expect(out.join('\n')).toMatch(/1 seeds, 0 passed, 1 violating[\s\S]*no-lost-commands/);
    expect(err.at(-1)).toMatch(/^hasim: could not write --out .*found\/violations\.jsonl \(ENOTDIR\); --out .*found\/no-lost-commands-streamspace-v2-[0-9a-f]{6}-seed-0\.json \(ENOTDIR\)$/);
    expect(err.some((l) => /found no-lost-commands at seed 0: .* NOT WRITTEN \(ENOTDIR\)/.test(l))).toBe(true);
  }, 10_000);

  test('report: a file that cannot be written costs that file only; the summary prints, then one error (exit 2)', async () => {
    const dir = tmp();
    const out: string[] = [];
    const run = reportCommand(['--scenario', 'r002-heartbeat-timing', '--seeds', '1', '--profiles', 'hardened', '--jobs', '1', '--out', dir], (l) => out.push(l), { fs: failingFs(/\.html/), err: () => undefined });
    await expect(run).rejects.toThrow(new RegExp(`^could not write --out ${dir}/streamspace-seed-reports\\.html \\(ENOSPC\\)$`));
    expect(out.join('\n')).toMatch(/1 runs [\s\S]*wrote .*streamspace-seed-reports\.md$/);
    expect(readdirSync(dir)).toEqual(['streamspace-seed-reports.md']);
  }, 20_000);
});

/** Runs a shell script in a private mount namespace (so a tmpfs mounted there vanishes with it); null where that is not allowed. */
function inMountNamespace(script: string): { status: number | null; stdout: string; stderr: string } | null {
  try {
    execFileSync('unshare', ['-rm', 'sh', '-c', 'mount -t tmpfs -o size=16k tmpfs "$(mktemp -d)"'], { stdio: 'ignore', timeout: 5_000 });
  } catch {
    return null;
  }
  const r = spawnSync('unshare', ['-rm', 'sh', '-c', script], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const canMount = inMountNamespace('true') !== null;

describe('real file systems: a read-only mount and a full disk (where a mount namespace can be made)', () => {
  test.skipIf(!canMount)('a read-only directory is refused before the run (EROFS), even as root', () => {
    const d = tmp();
    const r = inMountNamespace(`mount -t tmpfs -o ro,size=64k tmpfs ${d} && "${process.execPath}" "${bin}" run --seed 0 --save ${d}/x.json`)!;
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`hasim: --save ${d}/x.json: not writable (EROFS in ${d})\n`);
  }, 30_000);

  test.skipIf(!canMount)('on a full disk the verdict prints, then one line naming the file, exit 2, and no temporary file is left', () => {
    const d = tmp();
    const r = inMountNamespace(`mount -t tmpfs -o size=64k tmpfs ${d} && (head -c 1000000 /dev/zero > ${d}/fill 2>/dev/null; true) && "${process.execPath}" "${bin}" run --seed 0 --save ${d}/x.json --json; echo "exit=$?"; ls -a ${d}`)!;
    const lines = r.stdout.trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ profile: 'hardened', seed: 0 });
    expect(lines[1]).toBe('exit=2');
    expect(lines.slice(2).sort()).toEqual(['.', '..', 'fill']);
    expect(r.stderr).toBe(`hasim: could not write --save ${d}/x.json (ENOSPC)\n`);
  }, 30_000);
});

describe('counterexample file names carry a digest of the case space', () => {
  test('flags that mean the same space give the same digest; any difference gives another', () => {
    const d = (space: Parameters<typeof caseSpaceDigest>[1]) => caseSpaceDigest(streamspace, space);
    const base = d({ profile: 'hardened' });
    expect(base).toMatch(/^[0-9a-f]{6}$/);
    expect(d({ profile: 'hardened', swarm: true, maxFaults: 8 })).toBe(base);
    // The default space is the kinds drawn by default; naming every kind adds the opt-in ones (`drawn: 'when-named'`).
    expect(d({ profile: 'hardened', kinds: drawnByDefault(streamspace.faults).map((k) => k.kind as string).reverse() })).toBe(base);
    expect(d({ profile: 'hardened', config: { agent: { a: 1, b: 2 } } })).toBe(d({ profile: 'hardened', config: { agent: { b: 2, a: 1 } } }));
    const others = [
      d({ profile: 'streamspace-v2' }), d({ profile: 'hardened', swarm: false }), d({ profile: 'hardened', maxFaults: 3 }),
      d({ profile: 'hardened', kinds: ['crash'] }), d({ profile: 'hardened', kinds: streamspace.faults.map((k) => k.kind as string) }),
      d({ profile: 'hardened', invariants: ['no-split-brain'] }),
      d({ profile: 'hardened', config: { agent: { a: 1 } } }), d({ profile: 'hardened', fixes: ['x'] }),
    ];
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
  });

  test('two campaigns over different spaces in one --out keep their own files', () => {
    const dir = tmp();
    const r: SeedResult = { seed: 12, outcome: 'no-lost-commands', hash: 'a'.repeat(64), steps: 1, simUs: 1, faults: 0, violation: { invariant: 'no-lost-commands', time: 1, message: 'm' }, modelFailure: null, schedule: [] };
    const a = new FindingsStore(dir, streamspace, { profile: 'hardened' }, 'a', String).writeUnshrunk(r);
    const b = new FindingsStore(dir, streamspace, { profile: 'hardened', maxFaults: 3 }, 'b', String).writeUnshrunk(r);
    expect(a).not.toBe(b);
    expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).toHaveLength(2);
    expect(a).toMatch(/no-lost-commands-hardened-[0-9a-f]{6}-seed-12\.json$/);
  });
});
