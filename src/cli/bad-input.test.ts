import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { main } from './main.ts';

/**
 * The exit-code contract from the outside: every bad invocation of every command is exit 2 with
 * exactly one line on stderr, no stack, nothing on stdout, and it returns at once (none of these may
 * start a campaign: commands that run seeds get `--seeds 1`, and a bad output path is refused
 * before anything runs). An error that is hasim's own is exit 3, with its details in a file.
 */
const dir = mkdtempSync(join(tmpdir(), 'hasim-bad-input-'));
const file = join(dir, 'a-file.txt');
writeFileSync(file, 'not a directory');
const aDir = join(dir, 'a-dir');
mkdirSync(aDir);
const put = (name: string, content: string): string => {
  writeFileSync(join(dir, name), content);
  return join(dir, name);
};
const goodTrace = fileURLToPath(new URL('../../traces/redis-restart-loses-routing.json', import.meta.url));
const good = JSON.parse(readFileSync(goodTrace, 'utf8')) as Record<string, unknown>;
const malformedConfig = put('malformed.json', '{ "api": ');
const arrayConfig = put('array.json', '[1, 2]');
const badSection = put('bad-section.json', '{ "nonsense": { "x": 1 } }');
const truncatedTrace = put('truncated.json', JSON.stringify(good).slice(0, 200));
const emptyTrace = put('empty.json', '');
const versionString = put('version-string.json', JSON.stringify({ ...good, version: '3' }));
const seedString = put('seed-string.json', JSON.stringify({ ...good, seed: 'zero' }));
const scheduleObject = put('schedule-object.json', JSON.stringify({ ...good, schedule: { kind: 'crash' } }));
const expectationsNull = put('expectations-null.json', JSON.stringify({ ...good, expectations: null }));
const notAnObject = put('not-an-object.json', '[]');
const scheduleNotArray = put('schedule-not-array.json', '{ "kind": "crash", "at": 5 }');
const scheduleBadKind = put('schedule-bad-kind.json', '[{ "kind": "meteor", "at": 5 }]');
const scheduleBadAt = put('schedule-bad-at.json', '[{ "kind": "crash", "at": "soon" }]');
const scenario = 'r000-api-and-redis-deletion';

