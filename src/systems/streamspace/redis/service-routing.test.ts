/**
 * The two as-built ways to reach a Sentinel-managed Redis through a Kubernetes Service
 * (service-routing.ts; seeds-001-004 §2 "Redis Sentinel", variants (a) and (b)), on the real
 * replicated servers and Sentinels. Sources: kube-proxy iptables mode (pkg/proxy/iptables/proxier.go
 * writeServiceToEndpointRules), Redis replication.md (replicas are read-only, READONLY error),
 * pubsub.c (PUBLISH is propagated master → replicas only), go-redis v9.16.0 error.go (READONLY is
 * retried on a new connection).
 */
import { describe, expect, test } from 'vitest';
import { SECOND, type Micros } from '../../../sim-cluster/index.ts';
import type { RpcResult } from '../net/rpc.ts';
import { RedisClient, RedisPubSub } from './client.ts';
import { sentinelCluster } from '../testing/sentinel-cluster.ts';
import { masterLabelController, serviceTarget, ServiceEndpoints } from './service-routing.ts';

const SEED_004 = { downAfterUs: 5 * SECOND, failoverTimeoutUs: 30 * SECOND };
const T0 = 30 * SECOND;
const READONLY = "READONLY You can't write against a read only replica.";

/** A cluster with variant (a): the `redis-master` Service and its relabelling controller. */
function masterTracking(lagUs: Micros) {
  const c = sentinelCluster({ sentinel: SEED_004, replicas: [{ priority: 10 }, {}] });
  const service = new ServiceEndpoints('redis-master', ['redis-0']);
  c.sim.addNode('node-relabel');
  c.sim.addProcess({ name: 'relabel', node: 'node-relabel', boot: masterLabelController({ service, sentinels: c.sentinels, lagUs }) });
  c.sim.run({ until: c.sim.now });
  return { c, service };
}

/** SET every 500 ms from 20 s to 60 s; each outcome with its time and where the client was connected after it. */
function writeLoop(c: ReturnType<typeof sentinelCluster>, client: RedisClient) {
  const outcomes: Array<{ t: Micros; ok: boolean; peer: string | null; error?: string }> = [];
  for (let t = 20 * SECOND, i = 0; t < 60 * SECOND; t += 500_000, i++) {
    c.sim.at(t, () => client.set(`k${i}`, 'v', 3600, (r) => outcomes.push({ t, ok: r.ok, peer: client.peer, ...(r.ok ? {} : { error: r.message }) })));
  }
  return outcomes;
}

describe('variant (a): a master-tracking Service relabelled after +switch-master', () => {
  test('new connections keep going to the old master for lagUs after the switch: a dead one refuses them until the endpoint moves', () => {
    const lagUs = 10 * SECOND;
    const { c, service } = masterTracking(lagUs);
    const client = new RedisClient(c.app(), { target: serviceTarget(service, c.app().random('kube-proxy')), maxRetries: 0 });
    const outcomes = writeLoop(c, client);
    c.sim.at(T0, () => c.sim.crash('redis-0'));
    c.sim.run({ until: 61 * SECOND });
    const firstSwitch = c.first('sentinel.switch-master')!;
    const moved = c.events('service.endpoint-switched');
    expect(moved.map((e) => e.d)).toEqual([{ service: 'redis-master', from: 'redis-0', to: 'redis-1' }]);
    // The controller hears the first Sentinel to switch (one network hop) and waits lagUs.
    expect(moved[0]!.t - firstSwitch).toBeGreaterThanOrEqual(lagUs);
    expect(moved[0]!.t - firstSwitch).toBeLessThan(lagUs + 50_000);
    expect(outcomes.filter((o) => o.t < T0).every((o) => o.ok && o.peer === 'redis-0')).toBe(true);
    // From the kill until the endpoint moves, every write fails, the failover notwithstanding.
    const during = outcomes.filter((o) => o.t >= T0 && o.t < moved[0]!.t);
    expect(during.length).toBeGreaterThanOrEqual(2 * 10);
    expect(during.every((o) => !o.ok)).toBe(true);
    expect(during.filter((o) => o.t > firstSwitch).length).toBeGreaterThanOrEqual(19);
    const after = outcomes.filter((o) => o.t > moved[0]!.t);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((o) => o.ok && o.peer === 'redis-1')).toBe(true);
  });

  test('an isolated old master keeps the connections it has: writes are acknowledged by it through the failover and after the endpoint moved', () => {
    const { c } = masterTracking(2 * SECOND);
    const service = new ServiceEndpoints('redis-master', ['redis-0']);
    const client = new RedisClient(c.app(), { target: serviceTarget(service, c.app().random('kube-proxy')), maxRetries: 0 });
    const outcomes = writeLoop(c, client);
    // The master loses the Sentinels and its replicas; the app still reaches it.
    c.sim.at(T0, () => c.sim.network.cutProcesses(['redis-0'], [...c.sentinels, 'redis-1', 'redis-2']));
    c.sim.run({ until: 61 * SECOND });
    expect(c.events('sentinel.switch-master').length).toBe(3);
    expect(outcomes.length).toBe(80);
    expect(outcomes.every((o) => o.ok && o.peer === 'redis-0')).toBe(true);
  });
});

