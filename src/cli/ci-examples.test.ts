import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { shardSeeds } from './campaign/seed-range.ts';
import { fuzzCommand } from './fuzz-command.ts';

/**
 * The shipped CI examples (GitHub Actions workflow, Kubernetes Indexed Job, its image) must call
 * `hasim` with flags it accepts and have the properties docs/ci.md promises: a fixed-range gate and a
 * non-blocking exploration, a merge of the shards, crashes told apart from findings, and an index of
 * the Job that resumes where it stopped. Their shell steps are run here, with a stub in place of
 * `npx`/`hasim` that records what it was called with.
 */
const root = new URL('../../', import.meta.url);
const read = (file: string): string => readFileSync(new URL(file, root), 'utf8');
const tmp = (): string => mkdtempSync(join(tmpdir(), 'hasim-ci-'));

/** The jobs of a workflow, by id: each one's lines, up to the next job. */
function jobsOf(workflow: string): Map<string, string> {
  const body = workflow.slice(workflow.indexOf('\njobs:\n') + '\njobs:\n'.length);
  const jobs = new Map<string, string>();
  const parts = body.split(/^ {2}([\w-]+):\s*$/m);
  for (let i = 1; i < parts.length; i += 2) jobs.set(parts[i]!, parts[i + 1]!);
  return jobs;
}

/** The script of the block scalar (`run: |`, `- |`) on the first line after `after` that ends in `|`, dedented. */
function blockAfter(text: string, after: RegExp): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => after.test(l));
  if (start < 0) throw new Error(`no line matching ${after}`);
  const head = lines.findIndex((l, i) => i >= start && /\|\s*$/.test(l));
  const indent = lines[head + 1]!.length - lines[head + 1]!.trimStart().length;
  const block: string[] = [];
  for (const l of lines.slice(head + 1)) {
    if (l.trim() !== '' && l.length - l.trimStart().length < indent) break;
    block.push(l.slice(indent));
  }
  return block.join('\n');
}

/** A directory holding an executable stub named `name`, to put first on the PATH. */
function stub(name: string, script: string): string {
  const dir = tmp();
  writeFileSync(join(dir, name), `#!/bin/sh\n${script}\n`);
  chmodSync(join(dir, name), 0o755);
  return dir;
}

/** The arguments of every call the stub recorded (one argument a line, calls separated by `--end--`). */
function calls(log: string): string[][] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8').split('--end--\n').filter((c) => c !== '').map((c) => c.split('\n').filter((a) => a !== ''));
}

const RECORD = 'for a in "$@"; do printf "%s\\n" "$a"; done >> "$LOG"; echo --end-- >> "$LOG"';

