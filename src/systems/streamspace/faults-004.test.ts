import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { SECOND, type TraceEvent } from '../../sim-cluster/index.ts';
import { scheduleProblem, type FaultRecord } from '../../faults/fault-kind.ts';
import { caseOf, execute } from '../../harness/run-case.ts';
import { caseForSeed, scheduleArbitraryFor } from '../../harness/seeded-case.ts';
import { caseSpaceDigest } from '../../cli/campaign/findings-store.ts';
import { main } from '../../cli/main.ts';
import { StreamSpaceCluster } from './cluster/cluster.ts';
import type { ConfigOverrides } from './config.ts';
import { egressPartition, hpaMetricsStale, KUBECTL_EVICT_RETRY_US, loadSpike, nodeDrain, SEED_004_FAULT_KINDS } from './faults-004.ts';
import { ClusterView } from './invariants/cluster-view.ts';
import { streamspace } from './system.ts';

/** Light load, so that runs are short and commands never overlap. */
const LIGHT: ConfigOverrides = { workload: { requestIntervalUs: 60 * SECOND, createFraction: 0.5, startUs: 60 * SECOND } };
const NEW_KINDS = SEED_004_FAULT_KINDS.map((k) => k.kind as string);

/** A hardened case of hand-written faults, run to its end with every event kept. */
function run(overrides: ConfigOverrides, schedule: FaultRecord[], seed = 5, profile = 'hardened') {
  const x = execute(streamspace, caseOf(streamspace, profile, seed, schedule, { overrides }), { keepEvents: true, collect: 'all' });
  return { verdict: x.verdict, cluster: x.instance, events: x.verdict.events! };
}

const of = (events: readonly TraceEvent[], kind: string, where: (e: TraceEvent) => boolean = () => true): TraceEvent[] => events.filter((e) => e.k === kind && where(e));
const pod = (e: TraceEvent): string => e.d!['pod'] as string;

describe('opt-in kinds', () => {
  test('the seed-004 kinds are drawn only when named: the default space draws what it drew before them, and names the same digest', () => {
    const defaults = scheduleArbitraryFor(streamspace, { profile: 'hardened' });
    fc.assert(fc.property(defaults, (schedule) => schedule.every((f) => !NEW_KINDS.includes(f.kind))), { numRuns: 300, seed: 4 });
    const old = streamspace.faults.filter((k) => k.drawn !== 'when-named').map((k) => k.kind as string);
    expect(caseSpaceDigest(streamspace, { profile: 'hardened' })).toBe(caseSpaceDigest(streamspace, { profile: 'hardened', kinds: old }));
    expect(caseSpaceDigest(streamspace, { profile: 'hardened', kinds: [...old, 'node-drain'] })).not.toBe(caseSpaceDigest(streamspace, { profile: 'hardened' }));
    expect(caseForSeed(streamspace, { profile: 'hardened' }, 11).schedule).toEqual(caseForSeed(streamspace, { profile: 'hardened', kinds: old }, 11).schedule);
  });

  test('named, they are drawn, and every schedule drawn passes the schedule checks', () => {
    const named = scheduleArbitraryFor(streamspace, { profile: 'hardened', kinds: NEW_KINDS, swarm: false, maxFaults: 12 });
    const seen = new Set<string>();
    fc.assert(fc.property(named, (schedule) => {
      for (const f of schedule) seen.add(f.kind);
      expect(scheduleProblem(schedule, streamspace.faults, streamspace.roles)).toBeNull();
    }), { numRuns: 200, seed: 9 });
    expect([...seen].sort()).toEqual([...NEW_KINDS].sort());
  });
});

