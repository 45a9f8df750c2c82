import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

/**
 * The package as a consumer gets it: `examples/library-usage`, a project of its own, installs the
 * tarball `npm pack` makes of the current sources, type-checks its suite against the shipped
 * declarations and runs it; plain Node imports the package. Nothing is asserted about how long a
 * step takes, only that it succeeds.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = join(ROOT, 'examples', 'library-usage');
const CACHE_ROOT = join(ROOT, 'node_modules', '.cache', 'hasim-example');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of every command: the caller's, without what would make the commands behave
 * unlike a user's shell. The test runner's own variables could leak into the example's runner, the
 * variables npm sets for a running script (when the suite runs under `npm test`) describe this
 * repository, not the example, and NODE_OPTIONS could preload a TypeScript loader that hides a
 * `.ts` import left in dist/.
 */
function commandEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const key of Object.keys(env)) {
    if (key.startsWith('VITEST') || /^npm_(lifecycle|package)_/.test(key) || ['npm_command', 'npm_config_local_prefix', 'INIT_CWD', 'NODE_OPTIONS', 'FORCE_COLOR'].includes(key)) delete env[key];
  }
  return env;
}

/** Runs a command to its end (killed after `timeoutMs`), collecting its output. */
function run(command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: commandEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // SIGTERM first: npm and npx pass it on to the command they run, which then stops its own workers.
    const term = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 10_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Fails with the command and everything it printed unless it exited 0. */
function expectSuccess(r: Run, what: string): void {
  const how = r.signal !== null ? `was killed (${r.signal}): it ran past its time limit` : `exited ${r.code}`;
  expect(r.code, `${what} ${how}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(0);
}

/**
 * A copy of what the build reads and what the `files` whitelist ships besides dist/, next to the
 * repository's node_modules. The tarball is packed here rather than in the checkout because the
 * build starts by deleting dist/, which other test files run through bin/hasim.mjs at the same
 * time; and it is built, not packed with --ignore-scripts, because the checkout's dist/ may be
 * older than the sources (`npm test` builds first, a single vitest run does not).
 */
function stagePackage(dir: string): void {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files?: string[] };
  // What the build script reads: the manifest, the sources and the bundling script.
  const names = new Set(['package.json', 'src', 'scripts']);
  for (const name of readdirSync(ROOT)) {
    // npm ships the readme, licence and changelog whatever `files` says.
    if (/^tsconfig.*\.json$/.test(name) || /^(readme|license|licence|changelog|notice)(\..*)?$/i.test(name)) names.add(name);
  }
  for (const entry of manifest.files ?? []) {
    if (entry.startsWith('!')) continue;
    const top = entry.replace(/^\.?\//, '').split('/')[0] ?? '';
    if (top !== '' && top !== 'dist' && !/[*?[{]/.test(top)) names.add(top);
  }
  mkdirSync(dir, { recursive: true });
  for (const name of names) if (existsSync(join(ROOT, name))) cpSync(join(ROOT, name), join(dir, name), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'junction');
}

/**
 * npm's cache for the example's dependencies, keyed by the example's package.json: with
 * --prefer-offline a run after the first resolves and extracts everything from it without the
 * network. A changed package.json gets a fresh cache and the stale ones are removed.
 */
function npmCacheDir(): string {
  const key = createHash('sha256').update(readFileSync(join(EXAMPLE, 'package.json'))).digest('hex').slice(0, 16);
  if (existsSync(CACHE_ROOT)) {
    for (const old of readdirSync(CACHE_ROOT)) if (old !== key) rmSync(join(CACHE_ROOT, old), { recursive: true, force: true });
  }
  const dir = join(CACHE_ROOT, key, 'npm');
  mkdirSync(dir, { recursive: true });
  return dir;
}

interface PackResult {
  filename: string;
  files: { path: string }[];
}

interface JestLikeReport {
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: { assertionResults: { fullName: string; status: string }[] }[];
}

describe('examples/library-usage against the packed tarball', () => {
  // Outside the checkout: Node and tsc look for packages in every parent directory's node_modules,
  // and the repository's would hide a dependency the example or the package forgot to declare.
  let tmp = '';
  let project = '';
  let tarball: string | null = null;
  let installed = false;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'hasim-example-'));
    project = join(tmp, 'project');
  });
  afterAll(() => {
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  const needs = (ready: boolean, what: string): void => {
    if (!ready) throw new Error(`${what} did not succeed (see the failure above)`);
  };

  test('npm pack (its prepare script builds) ships both entry points with their declarations', async () => {
    const stage = join(tmp, 'package');
    stagePackage(stage);
    // --ignore-scripts=false: a user configuration that skips scripts would pack without dist/.
    const r = await run('npm', ['pack', '--pack-destination', tmp, '--json', '--ignore-scripts=false'], stage, 180_000);
    expectSuccess(r, 'npm pack');
    // Build output printed on stdout would come before the JSON.
    const json = r.stdout.search(/^\[/m);
    expect(json, `npm pack printed no JSON:\n${r.stdout}`).toBeGreaterThanOrEqual(0);
    const packed = (JSON.parse(r.stdout.slice(json)) as PackResult[])[0]!;
    const files = packed.files.map((f) => f.path);
    for (const f of ['package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/vitest.js', 'dist/vitest.d.ts']) expect(files, f).toContain(f);
    expect(files.filter((f) => /^traces\/[^/]+\.json$/.test(f)).length, 'traces/*.json').toBeGreaterThan(0);
    expect(files.filter((f) => /\.test\./.test(f)), 'tests stay out').toEqual([]);
    tarball = join(tmp, basename(packed.filename));
    expect(existsSync(tarball)).toBe(true);
  }, 240_000);

  test('the example installs from the tarball', async () => {
    needs(tarball !== null, 'npm pack');
    cpSync(EXAMPLE, project, {
      recursive: true,
      // What an install in place leaves behind belongs to that install.
      filter: (src) => !['node_modules', 'package-lock.json'].includes(basename(src)) && !src.endsWith('.tgz'),
    });
    const manifestPath = join(project, 'package.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, Record<string, string> | undefined>;
    const section = ['dependencies', 'devDependencies'].find((s) => manifest[s]?.['hasim'] !== undefined);
    expect(section, 'the example depends on hasim').toBeDefined();
    manifest[section!]!['hasim'] = `file:${tarball}`;
    expect(Object.keys({ ...manifest['dependencies'], ...manifest['devDependencies'] }), 'plain Node runs the package, no TypeScript loader').not.toContain('tsx');
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    // --include=dev: NODE_ENV=production in the caller's environment would leave out vitest and tsc.
    const r = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--include=dev', '--cache', npmCacheDir()], project, 240_000);
    expectSuccess(r, 'npm install');
    expect(existsSync(join(project, 'node_modules', 'hasim', 'dist', 'index.js'))).toBe(true);
    installed = true;
  }, 300_000);

  test('tsc --noEmit type-checks the suite against the shipped declarations', async () => {
    needs(installed, 'npm install');
    // --no: a missing local tsc must fail, not be downloaded.
    expectSuccess(await run('npx', ['--no', '--', 'tsc', '--noEmit'], project, 180_000), 'tsc --noEmit');
  }, 240_000);

  test('the example suite passes', async () => {
    needs(installed, 'npm install');
    const report = join(tmp, 'vitest-report.json');
    const r = await run('npx', ['--no', '--', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`], project, 240_000);
    expectSuccess(r, 'vitest run');
    // A suite that skipped its properties, or found no trace files, would pass too.
    const results = JSON.parse(readFileSync(report, 'utf8')) as JestLikeReport;
    const tests = results.testResults.flatMap((f) => f.assertionResults);
    expect({ failed: results.numFailedTests, pending: results.numPendingTests, todo: results.numTodoTests }).toEqual({ failed: 0, pending: 0, todo: 0 });
    expect(tests.filter((t) => t.status !== 'passed').map((t) => `${t.fullName}: ${t.status}`)).toEqual([]);
    expect(tests.some((t) => t.fullName.includes('hardened holds on 20 seeds')), 'the seed property ran').toBe(true);
    expect(tests.filter((t) => t.fullName.includes('replays with its expected outcome and hash')).length, 'trace files replayed').toBeGreaterThan(0);
  }, 300_000);

  test('plain Node imports the package', async () => {
    needs(installed, 'npm install');
    const r = await run(process.execPath, ['-e', "import('hasim').then(m => console.log(typeof m.runCase))"], project, 60_000);
    expectSuccess(r, 'node -e "import(\'hasim\')"');
    expect(r.stdout.trim()).toBe('function');
  }, 120_000);
});