describe('variant (b): a Service over every Redis pod', () => {
  function allNodes() {
    const c = sentinelCluster({ sentinel: SEED_004 });
    const service = new ServiceEndpoints('redis', c.redis);
    return { c, service, target: serviceTarget(service, c.app().random('kube-proxy')) };
  }

  test('kube-proxy sends each new connection to a random pod: writes landing on a replica get READONLY', () => {
    const { c, target } = allNodes();
    const results: Array<{ peer: string | null; r: RpcResult<unknown> }> = [];
    for (let i = 0; i < 60; i++) {
      // A fresh client per write: one new connection each, no retry.
      c.sim.at(20 * SECOND + i * 100_000, () => {
        const client = new RedisClient(c.app(), { target, maxRetries: 0 });
        client.set(`k${i}`, 'v', 3600, (r) => results.push({ peer: client.peer, r }));
      });
    }
    c.sim.run({ until: 30 * SECOND });
    expect(results).toHaveLength(60);
    const accepted = results.filter((x) => x.r.ok);
    const refused = results.filter((x) => !x.r.ok);
    // Uniform over three pods: about a third each (binomial, n = 60: 8-32 covers > 99.99 %).
    expect(accepted.length).toBeGreaterThanOrEqual(8);
    expect(accepted.length).toBeLessThanOrEqual(32);
    expect(accepted.every((x) => x.peer === 'redis-0')).toBe(true);
    expect(refused.every((x) => !x.r.ok && x.r.error === 'server' && x.r.message === READONLY)).toBe(true);
    expect(refused.every((x) => x.peer === 'redis-1' || x.peer === 'redis-2')).toBe(true);
  });

  test('go-redis retries READONLY on a new connection, which kube-proxy may send to the master (go-redis#790)', () => {
    const { c, target } = allNodes();
    const client = new RedisClient(c.app(), { target });
    const results: Array<RpcResult<unknown>> = [];
    for (let i = 0; i < 40; i++) c.sim.at(20 * SECOND + i * 100_000, () => client.set(`k${i}`, 'v', 3600, (r) => results.push(r)));
    c.sim.run({ until: 30 * SECOND });
    const dials = c.events('conn.dial', 'app').map((e) => e.d!['to']);
    // Each READONLY closed the connection: several dials, and the last one stayed on the master.
    expect(dials.length).toBeGreaterThan(1);
    expect(dials.at(-1)).toBe('redis-0');
    expect(dials.slice(0, -1).every((to) => to !== 'redis-0')).toBe(true);
    // Four attempts a write (MaxRetries 3): a write fails only if all four land on replicas.
    expect(results.filter((r) => r.ok).length).toBeGreaterThanOrEqual(39);
  });

  test('a PUBLISH on a replica reaches only that replica\'s subscribers; one on the master reaches every node\'s', () => {
    const { c, service } = allNodes();
    const got = new Map<string, string[]>(c.redis.map((n) => [n, []]));
    for (const node of c.redis) new RedisPubSub(c.app(), 'ch', { onConfirm: () => {}, onMessage: (m) => got.get(node)!.push(m) }, { target: node });
    // Publishers through the Service; which pod each reached is its `peer`.
    const published: Array<{ peer: string | null; receivers: unknown }> = [];
    const rng = c.app().random('kube-proxy-publish');
    for (let i = 0; i < 12; i++) {
      c.sim.at(20 * SECOND + i * 100_000, () => {
        const client = new RedisClient(c.app(), { target: serviceTarget(service, rng), maxRetries: 0 });
        client.publish('ch', `m${i}`, (r) => published.push({ peer: client.peer, receivers: r.ok ? r.value : r.message }));
      });
    }
    c.sim.run({ until: 30 * SECOND });
    expect(published).toHaveLength(12);
    for (const [i, p] of published.entries()) {
      expect(p.receivers).toBe(1); // the subscriber on the node the publisher reached
      const message = `m${i}`;
      const reached = [...got].filter(([, ms]) => ms.includes(message)).map(([n]) => n);
      expect(reached, message).toEqual(p.peer === 'redis-0' ? c.redis : [p.peer]);
    }
    expect(published.some((p) => p.peer === 'redis-0')).toBe(true);
    expect(published.some((p) => p.peer !== 'redis-0')).toBe(true);
  });
});