describe('node-drain', () => {
  // Packed round robin on three nodes: api-0, api-3 and agent-2 on node-1.
  const PDB: ConfigOverrides = { ...LIGHT, topology: { apiReplicas: 4 }, kubernetes: { apiPdbMinAvailable: 3 } };
  const drain: FaultRecord = { kind: 'node-drain', at: 150 * SECOND, target: { role: 'worker-node', index: 0 }, durationUs: 120 * SECOND };

  test('evicts every pod of the node; an API eviction that would leave fewer than minAvailable ready is refused (429) and retried every 5 s until the replacement is ready', () => {
    const { events, cluster } = run(PDB, [drain]);
    expect(of(events, 'fault.node-drain').map((e) => e.d)).toEqual([{ node: 'node-1', durationUs: 120 * SECOND, pods: 3 }]);
    expect(of(events, 'k8s.cordon').map((e) => [e.t, e.d])).toEqual([[150 * SECOND, { node: 'node-1' }]]);
    // api-0 goes at once (4 ready, 3 needed); api-3 then waits for api-0's replacement.
    const evicted = of(events, 'k8s.evict');
    expect(evicted.map(pod).sort()).toEqual(['agent-2', 'api-0', 'api-3']);
    expect(evicted.find((e) => pod(e) === 'api-0')!.t).toBe(150 * SECOND);
    const refused = of(events, 'k8s.evict-refused');
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused.map(pod))).toEqual(new Set(['api-3']));
    expect(refused.map((e) => e.t)).toEqual(refused.map((_, i) => 150 * SECOND + i * KUBECTL_EVICT_RETRY_US));
    expect(refused.every((e) => e.d!['healthy'] === 3)).toBe(true);
    const replacement = of(events, 'k8s.delete-pod', (e) => pod(e) === 'api-0').length === 1 ? 'api-4' : '';
    const ready = of(events, 'api.listening', (e) => e.p === replacement)[0]!;
    const api3 = evicted.find((e) => pod(e) === 'api-3')!;
    expect(api3.t).toBeGreaterThan(ready.t);
    expect(api3.t - refused.at(-1)!.t).toBe(KUBECTL_EVICT_RETRY_US);
    // The window's end uncordons the node; nothing moves back to it.
    expect(of(events, 'k8s.uncordon').map((e) => [e.t, e.d])).toEqual([[270 * SECOND, { node: 'node-1' }]]);
    expect(cluster.podsOn('node-1')).toEqual([]);
  });

  test('without a PodDisruptionBudget (the chart\'s default) every pod is evicted at once', () => {
    const { events } = run({ ...PDB, kubernetes: { apiPdbMinAvailable: null } }, [drain]);
    expect(of(events, 'k8s.evict-refused')).toEqual([]);
    expect(of(events, 'k8s.evict').map((e) => [e.t, pod(e)])).toEqual([[150 * SECOND, 'api-0'], [150 * SECOND, 'api-3'], [150 * SECOND, 'agent-2']]);
  });

  test('a cordoned node gets no new pod: replacements made during the window go elsewhere, even to busier nodes', () => {
    // One pod per node: the drained node, emptied, would be the least loaded one.
    const SPREAD: ConfigOverrides = { ...LIGHT, topology: { placement: 'one-per-node', workerNodes: 7 } };
    const schedule: FaultRecord[] = [
      { kind: 'node-drain', at: 150 * SECOND, target: { role: 'api', index: 0 }, durationUs: 120 * SECOND },
      { kind: 'delete', at: 200 * SECOND, target: { role: 'agent', index: 1 } },
    ];
    const { events, cluster } = run(SPREAD, schedule);
    const drained = of(events, 'fault.node-drain')[0]!.d!['node'] as string;
    const placedDuring = of(events, 'proc.start', (e) => e.t > 150 * SECOND && e.t < 270 * SECOND).map((e) => e.d!['node']);
    expect(placedDuring.length).toBeGreaterThanOrEqual(2);
    expect(placedDuring).not.toContain(drained);
    expect(cluster.podsOn(drained)).toEqual([]);
  });

  test('Redis moves to another node and starts empty; PostgreSQL is recreated elsewhere with its data', () => {
    const schedule: FaultRecord[] = [
      { kind: 'node-drain', at: 150 * SECOND, target: { role: 'redis' }, durationUs: 60 * SECOND },
      { kind: 'node-drain', at: 300 * SECOND, target: { role: 'postgres' }, durationUs: 60 * SECOND },
    ];
    const { events, cluster } = run(LIGHT, schedule);
    const [redisDrain, postgresDrain] = of(events, 'fault.node-drain').map((e) => e.d!['node']);
    const starts = (p: string, from: number): unknown[] => of(events, 'proc.start', (e) => e.p === p && e.t > from).map((e) => e.d!['node']);
    expect(starts('redis', 150 * SECOND)[0]).not.toBe(redisDrain);
    expect(of(events, 'redis.start', (e) => e.t > 150 * SECOND)[0]!.d).toEqual({ keys: 0, fromSnapshot: false });
    expect(starts('postgres', 300 * SECOND)).toEqual([cluster.podNode('postgres')]);
    expect(cluster.podNode('postgres')).not.toBe(postgresDrain);
    // Commands accepted before the drain are still in the table the new PostgreSQL pod serves.
    const inserted = of(events, 'db.command.insert', (e) => e.t < 300 * SECOND).map((e) => e.d!['command']);
    expect(inserted.length).toBeGreaterThan(0);
    for (const command of inserted) expect(cluster.postgres.getCommand(command as string)).toBeDefined();
    expect(of(events, 'db.command.insert', (e) => e.t > 310 * SECOND).length).toBeGreaterThan(0);
  });

  test('with every node cordoned evicted pods stay Pending (Redis keeps its Service name) and are placed when a node is uncordoned', () => {
    const schedule: FaultRecord[] = [0, 1, 2].map((index) => ({
      kind: 'node-drain', at: 150 * SECOND, target: { role: 'worker-node', index }, durationUs: (60 + 30 * index) * SECOND,
    }));
    const { events, cluster, verdict } = run(LIGHT, schedule);
    expect(verdict.modelFailure).toBeNull();
    const pending = of(events, 'k8s.pod-pending');
    expect(pending.length).toBeGreaterThan(0);
    const scheduled = of(events, 'k8s.pod-scheduled');
    expect(scheduled.map(pod).sort()).toEqual(pending.map(pod).sort());
    // The first uncordon (node-1, at 210 s) takes them all.
    expect(new Set(scheduled.map((e) => [e.t, e.d!['node']].join(' ')))).toEqual(new Set([`${210 * SECOND} node-1`]));
    expect(cluster.pendingPods).toEqual([]);
  });

  test('the heal stops the drain\'s retries and uncordons every node', () => {
    const { events, cluster } = run({ ...LIGHT, kubernetes: { apiPdbMinAvailable: 2 } }, [
      // minAvailable = replicas: the API pod on the node can never be evicted.
      { kind: 'node-drain', at: 150 * SECOND, target: { role: 'worker-node', index: 0 }, durationUs: 30 * SECOND },
    ]);
    const refused = of(events, 'k8s.evict-refused');
    expect(refused.map((e) => e.t)).toEqual([0, 1, 2, 3, 4, 5].map((i) => 150 * SECOND + i * KUBECTL_EVICT_RETRY_US));
    expect(cluster.cordonedNodes).toEqual([]);
    expect(cluster.apiPods).toContain('api-0');
  });
});

