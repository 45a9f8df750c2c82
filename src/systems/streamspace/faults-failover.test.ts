import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MS, SECOND, type TraceEvent } from '../../sim-cluster/index.ts';
import { scheduleProblem, type FaultRecord } from '../../faults/fault-kind.ts';
import { caseOf, execute } from '../../harness/run-case.ts';
import { scheduleArbitraryFor } from '../../harness/seeded-case.ts';
import { NAMED_DEPLOYMENTS } from './deployments.ts';
import type { ConfigOverrides } from './config.ts';
import { FAILOVER_FAULT_KINDS } from './faults-failover.ts';
import type { KubeObject } from './postgres/patroni-dcs.ts';
import { streamspace } from './system.ts';

const KINDS = FAILOVER_FAULT_KINDS.map((k) => k.kind as string);
const deployment = (name: string): ConfigOverrides => NAMED_DEPLOYMENTS.find((d) => d.name === name)!.overrides as ConfigOverrides;
const of = (events: readonly TraceEvent[], kind: string): TraceEvent[] => events.filter((e) => e.k === kind);

/** A case of hand-written faults on a named deployment, run to its end with every event kept and every violation collected. */
function run(name: string, schedule: FaultRecord[], profile = 'streamspace-v2', seed = 1) {
  const x = execute(streamspace, caseOf(streamspace, profile, seed, schedule, { overrides: deployment(name) }), { keepEvents: true, collect: 'all' });
  return { verdict: x.verdict, cluster: x.instance, events: x.verdict.events! };
}

