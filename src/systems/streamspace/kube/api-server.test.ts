import { describe, expect, test } from 'vitest';
import { MS, SECOND, Simulation } from '../../../sim-cluster/index.ts';
import { RpcClient, type RpcResult } from '../net/rpc.ts';
import { healthyKubeApi, kubeApiServer, kubeReason, type LeaseRequest } from './api-server.ts';
import { LeaseStore, type Lease, type LeaseSpec } from './lease-store.ts';

const spec = (holder: string, transitions = 0): LeaseSpec => ({
  holderIdentity: holder, leaseDurationSeconds: 15, acquireTime: 0, renewTime: 0, leaseTransitions: transitions,
});

describe('LeaseStore (real-world-semantics §1.1 fact 7)', () => {
  test('create refuses an existing name; update is a compare-and-swap on a store-wide resourceVersion', () => {
    const store = new LeaseStore();
    const a = store.create('l', spec('a'));
    expect(a).toMatchObject({ ok: true, lease: { name: 'l', holderIdentity: 'a', resourceVersion: 1 } });
    expect(store.create('l', spec('b'))).toEqual({ ok: false, reason: 'AlreadyExists' });
    store.create('other', spec('x'));
    expect(store.revision).toBe(2);
    // Two writers read rv 1; the first write wins, the second gets 409 Conflict.
    expect(store.update('l', 1, spec('b', 1))).toMatchObject({ ok: true, lease: { holderIdentity: 'b', resourceVersion: 3 } });
    expect(store.update('l', 1, spec('c', 1))).toEqual({ ok: false, reason: 'Conflict' });
    expect(store.update('missing', 1, spec('c'))).toEqual({ ok: false, reason: 'NotFound' });
    expect(store.get('l')?.holderIdentity).toBe('b');
  });

  test('stored objects are frozen: a client holding one never sees it change', () => {
    const store = new LeaseStore();
    store.create('l', spec('a'));
    const first = store.get('l')!;
    store.update('l', first.resourceVersion, spec('b', 1));
    expect(first.holderIdentity).toBe('a');
    expect(Object.isFrozen(first)).toBe(true);
  });
});

/** An API server on `cp` and a client process on `c` whose calls are logged with their answer time. */
function setup() {
  const sim = new Simulation({ seed: 3, trace: { keepEvents: true } });
  sim.addNode('cp');
  sim.addNode('c');
  const store = new LeaseStore();
  const faults = healthyKubeApi();
  sim.addProcess({ name: 'kube-api', node: 'cp', boot: kubeApiServer(store, faults) });
  let client!: RpcClient;
  sim.addProcess({ name: 'client', node: 'c', boot: (ctx) => ((client = new RpcClient(ctx, { target: 'kube-api' })), {}) });
  sim.run({ until: 0 });
  const answers: Array<{ t: number; r: RpcResult<Lease> }> = [];
  const call = (req: LeaseRequest, timeoutUs = 30 * SECOND): void => client.call<Lease>(req, (r) => answers.push({ t: sim.now, r }), timeoutUs);
  const kinds = (prefix: string) => sim.trace.events.filter((e) => e.k.startsWith(prefix)).map((e) => ({ k: e.k, ...e.d }));
  return { sim, store, faults, call, answers, kinds };
}

const reasonOf = (r: RpcResult<unknown>): string | undefined => (r.ok ? undefined : r.error === 'server' ? kubeReason(r.message) : r.error);