describe('egress-partition', () => {
  /** The partition at 150 s, and api-0 deleted just after: its replacement starts inside the window. */
  const schedule = (existing: 'kept' | 'cut'): FaultRecord[] => [
    { kind: 'egress-partition', at: 150 * SECOND, to: 'redis', existing, durationUs: 60 * SECOND },
    { kind: 'delete', at: 151 * SECOND, target: { role: 'api', index: 0 } },
  ];

  test('an API pod started during the window cannot reach Redis: its 5 s start-up PING times out and it runs in single-pod mode for life (as built)', () => {
    const { events } = run(LIGHT, schedule('kept'), 5, 'streamspace-v2');
    expect(of(events, 'fault.egress-partition').map((e) => e.d)).toEqual([{ to: 'redis', existing: 'kept', durationUs: 60 * SECOND, apiPods: 2 }]);
    expect(of(events, 'api.redis-mode').map((e) => [e.p, e.d!['enabled']])).toEqual([['api-0', true], ['api-1', true], ['api-2', false]]);
    const dial = of(events, 'conn.dial', (e) => e.p === 'api-2' && e.d!['to'] === 'redis')[0]!;
    expect(of(events, 'api.redis-mode', (e) => e.p === 'api-2')[0]!.t - dial.t).toBe(5 * SECOND);
    expect(of(events, 'conn.close', (e) => e.p === 'api-2' && e.d!['c'] === dial.d!['c']).map((e) => e.d!['reason'])).toEqual(['connect-timeout']);
  });

  test('hardened (wait-for-redis): the new pod keeps dialling and gets Redis at the first dial after the policy goes', () => {
    const { events } = run(LIGHT, schedule('kept'));
    const timeouts = of(events, 'conn.close', (e) => e.p === 'api-2' && e.d!['reason'] === 'connect-timeout');
    expect(timeouts.length).toBeGreaterThan(5);
    expect(timeouts.every((e) => e.t < 215 * SECOND)).toBe(true);
    const enabled = of(events, 'api.redis-mode', (e) => e.p === 'api-2');
    expect(enabled.map((e) => e.d!['enabled'])).toEqual([true]);
    expect(enabled[0]!.t).toBeGreaterThan(210 * SECOND);
  });

  test('kept: established Redis connections keep flowing; cut: they stall (Redis hears nothing from the API pods) until the window ends', () => {
    const sets = (events: readonly TraceEvent[], from: number, to: number): number => of(events, 'redis.set', (e) => e.t > from && e.t < to).length;
    const only = (existing: 'kept' | 'cut'): FaultRecord[] => schedule(existing).slice(0, 1);
    const kept = run(LIGHT, only('kept')).events;
    const cut = run(LIGHT, only('cut')).events;
    expect(sets(kept, 150 * SECOND, 210 * SECOND)).toBeGreaterThan(0);
    expect(sets(cut, 150 * SECOND, 210 * SECOND)).toBe(0);
    expect(sets(cut, 210 * SECOND, 250 * SECOND)).toBeGreaterThan(0);
  });

  test('PostgreSQL too: with `both`, neither is reachable from an API pod, either way, until the heal removes the policy', () => {
    const probes: boolean[] = [];
    const probe = (at: number) => ({
      at, what: 'look at the network',
      run: (cluster: StreamSpaceCluster) => {
        const api = cluster.sim.process(cluster.apiPods[0]!);
        for (const target of ['redis', 'postgres']) probes.push(cluster.sim.network.canReach(api, cluster.sim.process(target)), cluster.sim.network.canReach(cluster.sim.process(target), api));
      },
    });
    const c = caseOf(streamspace, 'hardened', 5, [{ kind: 'egress-partition', at: 150 * SECOND, to: 'both', existing: 'cut', durationUs: 60 * SECOND }], { overrides: LIGHT });
    const events = execute(streamspace, c, { keepEvents: true, actions: [probe(180 * SECOND), probe(211 * SECOND)] }).verdict.events!;
    expect(of(events, 'net.egress-deny').map((e) => e.d)).toEqual([{ rule: 0, to: ['redis', 'postgres'], existing: 'cut' }]);
    expect(probes).toEqual([false, false, false, false, true, true, true, true]);
  });
});