describe('failover kinds (faults-failover.ts)', () => {
  test('are drawn only when named, and every schedule drawn with them passes the schedule checks', () => {
    const defaults = scheduleArbitraryFor(streamspace, { profile: 'hardened' });
    fc.assert(fc.property(defaults, (schedule) => schedule.every((f) => !KINDS.includes(f.kind))), { numRuns: 200, seed: 4 });
    const named = scheduleArbitraryFor(streamspace, { profile: 'hardened', kinds: KINDS, swarm: false, maxFaults: 12 });
    const seen = new Set<string>();
    fc.assert(fc.property(named, (schedule) => {
      for (const f of schedule) seen.add(f.kind);
      expect(scheduleProblem(schedule, streamspace.faults, streamspace.roles)).toBeNull();
    }), { numRuns: 200, seed: 9 });
    expect([...seen].sort()).toEqual([...KINDS].sort());
  });

  test('pg-primary-kill: graceful, Patroni releases the key and a standby is promoted within seconds; sigkill, the pod is recreated under its name within ttl and takes its key back; node, a standby waits out the ttl', () => {
    const promotion = (mode: string): TraceEvent => {
      const { events } = run('r004-patroni-sync', [{ kind: 'pg-primary-kill', at: 150 * SECOND, mode, durationUs: 120 * SECOND }]);
      expect(of(events, 'fault.pg-primary-kill')[0]!.d).toMatchObject({ member: 'postgres-0', mode });
      return of(events, 'patroni.promote')[0]!;
    };
    // Percona's ~13 s for a deletion includes the clients' reconnect; the release itself takes one loop at most.
    const graceful = promotion('graceful');
    expect(graceful.p).not.toBe('postgres-0');
    expect(graceful.t - 150 * SECOND).toBeLessThan(10 * SECOND);
    // spec §2: "same-name StatefulSet pod may reclaim": recreated 5 s later, its key still valid.
    const forced = promotion('sigkill');
    expect(forced.p).toBe('postgres-0');
    expect(forced.t - 150 * SECOND).toBeLessThan(30 * SECOND);
    // Node loss: the key expires ttl after its last renewal (pigsty: ttl - loop_wait to ttl + loop_wait after the failure).
    const node = promotion('node');
    expect(node.p).not.toBe('postgres-0');
    expect(node.t - 150 * SECOND).toBeGreaterThanOrEqual(20 * SECOND);
    expect(node.t - 150 * SECOND).toBeLessThanOrEqual(42 * SECOND);
  });

  test('pg-dcs-partition with the standbys cut too: as built (async) the writes the old primary acknowledged until it demoted are lost, and no-lost-acknowledged-write names one', () => {
    const schedule: FaultRecord[] = [{ kind: 'pg-dcs-partition', at: 150 * SECOND, standbys: true, durationUs: 60 * SECOND }];
    const { verdict, events } = run('r004-patroni-async', schedule);
    const demote = of(events, 'patroni.demote')[0]!;
    // retry_timeout (10 s) after the last successful renewal, within a loop of the cut (ha.py, dcs_failsafe_mode.rst).
    expect(demote.t - 150 * SECOND).toBeGreaterThanOrEqual(10 * SECOND);
    expect(demote.t - 150 * SECOND).toBeLessThanOrEqual(20 * SECOND);
    const lost = of(events, 'pg.lost-writes');
    expect(lost.length).toBeGreaterThan(0);
    const v = verdict.violations.find((x) => x.invariant === 'no-lost-acknowledged-write');
    expect(v?.message).toMatch(/acknowledged to api-\d at .*, is lost: postgres-0 had it, postgres-\d was promoted without it/);
    // The checker's evidence: the acknowledgement, then the promotion's loss of it.
    expect(v?.evidence.map((e) => e.k)).toEqual(['sql.ack', 'pg.lost-writes']);
  });

  test('the same fault under synchronous_mode loses only writes nobody was told about; under the strict fix (hardened) nothing is lost and every invariant holds', () => {
    const schedule: FaultRecord[] = [{ kind: 'pg-dcs-partition', at: 150 * SECOND, standbys: true, durationUs: 60 * SECOND }];
    const sync = run('r004-patroni-sync', schedule);
    expect(sync.verdict.violations.filter((v) => v.invariant === 'no-lost-acknowledged-write')).toEqual([]);
    const hardened = run('r004-patroni-async', schedule, 'hardened');
    expect(hardened.verdict.outcome).toBe('pass');
  });

  test('after a failover the pool keeps connections to the demoted primary, and its writes get 25006 until ConnMaxLifetime; readonly-conn-is-bad drops them at the first 25006', () => {
    const schedule: FaultRecord[] = [{ kind: 'pg-dcs-partition', at: 150 * SECOND, standbys: false, durationUs: 60 * SECOND }];
    const refusedAfterPromotion = (fixes: string[]): { count: number; lastAfterUs: number } => {
      const x = execute(streamspace, caseOf(streamspace, 'streamspace-v2', 1, schedule, { overrides: deployment('r004-patroni-sync'), fixes }), { keepEvents: true });
      const events = x.verdict.events!;
      const promoted = of(events, 'patroni.promote')[0]!.t;
      const refused = of(events, 'db.write-error').filter((e) => e.d!['code'] === '25006' && e.t > promoted);
      return { count: refused.length, lastAfterUs: refused.length === 0 ? 0 : refused.at(-1)!.t - promoted };
    };
    // The Endpoints named the old primary until the promotion: connections dialled meanwhile stay
    // in the pool, answering 25006, for up to the 5 min lifetime (lib/pq#1026, gpustack#6105).
    const asBuilt = refusedAfterPromotion([]);
    expect(asBuilt.count).toBeGreaterThan(100);
    expect(asBuilt.lastAfterUs).toBeGreaterThan(2 * 60 * SECOND);
    expect(asBuilt.lastAfterUs).toBeLessThanOrEqual(5 * 60 * SECOND + 10 * SECOND);
    expect(refusedAfterPromotion(['readonly-conn-is-bad'])).toEqual({ count: 0, lastAfterUs: 0 });
  });

  test('pg-sync-standby-down stops the member the sync key names; Patroni drops it from the key within a loop', () => {
    const { events } = run('r004-patroni-sync', [{ kind: 'pg-sync-standby-down', at: 150 * SECOND, durationUs: 60 * SECOND }]);
    const fault = of(events, 'fault.pg-sync-standby-down')[0]!;
    expect(fault.d).toMatchObject({ applied: true });
    const standby = fault.d!['member'] as string;
    const dropped = of(events, 'pg.sync-standby').find((e) => e.t > 150 * SECOND && e.d!['standby'] !== standby);
    expect(dropped!.t - 150 * SECOND).toBeLessThanOrEqual(12 * SECOND);
    expect(of(events, 'proc.start').some((e) => e.p === standby && e.t === 210 * SECOND)).toBe(true);
  });

  test('pg-switchover: the leader demotes gracefully at its next loop and the candidate is promoted within loop_wait + about 3 s; nothing acknowledged is lost, even under async replication', () => {
    for (const [name, candidate] of [['r004-patroni-async', 'any'], ['r004-patroni-sync', 'sync']] as const) {
      const { verdict, events } = run(name, [{ kind: 'pg-switchover', at: 150 * SECOND, candidate, index: 0 }]);
      const fault = of(events, 'fault.pg-switchover')[0]!;
      expect(fault.d).toMatchObject({ leader: 'postgres-0', applied: true });
      // sync: the candidate named is the member the postgres-sync key names.
      if (candidate === 'sync') expect(fault.d!['candidate']).toBe(of(events, 'pg.sync-standby').filter((e) => e.t < 150 * SECOND).at(-1)!.d!['standby']);
      else expect(fault.d!['candidate']).toBeNull();
      expect(of(events, 'patroni.switchover')[0]!.d).toMatchObject({ leader: 'postgres-0', outcome: 'accepted' });
      const promote = of(events, 'patroni.promote').find((e) => e.t > 150 * SECOND)!;
      expect(promote.p).not.toBe('postgres-0');
      if (candidate === 'sync') expect(promote.p).toBe(fault.d!['candidate']);
      // loop_wait (10 s) to the leader's cycle, then fast stop 1 s + 1 s + promotion 1 s (patroni.ts, ha.py demote).
      expect(promote.t - 150 * SECOND).toBeGreaterThanOrEqual(3 * SECOND);
      expect(promote.t - 150 * SECOND).toBeLessThanOrEqual(13 * SECOND + 200 * MS);
      // The API pods' writes were acknowledged by the old primary up to its demotion, none of them lost.
      const demote = of(events, 'patroni.demote')[0]!;
      expect(of(events, 'sql.ack').filter((e) => e.t > 150 * SECOND && e.t < demote.t).length).toBeGreaterThan(0);
      expect(of(events, 'pg.lost-writes')).toEqual([]);
      expect(verdict.violations.filter((v) => v.invariant === 'no-lost-acknowledged-write')).toEqual([]);
      expect(of(events, 'patroni.follow').some((e) => e.p === 'postgres-0' && e.t > promote.t && e.d!['leader'] === promote.p)).toBe(true);
    }
  });

  test('pg-switchover to a standby that is not the synchronous one, under synchronous_mode: refused, the request removed, no failover', () => {
    const sync = run('r004-patroni-sync', [{ kind: 'pg-switchover', at: 150 * SECOND, candidate: 'sync', index: 0 }]);
    const standby = of(sync.events, 'fault.pg-switchover')[0]!.d!['candidate'] as string;
    const other = ['postgres-1', 'postgres-2'].find((m) => m !== standby)!;
    const { events, cluster } = run('r004-patroni-sync', [{ kind: 'pg-switchover', at: 150 * SECOND, candidate: 'standby', index: other === 'postgres-1' ? 0 : 1 }]);
    expect(of(events, 'fault.pg-switchover')[0]!.d).toEqual({ leader: 'postgres-0', candidate: other, applied: true });
    const refused = of(events, 'patroni.switchover')[0]!;
    expect(refused.d).toEqual({ leader: 'postgres-0', candidate: other, outcome: 'refused' });
    expect(refused.t - 150 * SECOND).toBeLessThanOrEqual(10 * SECOND + 100 * MS);
    expect(of(events, 'patroni.demote')).toEqual([]);
    expect(of(events, 'patroni.promote').filter((e) => e.t > 150 * SECOND)).toEqual([]);
    expect((cluster.leases.get('postgres-failover') as Partial<KubeObject>).annotations).toEqual({});
  });

  test('redis-master-kill with seed 004\'s Sentinels (down-after 5 s): a replica is promoted and the Service follows it; the old master rejoins as a replica', () => {
    const { events, cluster } = run('r004-redis-sentinel', [{ kind: 'redis-master-kill', at: 150 * SECOND, downUs: 60 * SECOND }]);
    const switched = of(events, 'sentinel.switch-master')[0]!;
    expect(switched.d).toMatchObject({ from: 'redis-0' });
    // spec §2: "seed 004 ~7-9 s" from the kill to +switch-master.
    expect(switched.t - 150 * SECOND).toBeGreaterThanOrEqual(5 * SECOND);
    expect(switched.t - 150 * SECOND).toBeLessThanOrEqual(9 * SECOND);
    // The label controller moves the Service masterServiceLagUs (5 s) after the switch.
    const moved = of(events, 'service.endpoint-switched')[0]!;
    expect(moved.t - switched.t).toBeGreaterThanOrEqual(5 * SECOND);
    expect(cluster.redisMaster).toBe(switched.d!['to']);
    expect(of(events, 'redis.role').some((e) => e.p === 'redis-0' && e.t > 210 * SECOND && e.d!['role'] === 'replica')).toBe(true);
  });

  test('redis-master-isolate: the cut-off master keeps answering the API pods while the Sentinels promote a replica', () => {
    const { events } = run('r004-redis-sentinel', [{ kind: 'redis-master-isolate', at: 150 * SECOND, durationUs: 60 * SECOND }]);
    expect(of(events, 'fault.redis-master-isolate')[0]!.d).toMatchObject({ master: 'redis-0', applied: true });
    expect(of(events, 'sentinel.switch-master').length).toBeGreaterThan(0);
    // The old master still took the API pods' writes while cut off (what its rejoin's full sync discards).
    expect(of(events, 'redis.set').some((e) => e.p === 'redis-0' && e.t > 160 * SECOND && e.t < 210 * SECOND)).toBe(true);
  });

  test('sentinel-kill and sentinel-partition of one Sentinel leave two, a quorum: a master kill is still failed over', () => {
    for (const kind of ['sentinel-kill', 'sentinel-partition'] as const) {
      const { events } = run('r004-redis-sentinel', [
        { kind, at: 140 * SECOND, index: 0, durationUs: 120 * SECOND },
        { kind: 'redis-master-kill', at: 150 * SECOND, downUs: 60 * SECOND },
      ]);
      expect(of(events, `fault.${kind}`)[0]!.d).toMatchObject({ sentinel: 'sentinel-0', applied: true });
      expect(of(events, 'sentinel.switch-master').filter((e) => e.p !== 'sentinel-0').length).toBeGreaterThan(0);
    }
  });

  test('on the single servers: pg-primary-kill and redis-master-kill act on the one PostgreSQL and Redis; the kinds that need a replica, a DCS or a Sentinel change nothing', () => {
    const { events } = run('seed-000', [
      { kind: 'pg-dcs-partition', at: 130 * SECOND, standbys: true, durationUs: 10 * SECOND },
      { kind: 'redis-master-isolate', at: 131 * SECOND, durationUs: 10 * SECOND },
      { kind: 'sentinel-kill', at: 132 * SECOND, index: 1, durationUs: 10 * SECOND },
      { kind: 'pg-sync-standby-down', at: 133 * SECOND, durationUs: 10 * SECOND },
      { kind: 'pg-switchover', at: 134 * SECOND, candidate: 'any', index: 0 },
      { kind: 'pg-primary-kill', at: 150 * SECOND, mode: 'sigkill', durationUs: 0 },
      { kind: 'redis-master-kill', at: 151 * SECOND, downUs: 10 * SECOND },
    ]);
    for (const kind of ['pg-dcs-partition', 'redis-master-isolate', 'sentinel-kill', 'pg-sync-standby-down', 'pg-switchover']) expect(of(events, `fault.${kind}`)[0]!.d).toMatchObject({ applied: false });
    expect(of(events, 'proc.crash').map((e) => [e.t, e.p])).toEqual([[150 * SECOND, 'postgres'], [151 * SECOND, 'redis']]);
    expect(of(events, 'proc.start').filter((e) => e.p === 'redis' && e.t > 151 * SECOND).map((e) => e.t)).toEqual([161 * SECOND]);
  });
});