const cases: Array<[string, string[], RegExp]> = [
  // fuzz: flags, numbers, names, contradictions, inputs, outputs
  ['fuzz: unknown flag', ['fuzz', '--bogus'], /Unknown option '--bogus'/],
  ['fuzz: positional', ['fuzz', 'extra'], /fuzz: unexpected argument 'extra'/],
  ['fuzz: missing value', ['fuzz', '--seeds'], /--seeds: expects a value/],
  ['fuzz: negative seeds', ['fuzz', '--seeds', '-5'], /^hasim: --seeds: must be a non-negative integer, got -5$/],
  ['fuzz: negative seeds with =', ['fuzz', '--seeds=-5'], /--seeds: must be a non-negative integer, got -5/],
  ['fuzz: fractional seeds', ['fuzz', '--seeds', '1.5'], /--seeds: expected a non-negative integer, got '1.5'/],
  ['fuzz: seeds beyond a safe integer', ['fuzz', '--seeds', '99999999999999999999'], /--seeds: expected a non-negative integer/],
  ['fuzz: negative budget', ['fuzz', '--budget', '-5m'], /--budget: must not be negative, got -5m/],
  ['fuzz: budget without a unit', ['fuzz', '--budget', '5'], /--budget: expected a duration/],
  ['fuzz: zero workers', ['fuzz', '--seeds', '1', '--workers', '0'], /--workers: must be at least 1/],
  ['fuzz: negative workers', ['fuzz', '--seeds', '1', '--workers', '-2'], /--workers: must be a non-negative integer, got -2/],
  ['fuzz: shard 0/2', ['fuzz', '--seeds', '1', '--shard', '0/2'], /--shard: expected K\/N with 1 <= K <= N, got '0\/2'/],
  ['fuzz: negative shard', ['fuzz', '--seeds', '1', '--shard', '-1/2'], /--shard: expected K\/N/],
  ['fuzz: negative seed-start', ['fuzz', '--seeds', '1', '--seed-start', '-1'], /--seed-start: must be a non-negative integer, got -1/],
  ['fuzz: last seed not safe', ['fuzz', '--seeds', '2', '--seed-start', '9007199254740991'], /--seed-start: the last seed would not be a safe integer/],
  ['fuzz: bad self-check', ['fuzz', '--seeds', '1', '--self-check', 'often'], /--self-check: expected a non-negative integer, got 'often'/],
  ['fuzz: negative shrink budget', ['fuzz', '--seeds', '1', '--max-shrink-runs', '-3'], /--max-shrink-runs: must be a non-negative integer, got -3/],
  ['fuzz: boolean with a value', ['fuzz', '--json=yes'], /--json: takes no value/],
  ['fuzz: unknown profile', ['fuzz', '--seeds', '1', '--profile', 'nope'], /--profile: unknown profile 'nope'/],
  ['fuzz: unknown system', ['fuzz', '--seeds', '1', '--system', 'nope'], /--system: unknown system 'nope'/],
  ['fuzz: unknown fault kind', ['fuzz', '--seeds', '1', '--faults', 'crash,meteor'], /--faults: unknown name 'meteor'/],
  ['fuzz: empty fault list', ['fuzz', '--seeds', '1', '--faults', ','], /--faults: expected a comma-separated list/],
  ['fuzz: unknown invariant', ['fuzz', '--seeds', '1', '--invariants', 'no-bugs'], /--invariants: unknown name 'no-bugs'/],
  ['fuzz: unknown fix', ['fuzz', '--seeds', '1', '--fixes', 'magic'], /--fixes: unknown name 'magic'/],
  ['fuzz: zero max-faults', ['fuzz', '--seeds', '1', '--max-faults', '0'], /--max-faults: must be at least 1/],
  ['fuzz: negative max-faults', ['fuzz', '--seeds', '1', '--max-faults', '-1'], /--max-faults: must be a non-negative integer, got -1/],
  ['fuzz: contradicting swarm flags', ['fuzz', '--seeds', '1', '--swarm', '--no-swarm'], /--swarm and --no-swarm contradict each other/],
  ['fuzz: missing config', ['fuzz', '--seeds', '1', '--config', join(dir, 'missing.json')], /--config .*missing\.json: cannot read \(ENOENT\)/],
  ['fuzz: truncated config', ['fuzz', '--seeds', '1', '--config', malformedConfig], /--config .*malformed\.json: not valid JSON/],
  ['fuzz: config of the wrong type', ['fuzz', '--seeds', '1', '--config', arrayConfig], /--config .*array\.json: expected a JSON object of sections/],
  ['fuzz: unknown config section', ['fuzz', '--seeds', '1', '--config', badSection], /nonsense/],
  ['fuzz: --out under /proc', ['fuzz', '--seeds', '1', '--out', '/proc/hasim-bad-input'], /^hasim: --out \/proc\/hasim-bad-input: cannot write under \/proc/],
  ['fuzz: --out is a file', ['fuzz', '--seeds', '1', '--out', file], /--out .*a-file\.txt: is not a directory/],
  ['fuzz: --out under a file', ['fuzz', '--seeds', '1', '--out', join(file, 'sub')], /--out .*a-file\.txt\/sub: .*a-file\.txt is not a directory/],
  ['fuzz: --results is a directory', ['fuzz', '--seeds', '1', '--out', join(dir, 'f'), '--results', aDir], /--results .*a-dir: is a directory/],
  ['fuzz: --junit under /sys', ['fuzz', '--seeds', '1', '--out', join(dir, 'f'), '--junit', '/sys/hasim.xml'], /--junit \/sys\/hasim\.xml: cannot write under \/sys/],
  ['fuzz: --results empty', ['fuzz', '--seeds', '1', '--out', join(dir, 'f'), '--results', ''], /--results : an empty path/],
  ['fuzz: --results a device', ['fuzz', '--seeds', '1', '--out', join(dir, 'f'), '--results', '/dev/null'], /--results \/dev\/null: is not a regular file/],
  // run
  ['run: no seed', ['run'], /run: --seed is required/],
  ['run: negative seed', ['run', '--seed', '-1'], /--seed: must be a non-negative integer, got -1/],
  ['run: truncated schedule', ['run', '--seed', '1', '--schedule', malformedConfig], /--schedule .*: not valid JSON/],
  ['run: schedule not an array', ['run', '--seed', '1', '--schedule', scheduleNotArray], /schedule/],
  ['run: schedule with an unknown kind', ['run', '--seed', '1', '--schedule', scheduleBadKind], /meteor/],
  ['run: schedule with a wrong type', ['run', '--seed', '1', '--schedule', scheduleBadAt], /schedule/],
  ['run: --save under /proc', ['run', '--seed', '1', '--save', '/proc/hasim.json'], /--save \/proc\/hasim\.json: cannot write under \/proc/],
  ['run: --trace under a file', ['run', '--seed', '1', '--trace', join(file, 't.jsonl')], /--trace .*: .*a-file\.txt is not a directory/],
  ['run: --html is a directory', ['run', '--seed', '1', '--html', aDir], /--html .*a-dir: is a directory/],
  ['run: unknown scenario', ['run', '--scenario', 'r999-nothing'], /--scenario: unknown scenario 'r999-nothing'/],
  ['run: scenario with a campaign flag', ['run', '--scenario', scenario, '--faults', 'crash'], /--faults does not apply to --scenario runs/],
  ['run: scenario with an unknown profile', ['run', '--scenario', scenario, '--profile', 'nope'], /--profile: unknown profile 'nope'/],
  ['run: scenario --trace under /sys', ['run', '--scenario', scenario, '--trace', '/sys/t.jsonl'], /--trace \/sys\/t\.jsonl: cannot write under \/sys/],
  // list
  ['list: unknown section', ['list', 'planets'], /list: unknown section 'planets'/],
  ['list: unknown system', ['list', '--system', 'nope'], /--system: unknown system 'nope'/],
  // replay
  ['replay: no file', ['replay'], /replay: expected one or more trace files/],
  ['replay: missing file', ['replay', join(dir, 'missing.json')], /missing\.json: cannot read \(ENOENT\)/],
  ['replay: truncated JSON', ['replay', truncatedTrace], /truncated\.json: not valid JSON/],
  ['replay: empty file', ['replay', emptyTrace], /empty\.json: not valid JSON/],
  ['replay: not an object', ['replay', notAnObject], /not-an-object\.json/],
  ['replay: version as a string', ['replay', versionString], /version-string\.json/],
  ['replay: seed as a string', ['replay', seedString], /seed-string\.json/],
  ['replay: schedule as an object', ['replay', scheduleObject], /schedule-object\.json/],
  ['replay: expectations null', ['replay', expectationsNull], /expectations-null\.json/],
  ['replay: --trace with two files', ['replay', goodTrace, goodTrace, '--trace', join(dir, 't.jsonl')], /replay: --trace takes one trace file/],
  ['replay: --update with --timeline', ['replay', '--update', '--timeline', goodTrace], /replay: --update does not combine with --trace or --timeline/],
  ['replay: --trace under /proc', ['replay', goodTrace, '--trace', '/proc/hasim.jsonl'], /--trace \/proc\/hasim\.jsonl: cannot write under \/proc/],
  // explain
  ['explain: no file', ['explain'], /explain: expected exactly one trace file/],
  ['explain: two files', ['explain', goodTrace, goodTrace], /explain: expected exactly one trace file/],
  ['explain: unknown profile', ['explain', goodTrace, '--profile', 'nope', '--out', join(dir, 'x.html')], /--profile: unknown profile 'nope'/],
  ['explain: truncated trace', ['explain', truncatedTrace], /truncated\.json: not valid JSON/],
  ['explain: --out under /proc', ['explain', goodTrace, '--out', '/proc/hasim.html'], /--out \/proc\/hasim\.html: cannot write under \/proc/],
  ['explain: --out is a directory', ['explain', goodTrace, '--out', aDir], /--out .*a-dir: is a directory/],
  // report
  ['report: negative seeds', ['report', '--seeds', '-5'], /--seeds: must be a non-negative integer, got -5/],
  ['report: zero jobs', ['report', '--seeds', '1', '--jobs', '0'], /--jobs: expected at least 1/],
  ['report: unknown scenario', ['report', '--seeds', '1', '--scenario', 'nope'], /--scenario: unknown scenario 'nope'/],
  ['report: unknown profile', ['report', '--seeds', '1', '--profiles', 'as-built'], /--profiles: unknown profile 'as-built'/],
  ['report: --out under /proc', ['report', '--seeds', '1', '--out', '/proc/hasim-report'], /--out \/proc\/hasim-report: cannot write under \/proc/],
  ['report: --out is a file', ['report', '--seeds', '1', '--out', file], /--out .*a-file\.txt: is not a directory/],
  // sample
  ['sample: negative duration', ['sample', '--duration', '-5s'], /--duration: must not be negative, got -5s/],
  ['sample: negative seed', ['sample', '--seed', '-1'], /--seed: must be a non-negative integer, got -1/],
  ['sample: --trace under /proc', ['sample', '--trace', '/proc/hasim.jsonl'], /--trace \/proc\/hasim\.jsonl: cannot write under \/proc/],
  // merge
  ['merge: no directory', ['merge'], /merge: /],
  ['merge: missing directory', ['merge', join(dir, 'missing-dir')], /missing-dir/],
  ['merge: --junit under /proc', ['merge', aDir, '--junit', '/proc/hasim.xml'], /--junit \/proc\/hasim\.xml: cannot write under \/proc/],
  // the command itself
  ['unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
  ['help for an unknown command', ['help', 'frobnicate'], /unknown command 'frobnicate'/],
  ['--help of an unknown command', ['frobnicate', '--help'], /unknown command 'frobnicate'/],
];

describe('bad input: exit 2, one line on stderr, no stack, nothing on stdout', () => {
  test('the table covers every command with at least 45 invocations', () => {
    expect(cases.length).toBeGreaterThanOrEqual(45);
    for (const command of ['fuzz', 'run', 'list', 'replay', 'explain', 'report', 'sample']) expect(cases.some(([, argv]) => argv[0] === command)).toBe(true);
  });

  test.each(cases)('%s', async (_what, argv, message) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
    expect(code).toBe(2);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^hasim: /);
    expect(err[0]).toMatch(message);
    expect(err[0]).not.toMatch(/\n/);
    expect(err.join('\n')).not.toMatch(/\n\s+at /);
    expect(out).toEqual([]);
  }, 5_000);

  test('nothing was created where an output path was refused', () => {
    expect(existsSync(join(dir, 'f'))).toBe(false);
    expect(existsSync(join(dir, 't.jsonl'))).toBe(false);
    expect(existsSync(join(dir, 'x.html'))).toBe(false);
  });
});

