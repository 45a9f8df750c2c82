import { describe, expect, test } from 'vitest';
import { SECOND, type TraceEvent } from '../../../sim-cluster/index.ts';
import type { Monitor } from '../../../invariants/monitor.ts';
import { resolveConfig } from '../config.ts';
import { ClusterView } from './cluster-view.ts';
import { noLostSession } from './no-lost-session.ts';

const ev = (t: number, p: string, k: string, d?: Record<string, unknown>): TraceEvent => ({ t, p, k, d });
const login = (t: number, user: number, jti: string) => ev(t, 'locust', 'load.login', { user, jti });
const lost = (t: number, user: number, jti: string) => ev(t, 'locust', 'load.lost-session', { user, jti });

/** Feeds events to a view and, for the kinds it judges, to the monitor; the first violation. */
function firstViolation(monitor: Monitor<ClusterView>, events: TraceEvent[]) {
  const view = new ClusterView();
  for (const e of events) {
    view.apply(e);
    if (monitor.kinds !== undefined && !monitor.kinds.includes(e.k)) continue;
    const v = monitor.onEvent?.(e, view);
    if (v) return v;
  }
  return null;
}

describe('no-lost-session', () => {
  const monitor = noLostSession(resolveConfig());

  test('judges only load.lost-session: a run without a load never calls it', () => {
    expect(monitor.kinds).toEqual(['load.lost-session']);
    expect(monitor.atEnd).toBeUndefined();
    expect(firstViolation(monitor, [login(1, 7, 'j1'), ev(2, 'locust', 'load.second', { second: 0, requests: 1, ok: 1 })])).toBeNull();
  });

  test('a 401 on a live session is a violation, with the login as evidence', () => {
    const events = [login(1 * SECOND, 7, 'j1'), login(2 * SECOND, 8, 'j2'), lost(30 * SECOND, 7, 'j1')];
    const v = firstViolation(monitor, events);
    expect(v?.message).toMatch(/user 7's session j1 \(logged in at 1\.000s, 29\.000s before, never logged out\) was refused with a 401 at 30\.000s/);
    expect(v?.evidence).toEqual([events[0], events[2]]);
  });

  test('a session the trace has no login for is still a violation, the event alone as evidence', () => {
    const v = firstViolation(monitor, [login(1, 7, 'j2'), lost(5, 7, 'j1')]);
    expect(v?.message).toMatch(/its login is not the user's last one/);
    expect(v?.evidence).toHaveLength(1);
  });

  test('a 401 the TTL may explain is not: answered at least the TTL less the client timeout after the login', () => {
    const short = noLostSession(resolveConfig({ auth: { tokenTtlSeconds: 60 }, load: { requestTimeoutUs: 30 * SECOND } }));
    expect(firstViolation(short, [login(0, 7, 'j1'), lost(29 * SECOND, 7, 'j1')])).not.toBeNull();
    expect(firstViolation(short, [login(0, 7, 'j1'), lost(30 * SECOND, 7, 'j1')])).toBeNull();
    expect(short.definition).toMatch(/within its TTL \(auth\.tokenTtlSeconds, 60\.000s here\)/);
  });
});
