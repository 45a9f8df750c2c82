import { formatTime, SECOND, type Micros, type TraceEvent } from '../../../sim-cluster/index.ts';
import type { Monitor } from '../../../invariants/monitor.ts';
import type { StreamSpaceConfig } from '../config.ts';
import { loadEvents, type LoadEvents } from '../load/events.ts';
import type { ClusterView } from './cluster-view.ts';

/** `load.lost-session` and `load.revoked-accepted` (load/events.ts): the user and the token's jti. */
export type LoadTokenEvent = LoadEvents['load.lost-session'];

/** The user's login that issued `jti`, if it is the user's last one (the view keeps only that). */
export function loginOf(view: ClusterView, d: LoadTokenEvent): { t: Micros; event: TraceEvent } | null {
  const login = view.logins.get(d.user);
  return login !== undefined && login.jti === d.jti ? login : null;
}

/**
 * A session lives until its user logs out or its TTL runs out (spec seeds-001-004 §1 invariant
 * `no-lost-session`; StreamSpace: the auth SessionStore's `session:{jti}` with the token's 24 h
 * TTL, jwt.go CreateSession, checked by AuthMiddleware's EXISTS, middleware.go:240-255). The load
 * generator records `load.lost-session` when a request with the token a user holds, got from a
 * login and never logged out, is answered 401; every such event is a violation. A 401 that may be
 * the TTL's doing is not: answered at least the TTL minus the client timeout after the login
 * answer (the key was created before that answer, within the timeout).
 */
export function noLostSession(config: StreamSpaceConfig): Monitor<ClusterView> {
  const ttlUs = config.auth.tokenTtlSeconds * SECOND;
  const graceUs = config.load.requestTimeoutUs;
  return {
    id: 'no-lost-session',
    definition:
      'No live session is refused: a request with the token a user got from a login, never logged out and within its TTL '
      + `(auth.tokenTtlSeconds, ${formatTime(ttlUs)} here), is never answered 401 by any API pod (each load.lost-session the load generator records; `
      + 'one answered within the client timeout of the TTL\'s end may be the TTL\'s doing and is not judged). '
      + 'StreamSpace loses sessions when an API pod starts (ClearAllSessions), when a cache invalidation deletes session:* keys, '
      + 'when Redis evicts or loses them, or while Redis does not answer (the session check fails closed).',
    kinds: ['load.lost-session'],
    onEvent(e, view) {
      const d = loadEvents.details(e, 'load.lost-session')!;
      const login = loginOf(view, d);
      if (login !== null && e.t - login.t >= ttlUs - graceUs) return null;
      const since = login === null ? 'its login is not the user\'s last one in the trace' : `logged in at ${formatTime(login.t)}, ${formatTime(e.t - login.t)} before`;
      return {
        invariant: 'no-lost-session',
        time: e.t,
        message: `user ${d.user}'s session ${d.jti} (${since}, never logged out) was refused with a 401 at ${formatTime(e.t)}`,
        evidence: login === null ? [e] : [login.event, e],
      };
    },
  };
}