describe('hooks: stale HPA metrics and load spikes', () => {
  test('without an HPA or a load generator they are recorded as having no effect', () => {
    const { events, verdict } = run(LIGHT, [
      { kind: 'hpa-metrics-stale', at: 150 * SECOND, durationUs: 30 * SECOND },
      { kind: 'load-spike', at: 150 * SECOND, users: 500, spawnRatePerSecond: 50, durationUs: 30 * SECOND },
    ]);
    expect(of(events, 'fault.hpa-metrics-stale').map((e) => e.d)).toEqual([{ durationUs: 30 * SECOND, applied: 0 }]);
    expect(of(events, 'fault.load-spike').map((e) => e.d)).toEqual([{ users: 500, spawnRatePerSecond: 50, durationUs: 30 * SECOND, applied: 0 }]);
    expect(verdict.modelFailure).toBeNull();
  });

  test('they drive the cluster\'s metrics pipeline and load generator; overlapping windows nest; the heal ends what is left', () => {
    const cluster = new StreamSpaceCluster({ seed: 1, config: LIGHT });
    const calls: string[] = [];
    Object.defineProperty(cluster, 'metricsServer', { value: { setStale: (s: boolean) => calls.push(`stale ${s}`) } });
    Object.defineProperty(cluster, 'load', { value: { spike: (u: number, r: number) => calls.push(`spike ${u} ${r}`), endSpike: () => calls.push('end') } });
    const ends: Array<() => void> = [];
    const ctx = {
      instance: cluster, view: new ClusterView(), sim: cluster.sim, platform: streamspace.platform, baseDriftPpm: () => 0,
      record: () => undefined, until: (_label: string, undo: () => void) => void ends.push(undo),
    };
    hpaMetricsStale.apply({ kind: 'hpa-metrics-stale', at: 0, durationUs: 1 }, ctx);
    hpaMetricsStale.apply({ kind: 'hpa-metrics-stale', at: 0, durationUs: 2 }, ctx);
    ends.shift()!();
    loadSpike.apply({ kind: 'load-spike', at: 0, users: 10, spawnRatePerSecond: 2, durationUs: 1 }, ctx);
    loadSpike.apply({ kind: 'load-spike', at: 0, users: 5, spawnRatePerSecond: 1, durationUs: 1 }, ctx);
    expect(calls).toEqual(['stale true', 'spike 10 2', 'spike 5 1']);
    hpaMetricsStale.heal!(ctx);
    loadSpike.heal!(ctx);
    expect(calls.slice(3)).toEqual(['stale false', 'end']);
    // Healed: a second heal has nothing left to do.
    hpaMetricsStale.heal!(ctx);
    loadSpike.heal!(ctx);
    expect(calls).toHaveLength(5);
  });
});

