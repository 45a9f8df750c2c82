import type { Simulation, TraceEvent } from '../../../sim-cluster/index.ts';
import type { PgData, WalRecord } from '../postgres/replication.ts';

/**
 * `pg.lost-writes` {member, promoted, reason, wids}: the pooled writes (postgres/client.ts gives
 * each an id) that a Patroni failover took out of the database's history, named on the member
 * whose WAL had them:
 * - at a promotion (`patroni.promote` {member, lsn, timeline}), every record another member holds
 *   past the promoted member's position on an older timeline: the new primary never had them
 *   (seeds-001-004 §2 "RPO = commands whose INSERT/status UPDATE was acknowledged but
 *   missing/regressed on new primary");
 * - at a rewind (`patroni.rewind`), the records pg_rewind threw away: among them the commits an
 *   isolated old primary acknowledged after the promotion, which no member had when it happened.
 * A write may be named again (by a standby that had received it, then by the rewind of the old
 * primary); readers count each id once. Only writes with an id count: the single PostgreSQL's
 * clients give none, and records a scenario inserts by hand have none.
 *
 * The event is recorded by the cluster, which sees every member's data, right after the Patroni
 * event at the same instant (a zero-delay step), so a reader sees the promotion first.
 */
export function watchLostWrites(sim: Simulation, members: ReadonlyMap<string, PgData>): void {
  sim.trace.subscribe((e: TraceEvent) => {
    if (e.k === 'patroni.promote') {
      const lsn = e.d!['lsn'] as number;
      const timeline = e.d!['timeline'] as number;
      for (const [name, data] of members) {
        if (name === e.p) continue;
        const lost = withIds(data.recordsAfter(lsn).filter((r) => r.timeline < timeline));
        if (lost.length > 0) later(sim, name, { member: name, promoted: e.p, reason: 'promotion', wids: lost });
      }
      return;
    }
    if (e.k === 'patroni.rewind') {
      const rewind = members.get(e.p)?.discarded.at(-1);
      if (rewind === undefined) return;
      const lost = withIds(rewind.records);
      if (lost.length > 0) later(sim, e.p, { member: e.p, promoted: rewind.rewoundFrom, reason: 'rewind', wids: lost });
    }
  });
}

function withIds(records: readonly WalRecord[]): string[] {
  const ids: string[] = [];
  for (const r of records) if (r.statement.wid !== undefined) ids.push(r.statement.wid);
  return ids;
}

function later(sim: Simulation, member: string, details: { member: string; promoted: string; reason: 'promotion' | 'rewind'; wids: string[] }): void {
  sim.after(0, () => sim.trace.record(sim.now, member, 'pg.lost-writes', details), 'pg.lost-writes');
}
