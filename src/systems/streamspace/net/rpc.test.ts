import { describe, expect, test } from 'vitest';
import { MS, SECOND, Simulation } from '../../../sim-cluster/index.ts';
import { ok, pushRpc, RpcClient, serveRpc, serverError, type RpcResult } from './rpc.ts';

/** A server that echoes `{ n }` after `delay` ms, fails `{ fail: true }`, and pushes on `{ push }`. */
function setup() {
  const sim = new Simulation({ seed: 1 });
  sim.addNode('a');
  sim.addNode('b');
  let served = 0;
  sim.addProcess({
    name: 'server', node: 'a', boot: (ctx) => ({
      onAccept(conn) {
        serveRpc(conn, (body, reply) => {
          served++;
          const b = body as { n?: number; delay?: number; fail?: boolean; push?: string };
          if (b.push !== undefined) pushRpc(conn, b.push);
          if (b.fail) return reply(serverError('nope'));
          ctx.setTimer((b.delay ?? 0) * MS, () => reply(ok(b.n)));
        });
      },
    }),
  });
  const results: Array<[number, RpcResult<unknown>]> = [];
  const pushes: unknown[] = [];
  let client!: RpcClient;
  sim.addProcess({ name: 'client', node: 'b', boot: (ctx) => ((client = new RpcClient(ctx, { target: 'server', onPush: (p) => pushes.push(p) })), {}) });
  sim.run({ until: 0 });
  const call = (body: unknown, timeoutUs?: number) => client.call(body, (r) => results.push([sim.now, r]), timeoutUs);
  return { sim, results, pushes, call, served: () => served, client: () => client };
}

describe('RpcClient / serveRpc', () => {
  test('calls made before the dial completes are sent once it does; replies match requests', () => {
    const { sim, results, call } = setup();
    call({ n: 1, delay: 5 });
    call({ n: 2 });
    call({ fail: true });
    sim.run();
    // The error is answered at once, n=2 after a zero-length service timer, n=1 after 5 ms.
    expect(results.map(([, r]) => r)).toEqual([
      { ok: false, error: 'server', message: 'nope' },
      { ok: true, value: 2 },
      { ok: true, value: 1 },
    ]);
  });

  test('a timeout fails the call; the server still applied it and its late reply is dropped', () => {
    const { sim, results, call, served } = setup();
    call({ n: 1, delay: 5000 }, 1 * SECOND);
    sim.run();
    expect(results).toHaveLength(1);
    expect(results[0]![1]).toMatchObject({ ok: false, error: 'timeout' });
    expect(served()).toBe(1);
  });

  test('a broken connection fails calls in flight; the next call redials', () => {
    const { sim, results, call } = setup();
    call({ n: 1, delay: 1000 });
    sim.run({ until: 100 * MS });
    sim.restart('server', 50 * MS);
    sim.run({ until: 200 * MS });
    expect(results.map(([, r]) => r.ok ? 'ok' : r.error)).toEqual(['connection']);
    call({ n: 2 });
    sim.run();
    expect(results.map(([, r]) => r)).toContainEqual({ ok: true, value: 2 });
  });

  test('server pushes reach onPush', () => {
    const { sim, pushes, call } = setup();
    call({ n: 1, push: 'hello' });
    sim.run();
    expect(pushes).toEqual(['hello']);
  });

  test('an unreachable server fails the call with connection after the dial timeout', () => {
    const { sim, results, call } = setup();
    sim.network.isolate('a');
    call({ n: 1 }, 60 * SECOND);
    sim.run();
    expect(results).toEqual([[5 * SECOND, { ok: false, error: 'connection', message: 'connection to server connect-timeout' }]]);
  });
});

describe('RpcClient with a resolver target (a Kubernetes Service resolved per connection)', () => {
  test('asks the resolver at each dial: an open connection stays where it went, the next dial follows the resolver, an unknown name is refused', () => {
    const sim = new Simulation({ seed: 1 });
    sim.addNode('a');
    sim.addNode('b');
    for (const name of ['one', 'two']) {
      sim.addProcess({ name, node: 'a', boot: () => ({ onAccept: (conn) => serveRpc(conn, (_body, reply) => reply(ok(name))) }) });
    }
    let endpoint = 'one';
    let asked = 0;
    let client!: RpcClient;
    sim.addProcess({ name: 'client', node: 'b', boot: (ctx) => ((client = new RpcClient(ctx, { target: () => (asked++, endpoint) })), {}) });
    sim.run({ until: 0 });
    const answers: unknown[] = [];
    const call = (): void => client.call(null, (r) => answers.push(r.ok ? r.value : r.error));
    call();
    sim.run();
    endpoint = 'two';
    call(); // the connection to `one` is still open: no new dial
    sim.run();
    expect([answers, asked, client.peer]).toEqual([['one', 'one'], 1, 'one']);
    client.close();
    call();
    sim.run();
    expect([answers.at(-1), asked, client.peer]).toEqual(['two', 2, 'two']);
    client.close();
    endpoint = 'no-endpoints';
    call();
    sim.run();
    expect(answers.at(-1)).toBe('connection');
  });
});
