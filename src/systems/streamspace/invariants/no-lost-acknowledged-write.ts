import { formatTime, type TraceEvent } from '../../../sim-cluster/index.ts';
import type { Monitor, Violation } from '../../../invariants/monitor.ts';
import type { ClusterView } from './cluster-view.ts';

/**
 * No acknowledged write is lost (issue: seed 004's "zero data loss" under PostgreSQL failover;
 * spec seeds-001-004 §2 "RPO"): a command row's INSERT or status UPDATE, or an agent row's write,
 * that PostgreSQL acknowledged to an API pod (`sql.ack`, recorded by the pooled client when the
 * answer arrived) stays in the database's history: it is never among the writes a Patroni
 * failover took out of it (`pg.lost-writes`, at the promotion of a member that lacked it or at the
 * rewind of the member that had it). Either order is judged: an isolated old primary can answer a
 * write after another member was promoted. Runs on the single PostgreSQL record neither event.
 */
export const noLostAcknowledgedWrite: Monitor<ClusterView> = {
  id: 'no-lost-acknowledged-write',
  definition:
    'No write PostgreSQL acknowledged to an API pod is lost: every INSERT or UPDATE whose answer reached the pod (sql.ack, naming the member that answered) stays in the history of the primary that follows, '
    + 'never among the writes a Patroni failover took out of it (pg.lost-writes: records past the promoted member\'s WAL position, or thrown away by pg_rewind). '
    + 'Under asynchronous replication a promotion loses what the new primary had not received; under synchronous_mode (not strict) what the primary committed alone after dropping its synchronous standby.',
  kinds: ['sql.ack', 'pg.lost-writes'],
  // A write is matched on the member that acknowledged it (`sql.ack`'s `server`): lib/pq may run a
  // statement again on the new primary after its first copy committed on the old one, and then
  // the copy the pod was told about is the one that must survive.
  onEvent(e, view) {
    if (e.k === 'sql.ack') {
      const lost = view.lostWrites.get(e.d!['wid'] as string)?.get(e.d!['server'] as string);
      return lost === undefined ? null : violation(e, lost, 'was acknowledged after it had been lost');
    }
    const member = e.d!['member'] as string;
    for (const wid of e.d!['wids'] as string[]) {
      const ack = view.acknowledgedWrites.get(wid);
      if (ack !== undefined && ack.d!['server'] === member) return violation(ack, e, 'is lost');
    }
    return null;
  },
};

function violation(ack: TraceEvent, lost: TraceEvent, how: string): Violation {
  const d = ack.d!;
  const what = `${d['stmt'] as string}${d['command'] === null ? '' : ` of ${d['command'] as string}`}`;
  const l = lost.d!;
  const where = l['reason'] === 'promotion'
    ? `${l['member'] as string} had it, ${l['promoted'] as string} was promoted without it`
    : `pg_rewind of ${l['member'] as string} onto ${l['promoted'] as string} threw it away`;
  return {
    invariant: 'no-lost-acknowledged-write',
    time: Math.max(ack.t, lost.t),
    message: `write ${d['wid'] as string} (${what}), acknowledged to ${ack.p} at ${formatTime(ack.t)}, ${how}: ${where} at ${formatTime(lost.t)}`,
    evidence: ack.t <= lost.t ? [ack, lost] : [lost, ack],
  };
}