describe('paths under /proc and /sys, from a real process', () => {
  // Node 20's recursive mkdir never returns for a path under /proc; a process that hung there would
  // be killed by the timeout and fail the test.
  const bin = fileURLToPath(new URL('../../bin/hasim.mjs', import.meta.url));
  test.each([
    [['fuzz', '--seeds', '1', '--out', '/proc/foo']],
    [['fuzz', '--seeds', '1', '--out', '/proc/foo/bar/baz']],
    [['run', '--seed', '0', '--save', '/proc/foo/x.json']],
    [['report', '--seeds', '1', '--out', '/sys/foo']],
  ])('%j returns promptly with exit 2 and one line', (argv) => {
    const r = spawnSync(process.execPath, [bin, ...argv], { encoding: 'utf8', timeout: 8_000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^hasim: --(out|save) \/(proc|sys)\/foo.*: cannot write under \/(proc|sys)/);
  }, 10_000);
});

describe('internal errors: exit 3, one line naming a file with the details', () => {
  afterEach(() => {
    vi.doUnmock('./list-command.ts');
    vi.resetModules();
  });

  async function mainWithListThrowing(error: unknown) {
    vi.resetModules();
    vi.doMock('./list-command.ts', () => ({
      listCommand: () => {
        throw error;
      },
    }));
    const { main: fresh } = await import('./main.ts');
    const out: string[] = [];
    const err: string[] = [];
    const code = await fresh(['list', '--json', 'with a space'], (l) => out.push(l), (l) => err.push(l));
    return { code, out, err };
  }

  test('an unexpected exception is exit 3; the stack and the command line go to a file in the temp directory', async () => {
    const r = await mainWithListThrowing(new TypeError('cannot read properties of undefined (reading \'x\')'));
    expect(r.code).toBe(3);
    expect(r.out).toEqual([]);
    expect(r.err).toHaveLength(1);
    const m = /^hasim: internal error: cannot read properties of undefined \(reading 'x'\) \(details in (\S+); please report it\)$/.exec(r.err[0]!);
    expect(m).not.toBeNull();
    const details = m![1]!;
    expect(details.startsWith(tmpdir())).toBe(true);
    const text = readFileSync(details, 'utf8');
    expect(text).toContain("command: hasim list --json 'with a space'");
    expect(text).toMatch(/TypeError: cannot read properties of undefined[\s\S]*\n\s+at /);
    rmSync(details);
  });

  test('a thrown non-Error and a multi-line message are one line too', async () => {
    const r = await mainWithListThrowing('a string\nover two lines');
    expect(r.code).toBe(3);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^hasim: internal error: a string over two lines \(details in \S+; please report it\)$/);
    rmSync(/details in (\S+);/.exec(r.err[0]!)![1]!);
  });

  test('ConfigError and TraceFileError from anywhere are bad input: exit 2', async () => {
    for (const name of ['ConfigError', 'TraceFileError']) {
      const error = new Error(`bad ${name}`);
      Object.defineProperty(error, 'name', { value: name });
      const r = await mainWithListThrowing(error);
      expect(r.code).toBe(2);
      expect(r.err).toEqual([`hasim: bad ${name}`]);
    }
  });
});
