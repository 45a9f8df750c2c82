import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { fuzzCommand } from './fuzz-command.ts';

/**
 * The shipped CI examples (GitHub Actions workflow, Kubernetes Indexed Job) must call `hasim fuzz`
 * with flags it accepts, and every shard index they produce must be a valid `--shard`.
 */
const root = new URL('../../', import.meta.url);

function fuzzArgs(file: string, substitutions: Array<[RegExp, string]>): string[] {
  let text = readFileSync(new URL(file, root), 'utf8');
  for (const [pattern, value] of substitutions) text = text.replace(pattern, value);
  const m = /npx hasim fuzz([\s\S]*?--junit\s+\S+)/.exec(text);
  if (m === null) throw new Error(`${file}: no hasim fuzz command`);
  return m[1]!.trim().split(/\s+/).map((a) => a.replace(/^"|"$/g, ''));
}

async function accepts(args: string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'hasim-ci-'));
  const out: string[] = [];
  const err: string[] = [];
  // `--seeds 0` after the example's own flags: parse and validate everything, run nothing.
  const code = await fuzzCommand([...args.map((a) => a.replace(/^(findings|\/findings)/, dir).replace(/^junit/, `${dir}/junit`)), '--seeds', '0', '--budget', '1s'], {
    out: (l) => out.push(l), err: (l) => err.push(l),
    executor: () => ({ concurrency: 1, run: () => Promise.reject(new Error('no seeds expected')), close: async () => undefined }),
  });
  expect(err.filter((l) => l.startsWith('hasim:')), args.join(' ')).toEqual([]);
  expect(code).toBe(0);
  return out;
}

test('the GitHub Actions workflow runs hasim fuzz with valid flags on every shard', async () => {
  for (const shard of ['1', '2', '3', '4']) {
    const args = fuzzArgs('.github/workflows/fuzz.yml', [
      [/\$\{\{ inputs\.budget \|\| '5m' \}\}/g, '5m'],
      [/\$\(\( GITHUB_RUN_NUMBER \* 1000000 \)\)/g, '7000000'],
      [/\$\{\{ matrix\.shard \}\}/g, shard],
    ]);
    expect(args).toContain(`${shard}/4`);
    await accepts(args);
  }
});

test('the Kubernetes Indexed Job maps each completion index to a valid shard', async () => {
  const manifest = readFileSync(new URL('deploy/kubernetes/fuzz-indexed-job.yaml', root), 'utf8');
  const completions = Number(/completions: (\d+)/.exec(manifest)![1]);
  const shards = Number(/name: SHARDS\s+value: "(\d+)"/.exec(manifest)![1]);
  expect(shards).toBe(completions);
  for (let index = 0; index < completions; index++) {
    const args = fuzzArgs('deploy/kubernetes/fuzz-indexed-job.yaml', [
      [/\$\(\(JOB_COMPLETION_INDEX \+ 1\)\)/g, String(index + 1)],
      [/\$JOB_COMPLETION_INDEX/g, String(index)],
      [/\$SHARDS/g, String(shards)],
      [/\$SEEDS/g, '1000000'],
    ]);
    expect(args).toContain(`${index + 1}/${shards}`);
    await accepts(args);
  }
});
