import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { caseForSeed } from '../harness/seeded-case.ts';
import { streamspace } from '../systems/index.ts';
import { caseSpaceArgs, caseSpaceFrom, deploymentFrom } from './case-space-flags.ts';
import { main } from './main.ts';

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

/** The fault kinds StreamSpace had before the pod-level ones: the space every seed quoted before them was found in. */
const OLDER_KINDS = 'crash,delete,pause,isolate,partition,link-burst,clock-jump,clock-drift,redis-restart,redis-evict,pg-write-errors,kube-api,node-failure';

describe('--deployment', () => {
  test('defaults to swarm for a system with deployments, and the rerun flags always name it', () => {
    expect(caseSpaceFrom({}).space.deployment).toBe('swarm');
    expect(caseSpaceFrom({ deployment: 'helm-chart-ha' }).space.deployment).toBe('helm-chart-ha');
    expect(caseSpaceArgs({})).toBe('--profile hardened --deployment swarm');
    expect(caseSpaceArgs({ deployment: 'seed-000', profile: 'streamspace-v2' })).toBe('--profile streamspace-v2 --deployment seed-000');
  });

  test.each([
    [['fuzz', '--deployment', 'prod', '--seeds', '1']],
    [['run', '--seed', '1', '--deployment', 'prod']],
  ])('%j: an unknown name is bad usage, exit 2 and one line naming the known ones', async (argv) => {
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.out).toEqual([]);
    expect(r.err).toEqual(["hasim: --deployment: unknown deployment 'prod' (known: seed-000, helm-chart-default, helm-chart-ha, many-agents, r004-chart-autoscaling, r004-jewelry-shop, r004-redis-sentinel, r004-redis-sentinel-all-nodes, r004-patroni-async, r004-patroni-sync, r004-patroni-sync-strict, swarm)"]);
  });

  test('a --config that breaks a deployment it may meet is bad usage too', () => {
    expect(() => caseSpaceFrom({ deployment: 'swarm', config: 'no-such-file.json' })).toThrow(/--config/);
  });

  test('a system without deployments takes none', () => {
    const plain = { ...streamspace, name: 'plain', deployments: undefined };
    expect(deploymentFrom(plain, undefined)).toBeUndefined();
    expect(() => deploymentFrom(plain, 'seed-000')).toThrow("--deployment: system 'plain' has no deployments");
  });

  test('hasim list deployments --json: the named deployments, then swarm with its ranges', async () => {
    const r = await cli('list', 'deployments', '--json');
    expect(r.code).toBe(0);
    const items = (JSON.parse(r.out[0]!) as { deployments: Array<{ name: string; summary: string; details: string }> }).deployments;
    expect(items.map((d) => d.name)).toEqual(['seed-000', 'helm-chart-default', 'helm-chart-ha', 'many-agents', 'r004-chart-autoscaling', 'r004-jewelry-shop', 'r004-redis-sentinel', 'r004-redis-sentinel-all-nodes', 'r004-patroni-async', 'r004-patroni-sync', 'r004-patroni-sync-strict', 'swarm']);
    expect(items[0]!.summary).toMatch(/the defaults/);
    // The seed-004 deployments are run by naming them: swarm mode does not draw them, and says which it draws.
    const namedOnly = items.filter((d) => d.summary.endsWith('(named only: swarm mode does not draw it)')).map((d) => d.name);
    expect(namedOnly).toEqual(['r004-chart-autoscaling', 'r004-jewelry-shop', 'r004-redis-sentinel', 'r004-redis-sentinel-all-nodes', 'r004-patroni-async', 'r004-patroni-sync', 'r004-patroni-sync-strict']);
    expect(items.at(-1)!.summary).toMatch(/^each seed draws one of seed-000, helm-chart-default, helm-chart-ha, many-agents and perturbs it/);
    expect(items.at(-1)!.summary).toMatch(/topology\.apiReplicas 1 to 5.*topology\.agentReplicas 1 to 30/);
  });

  test('hasim run names the seed\'s deployment and, perturbed, what it deploys', async () => {
    const r = await cli('run', '--seed', '3', '--max-faults', '1', '--json');
    const j = JSON.parse(r.out[0]!) as { deployment: { name: string; perturbed: boolean; describe: string } };
    expect(j.deployment.perturbed).toBe(true);
    expect(j.deployment.describe).toMatch(/API pod/);
    expect(j.deployment.name).toBe(caseForSeed(streamspace, { profile: 'hardened', deployment: 'swarm', maxFaults: 1 }, 3).deployment!.name);
  });
});

describe('--deployment seed-000 keeps the seed → case mapping seeds were quoted with', () => {
  const dir = fileURLToPath(new URL('../../traces/', import.meta.url));
  const reruns = readdirSync(dir).filter((f) => f.endsWith('.json')).flatMap((f) => {
    const trace = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
      seed: number; schedule: unknown[]; found?: { rerun?: string; shrunk?: string }; expectations: Array<{ profile: string; hash: string; outcome: string }>;
    };
    // A seed's own case, saved unshrunk, with the command that reruns it.
    const rerun = trace.found?.rerun;
    const unshrunk = trace.found?.shrunk === undefined || trace.found.shrunk.startsWith('not');
    return unshrunk && rerun?.startsWith('npx hasim run ') ? [{ file: f, trace, argv: rerun.slice('npx hasim run '.length).split(' ') }] : [];
  });

  test('traces/ holds seeds saved unshrunk with their rerun command', () => expect(reruns.length).toBeGreaterThan(0));

  test.each(reruns.map((r) => [r.file, r]))('%s: its rerun command with --deployment seed-000 gives its schedule and its trace hash', async (_file, r) => {
    // A command quoted before deployments existed names neither; one quoted since names both it needs.
    const quotedBefore = !r.argv.includes('--deployment');
    const argv = [...r.argv, ...(quotedBefore ? ['--deployment', 'seed-000'] : []), ...(quotedBefore && !r.argv.includes('--faults') ? ['--faults', OLDER_KINDS] : []), '--json'];
    const run = await cli('run', ...argv);
    const j = JSON.parse(run.out[0]!) as { profile: string; schedule: unknown[]; hash: string; outcome: string };
    expect(j.schedule).toEqual(r.trace.schedule);
    const expectation = r.trace.expectations.find((e) => e.profile === j.profile)!;
    expect({ outcome: j.outcome, hash: j.hash }).toEqual({ outcome: expectation.outcome, hash: expectation.hash });
  }, 30_000);
});

describe('determinism across processes', () => {
  const bin = fileURLToPath(new URL('../../bin/hasim.mjs', import.meta.url));
  test('the same seed of a deployment swarm gives the same deployment and trace hash in two processes', () => {
    const once = (): { deployment: unknown; hash: string } => {
      const r = spawnSync(process.execPath, [bin, 'run', '--seed', '11', '--max-faults', '2', '--json'], { encoding: 'utf8', timeout: 30_000 });
      const j = JSON.parse(r.stdout) as { deployment: unknown; hash: string };
      return { deployment: j.deployment, hash: j.hash };
    };
    const a = once();
    expect(a.deployment).toBeDefined();
    expect(once()).toEqual(a);
  }, 60_000);
});