describe('kube-api server', () => {
  test('get / create / update with 404 NotFound, AlreadyExists and 409 Conflict (fact 6b, fact 7), each traced', () => {
    const { sim, call, answers, kinds } = setup();
    const requests: LeaseRequest[] = [
      { op: 'lease.get', name: 'l' },
      { op: 'lease.create', name: 'l', spec: spec('a') },
      { op: 'lease.create', name: 'l', spec: spec('b') },
      { op: 'lease.update', name: 'l', resourceVersion: 1, spec: spec('b', 1) },
      { op: 'lease.update', name: 'l', resourceVersion: 1, spec: spec('c', 1) },
    ];
    for (const req of requests) {
      call(req);
      sim.run();
    }
    expect(answers.map((a) => reasonOf(a.r) ?? 'ok')).toEqual(['NotFound', 'ok', 'AlreadyExists', 'ok', 'Conflict']);
    expect(kinds('lease.')).toEqual([
      { k: 'lease.create', lease: 'l', holder: 'a', transitions: 0, rv: 1, by: 'client' },
      { k: 'lease.conflict', lease: 'l', by: 'client', holder: 'b', reason: 'AlreadyExists' },
      { k: 'lease.update', lease: 'l', holder: 'b', transitions: 1, rv: 2, by: 'client' },
      { k: 'lease.conflict', lease: 'l', by: 'client', holder: 'c', reason: 'Conflict' },
    ]);
  });

  test('service time is 1-3 ms by default', () => {
    const { sim, call, answers } = setup();
    call({ op: 'lease.get', name: 'l' }); // dial first, so the next calls measure service + network only
    sim.run();
    for (let i = 0; i < 20; i++) {
      const start = sim.now;
      call({ op: 'lease.get', name: 'l' });
      sim.run();
      const took = answers.at(-1)!.t - start;
      expect(took).toBeGreaterThanOrEqual(1 * MS);
      expect(took).toBeLessThan(3 * MS + 15 * MS); // plus two link latencies (tail up to 5 ms each)
    }
  });

  test("mode 'error' answers 503 ServiceUnavailable and applies nothing", () => {
    const { sim, store, faults, call, answers, kinds } = setup();
    faults.mode = 'error';
    call({ op: 'lease.create', name: 'l', spec: spec('a') });
    sim.run();
    expect(reasonOf(answers[0]!.r)).toBe('ServiceUnavailable');
    expect(store.get('l')).toBeUndefined();
    expect(kinds('lease.')).toEqual([]);
  });

  test("mode 'blackhole' never answers: the client hits its own timeout (facts 9, 14)", () => {
    const { sim, store, faults, call, answers } = setup();
    call({ op: 'lease.get', name: 'l' }); // dial first: the timeout then runs from the send
    sim.run();
    faults.mode = 'blackhole';
    const start = sim.now;
    call({ op: 'lease.create', name: 'l', spec: spec('a') }, 10 * SECOND);
    sim.run();
    expect(answers).toHaveLength(2);
    expect(answers[1]!.r).toMatchObject({ ok: false, error: 'timeout' });
    expect(answers[1]!.t - start).toBe(10 * SECOND);
    expect(store.get('l')).toBeUndefined();
  });

  test('extra latency delays the answer after the commit: a client that timed out still changed the lease (§1.5)', () => {
    const { sim, store, faults, call, answers, kinds } = setup();
    faults.extraLatencyUs = 5 * SECOND;
    call({ op: 'lease.create', name: 'l', spec: spec('a') }, 2 * SECOND);
    sim.run();
    expect(answers[0]!.r).toMatchObject({ ok: false, error: 'timeout' });
    expect(store.get('l')?.holderIdentity).toBe('a');
    const commit = sim.trace.events.find((e) => e.k === 'lease.create')!;
    expect(commit.t).toBeLessThan(answers[0]!.t);
    expect(kinds('lease.')).toHaveLength(1);
  });

  test('leases survive an API-server crash and restart (etcd is durable); requests in service are lost', () => {
    const { sim, store, call, answers } = setup();
    call({ op: 'lease.create', name: 'l', spec: spec('a') });
    sim.run();
    call({ op: 'lease.update', name: 'l', resourceVersion: 1, spec: spec('b', 1) });
    sim.run({ until: sim.now + 500 }); // arrived, still in service
    sim.restart('kube-api', 1 * SECOND);
    sim.run();
    expect(reasonOf(answers[1]!.r)).toBe('connection');
    expect(store.get('l')).toMatchObject({ holderIdentity: 'a', resourceVersion: 1 });
    call({ op: 'lease.get', name: 'l' });
    sim.run();
    expect(answers[2]!.r).toMatchObject({ ok: true, value: { holderIdentity: 'a', resourceVersion: 1 } });
  });
});
