import { describe, expect, test } from 'vitest';
import type { TraceEvent } from '../../../sim-cluster/index.ts';
import { ClusterView } from './cluster-view.ts';
import { revocation } from './revocation.ts';

const ev = (t: number, k: string, d: Record<string, unknown>): TraceEvent => ({ t, p: 'locust', k, d });

describe('revocation', () => {
  test('judges only load.revoked-accepted; each one is a violation, with the token\'s login as evidence', () => {
    expect(revocation.kinds).toEqual(['load.revoked-accepted']);
    const view = new ClusterView();
    const events = [ev(1_000, 'load.login', { user: 3, jti: 'j9' }), ev(5_000, 'load.revoked-accepted', { user: 3, jti: 'j9' })];
    for (const e of events) view.apply(e);
    const v = revocation.onEvent!(events[1]!, view);
    expect(v?.invariant).toBe('revocation');
    expect(v?.message).toMatch(/user 3's token j9 \(logged in at 0\.001s\) was logged out and then accepted \(2xx\) at 0\.005s/);
    expect(v?.evidence).toEqual(events);
  });
});
