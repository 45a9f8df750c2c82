import { formatTime } from '../../../sim-cluster/index.ts';
import type { Monitor } from '../../../invariants/monitor.ts';
import type { ClusterView } from './cluster-view.ts';
import { loadEvents } from '../load/events.ts';
import { loginOf } from './no-lost-session.ts';

/**
 * A logged-out session stays ended (spec seeds-001-004 §1 invariant `revocation`; StreamSpace's
 * logout deletes `session:{jti}`, auth/handlers.go:345, and AuthMiddleware refuses a token whose
 * key is missing, middleware.go:240-255). The load generator probes the old token once right after
 * a logout answered 2xx and records `load.revoked-accepted` when the probe is answered 2xx; every
 * such event is a violation (a pod that started without its cache accepts every token, spec §0
 * item 2: fail open).
 */
export const revocation: Monitor<ClusterView> = {
  id: 'revocation',
  definition:
    'A token whose logout was answered 2xx is never accepted again: the request the load generator sends with it right after the logout '
    + 'is answered 401 by every API pod, never 2xx (each load.revoked-accepted it records). StreamSpace accepts it on a pod whose cache '
    + 'was disabled at start-up (Redis unreachable during its start-up PING: ValidateSession returns true for every token).',
  kinds: ['load.revoked-accepted'],
  onEvent(e, view) {
    const d = loadEvents.details(e, 'load.revoked-accepted')!;
    const login = loginOf(view, d);
    return {
      invariant: 'revocation',
      time: e.t,
      message: `user ${d.user}'s token ${d.jti}${login === null ? '' : ` (logged in at ${formatTime(login.t)})`} was logged out and then accepted (2xx) at ${formatTime(e.t)}`,
      evidence: login === null ? [e] : [login.event, e],
    };
  },
};