function run(shell: 'bash' | 'sh', script: string, cwd: string, env: Record<string, string>): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(shell, shell === 'bash' ? ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script] : ['-c', script], {
    cwd, env: { ...env, PATH: `${env['PATH_FIRST']}:${dirname(process.execPath)}:/usr/bin:/bin` }, encoding: 'utf8',
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the real `hasim fuzz` on the arguments, validating them all, with no seed run. */
async function accepts(args: string[]): Promise<void> {
  const err: string[] = [];
  // `--seeds 0` after the example's own flags: parse and validate everything, run nothing.
  const code = await fuzzCommand([...args, '--seeds', '0', '--budget', '1s'], {
    out: () => undefined, err: (l) => err.push(l), env: {},
    executor: () => ({ concurrency: 1, run: () => Promise.reject(new Error('no seeds expected')), close: async () => undefined }),
  });
  expect(err.filter((l) => l.startsWith('hasim:')), args.join(' ')).toEqual([]);
  expect(code).toBe(0);
}

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

describe('the GitHub Actions workflow', () => {
  const workflow = read('.github/workflows/fuzz.yml');
  const jobs = jobsOf(workflow);

  test('runs on pull requests, pushes and nightly; cancels superseded runs; every job has a timeout', () => {
    expect(workflow).toMatch(/^on:\n {2}pull_request:\n {2}push:\n {4}branches: \[main\]\n {2}schedule:\n {4}- cron: '[^']+'/m);
    expect(workflow).toMatch(/^concurrency:\n {2}group: .*\$\{\{ github\.ref \}\}\n {2}cancel-in-progress: true$/m);
    expect([...jobs.keys()]).toEqual(['test', 'gate', 'explore', 'merge']);
    for (const [id, job] of jobs) expect(job, id).toMatch(/^ {4}timeout-minutes: \d+$/m);
  });

  test('the test job runs the real-Redis conformance steps against a redis:7 service container', () => {
    const job = jobs.get('test')!;
    expect(job).toMatch(/services:\n {6}redis:\n {8}image: redis:7\n {8}ports: \['6379:6379'\]/);
    expect(job).toMatch(/--health-cmd "redis-cli ping"/);
    expect(job).toMatch(/env:\n {6}HASIM_REDIS_URL: redis:\/\/localhost:6379/);
    // The variable the conformance suite reads.
    expect(read('src/systems/streamspace/redis/conformance.test.ts')).toContain('process.env.HASIM_REDIS_URL');
    expect(job).toMatch(/- run: npm test/);
  });

  /** Runs a fuzz step of `job` for `shard` with `npx` exiting `code`; returns the result and the args npx got. */
  function fuzzStep(jobId: 'gate' | 'explore', shard: number, code: number, event = 'pull_request'): { code: number; stdout: string; args: string[]; cwd: string } {
    const script = blockAfter(jobs.get(jobId)!, /- name: hasim fuzz/)
      .replace(/\$\{\{ matrix\.shard \}\}/g, String(shard))
      .replace(/\$\{\{ inputs\.budget \|\| \(github\.event_name == 'schedule' && '(\w+)'\) \|\| '(\w+)' \}\}/g, (_, nightly: string, pr: string) => (event === 'schedule' ? nightly : pr));
    expect(script).not.toContain('${{');
    const cwd = tmp();
    const log = join(cwd, 'npx.log');
    const r = run('bash', script, cwd, { PATH_FIRST: stub('npx', `${RECORD}\necho '{"seedsRun":0}'\nexit "$FAKE_CODE"`), LOG: log, FAKE_CODE: String(code), GITHUB_RUN_NUMBER: '7' });
    return { code: r.code, stdout: r.stdout, args: calls(log)[0] ?? [], cwd };
  }

  test('the gate: a fixed seed range with no budget, blocking, whose shards make the range exactly', async () => {
    const gate = jobs.get('gate')!;
    expect(gate).not.toMatch(/continue-on-error/);
    expect(gate).toMatch(/if: github\.event_name != 'schedule'/);
    expect(gate).toMatch(/shard: \[1, 2, 3, 4\]/);
    const seen: number[] = [];
    for (const shard of [1, 2, 3, 4]) {
      const { args, cwd } = fuzzStep('gate', shard, 0);
      expect(args.slice(0, 2)).toEqual(['hasim', 'fuzz']);
      expect(args).not.toContain('--budget'); // a gate must not depend on the runner's speed
      expect(flag(args, '--shard')).toBe(`${shard}/4`);
      const start = Number(flag(args, '--seed-start'));
      const seeds = Number(flag(args, '--seeds'));
      expect([start, seeds]).toEqual([0, 10000]);
      seen.push(...shardSeeds({ start, total: seeds, shard: { index: shard, count: 4 } }));
      // Everything the merge job reads is in the uploaded directory.
      expect(['--out', '--results', '--junit'].map((f) => flag(args, f)?.split('/')[0])).toEqual(['findings', 'findings', 'findings']);
      expect(args).toContain('--json');
      expect(readFileSync(join(cwd, 'findings/summary.json'), 'utf8')).toBe('{"seedsRun":0}\n');
      const dir = tmp();
      await accepts(args.slice(2).map((a) => a.replace(/^findings/, dir)));
    }
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(10000).keys()]);
  });

  test('exit codes: 1 is a finding, 2 and 3 a crash with a message of its own; the shard fails on all of them', () => {
    const ok = fuzzStep('gate', 2, 0);
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toMatch(/::error/);
    const finding = fuzzStep('gate', 2, 1);
    expect(finding.code).toBe(1);
    expect(finding.stdout).toMatch(/::error title=hasim fuzz gate, shard 2\/4::a violation or a determinism failure/);
    for (const code of [2, 3]) {
      const crash = fuzzStep('gate', 2, code);
      expect(crash.code).toBe(code);
      expect(crash.stdout).toMatch(new RegExp(`::error title=hasim crashed \\(gate, shard 2/4\\)::hasim fuzz exited ${code} .*not a finding`));
      expect(crash.stdout).not.toMatch(/a violation/);
    }
    expect(fuzzStep('explore', 1, 3).stdout).toMatch(/::error title=hasim crashed \(exploration, shard 1\/4\)/);
    expect(fuzzStep('gate', 1, 130).code).toBe(130);
  });

  test('the exploration: non-blocking, a new range above the gate\'s on each run, with a budget; nightly too', async () => {
    const explore = jobs.get('explore')!;
    expect(explore).toMatch(/^ {4}continue-on-error: true$/m);
    expect(explore).not.toMatch(/^ {4}if:/m); // runs on the schedule as well
    for (const [event, budget] of [['pull_request', '10m'], ['schedule', '45m']] as const) {
      const { args, code } = fuzzStep('explore', 3, 0, event);
      expect(code).toBe(0);
      expect(flag(args, '--budget')).toBe(budget);
      expect(flag(args, '--seed-start')).toBe(String(1_000_000_000 + 7 * 1_000_000));
      expect(flag(args, '--shard')).toBe('3/4');
      const dir = tmp();
      await accepts(args.slice(2).map((a) => a.replace(/^findings/, dir)));
    }
  });

  test('every shard uploads its findings directory, even when it failed', () => {
    for (const id of ['gate', 'explore']) {
      expect(jobs.get(id)!, id).toMatch(new RegExp(`- name: upload findings\\n {8}if: always\\(\\)\\n {8}uses: actions/upload-artifact@v\\d+\\n {8}with:\\n {10}name: hasim-${id}-shard-\\$\\{\\{ matrix\\.shard \\}\\}\\n {10}path: findings/`));
    }
  });

  test('the merge job: after both campaigns, one hasim merge per campaign; the gate decides, the exploration reports', () => {
    const merge = jobs.get('merge')!;
    expect(merge).toMatch(/needs: \[gate, explore\]\n {4}if: \$\{\{ !cancelled\(\) \}\}/);
    expect(merge).toMatch(/uses: actions\/download-artifact@v\d+\n {8}with:\n {10}pattern: hasim-\*-shard-\*\n {10}path: shards/);
    // A maintained reporter renders the merged JUnit in the run, pinned to a major version.
    expect(merge).toMatch(/uses: (mikepenz\/action-junit-report|dorny\/test-reporter)@v\d+\n/);
    expect(merge).toMatch(/report_paths: merged\/\*\.xml/);
    expect(merge).toMatch(/checks: write/);
    expect(merge).toMatch(/name: hasim-merged\n {10}path: merged\//);

    const script = blockAfter(merge, /- name: hasim merge/);
    const mergeRun = (gate: number | null, explore: number | null): { code: number; stdout: string; calls: string[][]; summary: string } => {
      const cwd = tmp();
      for (const [campaign, code] of [['gate', gate], ['explore', explore]] as const) {
        if (code === null) continue;
        for (const k of [1, 2]) {
          mkdirSync(join(cwd, `shards/hasim-${campaign}-shard-${k}`), { recursive: true });
          if (k === 1) writeFileSync(join(cwd, `shards/hasim-${campaign}-shard-${k}/results.jsonl`), '');
        }
      }
      const log = join(cwd, 'npx.log');
      const summary = join(cwd, 'step-summary.md');
      const r = run('bash', script, cwd, {
        PATH_FIRST: stub('npx', `${RECORD}\necho merged\ncase "$*" in *hasim-gate-*) exit "$FAKE_GATE";; *) exit "$FAKE_EXPLORE";; esac`),
        LOG: log, FAKE_GATE: String(gate ?? 0), FAKE_EXPLORE: String(explore ?? 0), GITHUB_STEP_SUMMARY: summary,
      });
      return { ...r, calls: calls(log), summary: existsSync(summary) ? readFileSync(summary, 'utf8') : '' };
    };
    const clean = mergeRun(0, 1);
    expect(clean.code).toBe(0); // the exploration's finding does not fail the job
    expect(clean.calls.map((c) => c.slice(0, 2))).toEqual([['hasim', 'merge'], ['hasim', 'merge']]);
    expect(clean.calls[0]).toEqual(['hasim', 'merge', 'shards/hasim-gate-shard-1/', 'shards/hasim-gate-shard-2/', '--results', 'shards/hasim-gate-shard-1/results.jsonl', '--junit', 'merged/gate.xml']);
    expect(clean.summary).toMatch(/### hasim fuzz: gate\n```\nmerged\n```\n### hasim fuzz: explore/);
    expect(mergeRun(1, 0).code).toBe(1);
    const crash = mergeRun(3, 0);
    expect(crash.code).toBe(3);
    expect(crash.stdout).toMatch(/::error title=hasim merge crashed \(gate\)::hasim merge exited 3/);
    // Nightly: no gate ran, only the exploration is merged.
    const nightly = mergeRun(null, 0);
    expect(nightly.code).toBe(0);
    expect(nightly.calls.length).toBe(1);
    expect(nightly.calls[0]).toContain('shards/hasim-explore-shard-1/');
  });
});

describe('the Kubernetes Indexed Job', () => {
  const manifest = read('deploy/kubernetes/fuzz-indexed-job.yaml');
  const completions = Number(/completions: (\d+)/.exec(manifest)![1]);
  const env = (name: string): string => /name: (\w+)\s+value: "([^"]*)"/g.exec(manifest.slice(manifest.indexOf(`name: ${name}`)))![2]!;
  const script = blockAfter(manifest, /^ {10}args:$/);

  test('cleans up after itself, fails the Job on a crash, does not count an eviction as a failure', () => {
    expect(Number(env('SHARDS'))).toBe(completions);
    expect(manifest).toMatch(/^ {2}ttlSecondsAfterFinished: \d+$/m);
    expect(manifest).toMatch(/^ {2}backoffLimitPerIndex: \d+/m);
    const rules = manifest.slice(manifest.indexOf('podFailurePolicy:'), manifest.indexOf('template:'));
    const actions = [...rules.matchAll(/- action: (\w+)\n((?: {8}.*\n)*)/g)].map((m) => [m[1], m[2]!.replace(/\s+/g, ' ').trim()]);
    expect(actions).toEqual([
      ['Ignore', 'onPodConditions: - type: DisruptionTarget'],
      ['FailJob', 'onExitCodes: { containerName: hasim, operator: In, values: [2, 3] }'],
      ['FailIndex', 'onExitCodes: { containerName: hasim, operator: In, values: [1] }'],
    ]);
    expect(manifest).toMatch(/terminationGracePeriodSeconds: \d+/);
  });

  /** Runs index `index`'s container script over `findings` with a stub hasim. */
  function container(findings: string, index: number, o: { fuzz?: number; merge?: number; seeds?: string; fuzzScript?: string } = {}): { code: number; stderr: string; stdout: string; calls: string[][] } {
    const log = join(findings, `hasim-${index}.log`);
    const r = run('sh', script.replace(/\/findings\//g, `${findings}/`), findings, {
      PATH_FIRST: stub('hasim', o.fuzzScript ?? `${RECORD}\ncase "$1" in fuzz) exit "$FAKE_FUZZ";; *) exit "$FAKE_MERGE";; esac`),
      LOG: log, FAKE_FUZZ: String(o.fuzz ?? 0), FAKE_MERGE: String(o.merge ?? 0),
      JOB_COMPLETION_INDEX: String(index), SHARDS: env('SHARDS'), SEEDS: o.seeds ?? env('SEEDS'), SEED_START: env('SEED_START'),
    });
    return { ...r, calls: calls(log) };
  }

  /** Shard `k` of `n`'s seeds, as a results file would hold them (`seeds`: their positions in the stride). */
  function results(file: string, k: number, n: number, positions: number[]): void {
    writeFileSync(file, positions.map((j) => JSON.stringify({ seed: k - 1 + j * n, outcome: 'pass', hash: '0'.repeat(64) }) + '\n').join(''));
  }

  test('each completion index runs its shard with valid flags, then merges its attempts', async () => {
    for (let index = 0; index < completions; index++) {
      const findings = tmp();
      const r = container(findings, index);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const [fuzz, merge] = r.calls;
      expect(fuzz![0]).toBe('fuzz');
      expect(flag(fuzz!, '--shard')).toBe(`${index + 1}/${completions}`);
      expect([flag(fuzz!, '--seed-start'), flag(fuzz!, '--seeds')]).toEqual([env('SEED_START'), env('SEEDS')]);
      const dir = `${findings}/shard-${index}`;
      expect(flag(fuzz!, '--out')).toBe(dir);
      expect(flag(fuzz!, '--results')).toMatch(new RegExp(`^${dir}/results-\\d{8}T\\d{6}Z\\.jsonl$`));
      expect(merge!.slice(0, 2)).toEqual(['merge', dir]);
      await accepts(fuzz!.slice(1));
    }
  });

  test('a restarted index resumes at its first seed no attempt ran, and runs exactly the rest of its shard', () => {
    const n = completions;
    const k = 3;
    const whole = [...shardSeeds({ start: 0, total: 1_000_000, shard: { index: k, count: n } })];
    const resumed = (files: Array<[string, number[]]>, seeds?: string): string[] => {
      const findings = tmp();
      mkdirSync(join(findings, `shard-${k - 1}`));
      for (const [name, positions] of files) results(join(findings, `shard-${k - 1}`, name), k, n, positions);
      return container(findings, k - 1, seeds === undefined ? {} : { seeds }).calls[0]!;
    };
    const rest = (args: string[]): number[] => [...shardSeeds({ start: Number(flag(args, '--seed-start')), total: Number(flag(args, '--seeds')), shard: { index: k, count: n } })];

    // One earlier attempt that ran the first 100 seeds of the shard.
    const after100 = resumed([['results-20260101T000000Z.jsonl', [...Array(100).keys()]]]);
    expect([flag(after100, '--seed-start'), flag(after100, '--seeds')]).toEqual([String(100 * n), String(1_000_000 - 100 * n)]);
    expect(rest(after100)).toEqual(whole.slice(100));
    // Two attempts with a gap between them: the gap is run (and what follows it, again).
    const gap = resumed([['results-a.jsonl', [...Array(50).keys()]], ['results-b.jsonl', [...Array(40).keys()].map((j) => j + 60)]]);
    expect(rest(gap)).toEqual(whole.slice(50));
    // Everything done: nothing left to run.
    const done = resumed([['results-a.jsonl', [...Array(13).keys()]]], '100');
    expect(flag(done, '--seeds')).toBe('0');
  });

  test('exit codes: 2 and 3 end it before the merge; 1 and 0 are the merge\'s verdict over every attempt', () => {
    for (const code of [2, 3, 130]) {
      const r = container(tmp(), 0, { fuzz: code });
      expect(r.code).toBe(code);
      expect(r.calls.length).toBe(1);
    }
    expect(container(tmp(), 0, { fuzz: 3 }).stderr).toMatch(/not a finding/);
    // An earlier attempt's violation: this attempt found nothing, the merge over both says 1.
    expect(container(tmp(), 0, { fuzz: 0, merge: 1 }).code).toBe(1);
    expect(container(tmp(), 0, { fuzz: 1, merge: 1 }).code).toBe(1);
  });

  test('SIGTERM (an eviction) reaches hasim, and the index exits with hasim\'s own code', async () => {
    const findings = tmp();
    const log = join(findings, 'signals.log');
    const fuzzScript = `case "$1" in fuzz) ;; *) exit 0;; esac\ntrap 'echo term >> "$LOG"; exit 130' TERM\necho started >> "$LOG"\nwhile :; do sleep 0.05; done`;
    const child = spawn('sh', ['-c', script.replace(/\/findings\//g, `${findings}/`)], {
      cwd: findings,
      env: { PATH: `${stub('hasim', fuzzScript)}:${dirname(process.execPath)}:/usr/bin:/bin`, LOG: log, JOB_COMPLETION_INDEX: '0', SHARDS: env('SHARDS'), SEEDS: env('SEEDS'), SEED_START: env('SEED_START') },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 200 && !(existsSync(log) && readFileSync(log, 'utf8').includes('started')); i++) await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGTERM');
    expect(await exited).toBe(130);
    expect(readFileSync(log, 'utf8')).toBe('started\nterm\n');
  });

  test('the image builds the CLI and puts hasim on the PATH, as the Job calls it', () => {
    const dockerfile = read('deploy/Dockerfile');
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toMatch(/COPY --from=build \/hasim\/dist \.\/dist/);
    expect(dockerfile).toMatch(/ln -s \/hasim\/bin\/hasim\.mjs \/usr\/local\/bin\/hasim/);
    expect(manifest).toMatch(/image: hasim:latest/);
  });
});
