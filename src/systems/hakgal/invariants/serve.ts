import { formatTime, type Monitor, type TraceEvent, type Violation } from '../../../index.ts';
import { hakgalEvents, type HakgalEvents } from '../events.ts';
import { identityKey, type HakgalView, type RequestSeen } from '../view.ts';

/** A pod's `hk.serve`: the session it acted on for one request, as loaded. */
type Served = Readonly<HakgalEvents['hk.serve']>;

/** The served request's details and what the view saw of it, or null for a request it never saw leave. */
function served(e: TraceEvent, view: HakgalView): { s: Served; r: RequestSeen } | null {
  const s = hakgalEvents.details(e, 'hk.serve');
  if (s === undefined) return null;
  const r = view.requests.get(s.req);
  return r === undefined ? null : { s, r };
}

const who = (s: Served): string => `${s.tenant}/${s.user}`;
const idle = (r: RequestSeen): string => (r.idleUs === null ? 'never used' : `last used ${formatTime(r.idleUs)} before`);

export const noLostSession: Monitor<HakgalView> = {
  id: 'no-lost-session',
  definition:
    'A pod never acts on a new empty session for a user whose session is live: once a user has been answered from its session, '
    + 'every request it sends while that session has been idle less than its TTL (minus a margin for clock faults on Redis) is served '
    + 'from that session, not from a fresh one (judged on the pod\'s hk.serve, the state its guard and trajectory checks act on).',
  onEvent(e, view): Violation | null {
    const x = served(e, view);
    if (x === null || !x.s.fresh || !x.r.knownAtStart) return null;
    return {
      invariant: 'no-lost-session', time: e.t, evidence: [e],
      message: `${e.p} served ${who(x.s)} request ${x.s.req} from a new empty session ${x.s.sid}; the user's session (${x.r.ackedAtStart} transfers acknowledged) was ${idle(x.r)}`,
    };
  },
};

export const noLostUpdate: Monitor<HakgalView> = {
  id: 'no-lost-update',
  definition:
    'The counter a pod acts on holds every acknowledged increment: when a request is served from an existing session of its own user, '
    + 'tx_count_1h is at least the number of transfers executed and acknowledged to that user, in this session\'s lifetime, before the request left.',
  onEvent(e, view): Violation | null {
    const x = served(e, view);
    if (x === null || x.s.fresh || x.s.owner !== identityKey(x.s.tenant, x.s.user) || x.s.tx >= x.r.ackedAtStart) return null;
    return {
      invariant: 'no-lost-update', time: e.t, evidence: [e],
      message: `${e.p} served ${who(x.s)} request ${x.s.req} with tx_count_1h ${x.s.tx} (session ${x.s.sid}), but ${x.r.ackedAtStart} transfers had been acknowledged before it left`,
    };
  },
};

export const ttlSemantics: Monitor<HakgalView> = {
  id: 'ttl-semantics',
  definition:
    'A session ends with its TTL: a request sent after the session has been idle (unwritten) for longer than its TTL plus the margin '
    + 'is served from a new session, never from the expired one (a never-invalidated cache must not resurrect it).',
  onEvent(e, view): Violation | null {
    const x = served(e, view);
    if (x === null || x.s.fresh || !x.r.expired) return null;
    return {
      invariant: 'ttl-semantics', time: e.t, evidence: [e],
      message: `${e.p} served ${who(x.s)} request ${x.s.req} from session ${x.s.sid}, ${idle(x.r)} (TTL ${formatTime(view.ttlUs)})`,
    };
  },
};

export const tenantIsolation: Monitor<HakgalView> = {
  id: 'tenant-isolation',
  definition:
    'A pod acts for a (tenant, user) only on that tenant\'s and user\'s session: the session it serves a request from was created for the same tenant and user.',
  onEvent(e, view): Violation | null {
    const x = served(e, view);
    if (x === null || x.s.owner === identityKey(x.s.tenant, x.s.user)) return null;
    const [tenant, user] = JSON.parse(x.s.owner) as [string, string];
    return {
      invariant: 'tenant-isolation', time: e.t, evidence: [e],
      message: `${e.p} served ${who(x.s)} request ${x.s.req} from session ${x.s.sid} of ${tenant}/${user}`,
    };
  },
};