describe('heal', () => {
  test('a heal in the middle of every window undoes them all: no rule, no cordon, nothing Pending, every pair reachable', () => {
    const cluster = new StreamSpaceCluster({ seed: 2, config: LIGHT });
    cluster.sim.run({ until: 150 * SECOND });
    const ctx = {
      instance: cluster, view: new ClusterView(), sim: cluster.sim, platform: streamspace.platform, baseDriftPpm: () => 0,
      record: () => undefined, until: () => undefined,
    };
    nodeDrain.apply({ kind: 'node-drain', at: 0, target: { role: 'worker-node', index: 1 }, durationUs: 1 }, ctx);
    egressPartition.apply({ kind: 'egress-partition', at: 0, to: 'both', existing: 'cut', durationUs: 1 }, ctx);
    cluster.sim.run({ until: 160 * SECOND });
    const api = cluster.apiPods[0]!;
    expect(cluster.sim.network.canReach(cluster.sim.process(api), cluster.sim.process('redis'))).toBe(false);
    expect(cluster.cordonedNodes).toEqual(['node-2']);
    cluster.sim.network.healAll();
    for (const kind of SEED_004_FAULT_KINDS) kind.heal?.(ctx);
    expect(cluster.cordonedNodes).toEqual([]);
    expect(cluster.pendingPods).toEqual([]);
    for (const target of ['redis', 'postgres']) {
      expect(cluster.sim.network.canReach(cluster.sim.process(api), cluster.sim.process(target))).toBe(true);
      expect(cluster.sim.network.canReach(cluster.sim.process(target), cluster.sim.process(api))).toBe(true);
    }
  });
});

describe('bad parameters are bad input (exit 2), with the path of the bad value', () => {
  const at = 150 * SECOND;
  const CASES: Array<[what: string, fault: Record<string, unknown>, message: string]> = [
    ['unknown target of a drain', { kind: 'node-drain', at, target: { role: 'kube-api' }, durationUs: 1 }, 'schedule[0].target.role: unknown role "kube-api"'],
    ['negative drain', { kind: 'node-drain', at, target: { role: 'worker-node', index: 0 }, durationUs: -5 }, 'schedule[0].durationUs: must be ≥ 0, got -5'],
    ['unknown Service', { kind: 'egress-partition', at, to: 'mysql', existing: 'kept', durationUs: 1 }, 'schedule[0].to: must be one of redis, postgres, both, got "mysql"'],
    ['unknown existing', { kind: 'egress-partition', at, to: 'redis', existing: 'sometimes', durationUs: 1 }, 'schedule[0].existing: must be one of kept, cut, got "sometimes"'],
    ['missing existing', { kind: 'egress-partition', at, to: 'redis', durationUs: 1 }, 'schedule[0].existing: missing'],
    ['negative stale window', { kind: 'hpa-metrics-stale', at, durationUs: -1 }, 'schedule[0].durationUs: must be ≥ 0, got -1'],
    ['too many users', { kind: 'load-spike', at, users: 20_000, spawnRatePerSecond: 50, durationUs: 1 }, 'schedule[0].users: must be ≤ 10000, got 20000'],
    ['no spawn rate', { kind: 'load-spike', at, users: 10, spawnRatePerSecond: 0, durationUs: 1 }, 'schedule[0].spawnRatePerSecond: must be ≥ 1, got 0'],
    ['fractional users', { kind: 'load-spike', at, users: 1.5, spawnRatePerSecond: 1, durationUs: 1 }, 'schedule[0].users: must be an integer from 0 to 10000'],
  ];
  for (const [what, fault, message] of CASES) {
    test(what, () => {
      expect(scheduleProblem([fault], streamspace.faults, streamspace.roles)).toMatch(new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    });
  }

  test('hasim run --schedule exits 2 with one line naming the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hasim-faults-004-'));
    const file = join(dir, 'schedule.json');
    writeFileSync(file, JSON.stringify([{ kind: 'egress-partition', at, to: 'redis', existing: 'cut', durationUs: -5 }]));
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['run', '--seed', '0', '--schedule', file], (l) => out.push(l), (l) => err.push(l));
    expect([code, out, err.length]).toEqual([2, [], 1]);
    expect(err[0]).toContain('[0].durationUs: must be ≥ 0, got -5');
  });
});
