import type { Micros, TraceEvent } from '../../../index.ts';
import type { HakgalCluster } from '../cluster.ts';
import { parseBlob } from '../session.ts';
import { hakgalEvents, type HakgalEvents } from '../events.ts';
import { identityKey } from '../view.ts';

/** What a user had been told before the fault: its session and the state it acknowledged. */
interface Before {
  sid: string;
  tx: number;
  trajectory: number;
}

/** A pod's `hk.serve` details. */
type Serve = Readonly<HakgalEvents['hk.serve']>;

/**
 * Session survival across the scenario's fault, per user: the last session each user was
 * answered from (`user.ack`) before `faultAt`, and the first session a pod served it from for a
 * request sent after `afterAt` (the fault, or once its effects are certain). A session survived when it is the same one with at least the
 * acknowledged counter and trajectory: what the seed's tests assert ("Verified state preserved").
 */
export interface Survival {
  users: number;
  preserved: number;
  fresh: number;
  /** The first user's tx_count_1h and trajectory after the fault, and how much of each it lost. */
  firstTx: number | null;
  firstTrajectory: number | null;
  txLost: number | null;
  trajectoryLost: number | null;
}

export function survival(events: readonly TraceEvent[], faultAt: Micros, afterAt: Micros): Survival {
  const identityOf = new Map<string, string>();
  const startedAt = new Map<string, Micros>();
  const before = new Map<string, Before>();
  const after = new Map<string, Serve>();
  for (const e of events) {
    const request = hakgalEvents.details(e, 'user.request');
    const ack = hakgalEvents.details(e, 'user.ack');
    const serve = hakgalEvents.details(e, 'hk.serve');
    if (request !== undefined) {
      identityOf.set(request.req, identityKey(request.tenant, request.user));
      startedAt.set(request.req, e.t);
    } else if (ack !== undefined && e.t < faultAt) {
      const id = identityOf.get(ack.req)!;
      before.set(id, { sid: ack.sid, tx: ack.tx, trajectory: ack.trajectory });
    } else if (serve !== undefined && (startedAt.get(serve.req) ?? 0) > afterAt) {
      const id = identityKey(serve.tenant, serve.user);
      if (!after.has(id)) after.set(id, serve);
    }
  }
  let preserved = 0;
  let fresh = 0;
  for (const [id, b] of before) {
    const a = after.get(id);
    if (a?.fresh) fresh++;
    if (a !== undefined && a.sid === b.sid && a.tx >= b.tx && a.trajectory >= b.trajectory) preserved++;
  }
  const [firstId, firstBefore] = [...before][0] ?? [undefined, undefined];
  const first = firstId === undefined ? undefined : after.get(firstId);
  return {
    users: before.size, preserved, fresh, firstTx: first?.tx ?? null, firstTrajectory: first?.trajectory ?? null,
    txLost: first === undefined ? null : Math.max(0, firstBefore!.tx - first.tx),
    trajectoryLost: first === undefined ? null : Math.max(0, firstBefore!.trajectory - first.trajectory),
  };
}

/**
 * Increments acknowledged but missing from the session in Redis at the end of the run: for each
 * user, the transfers acknowledged as executed minus tx_count_1h of the newest session blob Redis
 * holds for it (all of them if Redis holds none).
 */
export function lostIncrements(cluster: HakgalCluster, events: readonly TraceEvent[]): number {
  const identityOf = new Map<string, string>();
  const acked = new Map<string, number>();
  for (const e of events) {
    const request = hakgalEvents.details(e, 'user.request');
    const ack = hakgalEvents.details(e, 'user.ack');
    if (request !== undefined) identityOf.set(request.req, identityKey(request.tenant, request.user));
    else if (ack !== undefined && ack.executed) {
      const id = identityOf.get(ack.req)!;
      acked.set(id, (acked.get(id) ?? 0) + 1);
    }
  }
  const stored = new Map<string, number>();
  const live = cluster.redis.live;
  if (live !== null) {
    const now = cluster.sim.node('redis-node').clock.wall(cluster.sim.now);
    for (const key of live.keys(now)) {
      const b = parseBlob(live.peek(now, key)!.value);
      const id = identityKey(b.tenant, b.user);
      stored.set(id, Math.max(stored.get(id) ?? 0, b.tx));
    }
  }
  let lost = 0;
  for (const [id, n] of acked) lost += Math.max(0, n - (stored.get(id) ?? 0));
  return lost;
}

/** Distinct sessions pods served each user from, summed over users, minus one per user. */
export function extraSessions(events: readonly TraceEvent[]): number {
  const sids = new Map<string, Set<string>>();
  for (const e of events) {
    const serve = hakgalEvents.details(e, 'hk.serve');
    if (serve === undefined) continue;
    const id = identityKey(serve.tenant, serve.user);
    if (!sids.has(id)) sids.set(id, new Set());
    sids.get(id)!.add(serve.sid);
  }
  return [...sids.values()].reduce((n, s) => n + s.size - 1, 0);
}
