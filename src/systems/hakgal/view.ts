import { MINUTE, SECOND, type Micros, type TraceEvent } from '../../index.ts';
import { hakgalEvents } from './events.ts';

/**
 * How close to its TTL a session may be before the checkers stop judging whether it should still
 * be there: clock faults on the Redis node move its deadlines (clock-jump steps up to 2 minutes,
 * drift a few seconds), so a session idle within this margin of its TTL may or may not be live.
 */
export const TTL_MARGIN_US: Micros = 10 * MINUTE;

/** A request of the users, as the view saw it leave. */
export interface RequestSeen {
  identity: string;
  startedAt: Micros;
  lifetime: number;
  /** Transfers executed and acknowledged to this identity, in this lifetime, before the request left. */
  ackedAtStart: number;
  /** Whether the user had been answered from a session in this lifetime before the request left. */
  knownAtStart: boolean;
  /** The request left more than TTL + margin after the identity's session was last written: it has expired. */
  expired: boolean;
  /** How long the session had been idle when the request left (µs), or null for a first request. */
  idleUs: Micros | null;
}

/** What the checkers know about one (tenant, user): its session's lifetime and acknowledged state. */
export interface IdentityLedger {
  /** Bumped when the session legitimately ends (idle past TTL − margin): counts restart. */
  lifetime: number;
  acked: number;
  known: boolean;
  lastSid: string | null;
  /** True time of the last pod action on the session (the write that slides its TTL follows it). */
  lastServedAt: Micros | null;
  /** Micro-transfers executed in this lifetime (effects, whatever any pod believed). */
  microExecuted: number;
}

/** The identity of a (tenant, user): unambiguous, unlike "tenant:user". */
export const identityKey = (tenant: string, user: string): string => JSON.stringify([tenant, user]);

/**
 * The view of a HAK_GAL run: the users' requests and acknowledgements, what pods served and
 * executed, and the processes' lives. Invariants judge effects: the session a pod acted on (a
 * `hk.serve`), the transfers it executed (`hk.transfer`), what the users were told (`user.ack`).
 */
export class HakgalView {
  readonly alive = new Set<string>();
  readonly identities = new Map<string, IdentityLedger>();
  readonly requests = new Map<string, RequestSeen>();
  /** The session TTL the pods run with (from `pod.ready`). */
  ttlUs: Micros = 3600 * SECOND;
  recoveredAt: Micros | null = null;
  unhealthy: string | null = null;

  ledger(identity: string): IdentityLedger {
    let l = this.identities.get(identity);
    if (l === undefined) {
      l = { lifetime: 0, acked: 0, known: false, lastSid: null, lastServedAt: null, microExecuted: 0 };
      this.identities.set(identity, l);
    }
    return l;
  }

  apply(e: TraceEvent): void {
    switch (e.k) {
      case 'proc.start':
        this.alive.add(e.p);
        return;
      case 'proc.crash':
      case 'proc.exit':
        this.alive.delete(e.p);
        return;
      case 'pod.ready':
        this.ttlUs = hakgalEvents.details(e, 'pod.ready')!.ttlSeconds * SECOND;
        return;
      case 'user.request': {
        const d = hakgalEvents.details(e, 'user.request')!;
        const identity = identityKey(d.tenant, d.user);
        const l = this.ledger(identity);
        const idleUs = l.lastServedAt === null ? null : e.t - l.lastServedAt;
        // Idle past TTL − margin: the session may have expired; a new lifetime starts (nothing owed).
        if (idleUs !== null && idleUs > this.ttlUs - TTL_MARGIN_US) {
          l.lifetime++;
          l.acked = 0;
          l.known = false;
          l.microExecuted = 0;
        }
        this.requests.set(d.req, {
          identity, startedAt: e.t, lifetime: l.lifetime, ackedAtStart: l.acked, knownAtStart: l.known,
          expired: idleUs !== null && idleUs > this.ttlUs + TTL_MARGIN_US, idleUs,
        });
        return;
      }
      case 'hk.serve': {
        const d = hakgalEvents.details(e, 'hk.serve')!;
        const l = this.ledger(identityKey(d.tenant, d.user));
        l.lastServedAt = e.t;
        return;
      }
      case 'hk.transfer': {
        const d = hakgalEvents.details(e, 'hk.transfer')!;
        const r = this.requests.get(d.req);
        const l = this.ledger(identityKey(d.tenant, d.user));
        if (d.micro && r !== undefined && r.lifetime === l.lifetime) l.microExecuted++;
        return;
      }
      case 'user.ack': {
        const d = hakgalEvents.details(e, 'user.ack')!;
        const r = this.requests.get(d.req);
        if (r === undefined) return;
        const l = this.ledger(r.identity);
        if (r.lifetime !== l.lifetime) return;
        l.known = true;
        l.lastSid = d.sid;
        if (d.executed) l.acked++;
        return;
      }
      case 'hk.healthy':
        this.recoveredAt ??= e.t;
    }
  }
}
