import { describe, expect, test } from 'vitest';
import { MS, SECOND, Simulation, type ConnectionEnd } from '../../../sim-cluster/index.ts';
import { ok, RpcClient, type RpcResult } from '../net/rpc.ts';
import { HttpServer } from './http-server.ts';

/**
 * A server process whose requests `{ n, ms }` are answered after `ms` ms, `{ upgrade: true }` is
 * answered at once and hijacked; SIGTERM starts `shutdown` with `timeoutMs`, after which the
 * process exits. Two clients, each on its own connection.
 */
function setup(timeoutMs = 30_000) {
  const sim = new Simulation({ seed: 1 });
  sim.addNode('a');
  sim.addNode('b');
  let exitedAt: number | null = null;
  const hijacked: ConnectionEnd[] = [];
  sim.addProcess({
    name: 'server', node: 'a', boot: (ctx) => {
      const http = new HttpServer(ctx);
      return {
        onAccept(conn) {
          http.accept(conn, (body, reply, c) => {
            const b = body as { n?: number; ms?: number; upgrade?: boolean };
            if (b.upgrade) {
              reply(ok('101'));
              http.hijack(c);
              hijacked.push(c);
              return;
            }
            ctx.setTimer((b.ms ?? 0) * MS, () => reply(ok(b.n)), 'work');
          });
        },
        onSignal() {
          http.shutdown(timeoutMs * MS, () => {
            exitedAt = sim.now;
            ctx.exit();
          });
        },
      };
    },
  });
  const results: Array<[string, number, RpcResult<unknown>]> = [];
  const clients: Record<string, RpcClient> = {};
  for (const name of ['c1', 'c2']) {
    sim.addProcess({ name, node: 'b', boot: (ctx) => ((clients[name] = new RpcClient(ctx, { target: 'server' })), {}) });
  }
  sim.run({ until: 0 });
  const call = (client: string, body: unknown) => clients[client]!.call(body, (r) => results.push([client, sim.now, r]));
  const sigterm = () => sim.signal('server', 'SIGTERM');
  return { sim, results, call, sigterm, exitedAt: () => exitedAt, hijacked };
}

describe('HttpServer: srv.Shutdown', () => {
  test('requests being handled at SIGTERM are answered; the process exits at the first poll after the last answer', () => {
    const { sim, results, call, sigterm, exitedAt } = setup();
    call('c1', { n: 1, ms: 300 });
    call('c2', { n: 2, ms: 10 });
    sim.run({ until: 100 * MS });
    sigterm();
    sim.run();
    expect(results.map(([c, , r]) => [c, r])).toEqual([['c2', { ok: true, value: 2 }], ['c1', { ok: true, value: 1 }]]);
    const answered = results[1]![1];
    // Polls at 1, 2, 4, ... ms (each plus up to 10%) after SIGTERM: the one after 300 ms comes within 256 ms more.
    expect(exitedAt()!).toBeGreaterThan(answered);
    expect(exitedAt()! - answered).toBeLessThanOrEqual(256 * 1.1 * MS);
  });

  test('an idle server exits at once; a request reaching it after SIGTERM is never read and fails with the connection', () => {
    const { sim, results, call, sigterm, exitedAt } = setup();
    call('c1', { n: 1 });
    sim.run({ until: 100 * MS });
    const at = sim.now;
    sigterm();
    call('c1', { n: 2 });
    sim.run();
    expect(exitedAt()).toBe(at);
    expect(results[1]).toMatchObject(['c1', expect.any(Number), { ok: false, error: 'connection' }]);
  });

  test('a request that arrives on a busy connection during the shutdown is not read either', () => {
    const { sim, results, call, sigterm } = setup();
    call('c1', { n: 1, ms: 500 });
    sim.run({ until: 100 * MS });
    sigterm();
    call('c1', { n: 2 });
    sim.run();
    expect(results.map(([, , r]) => r.ok)).toEqual([true, false]);
  });

  test('the deadline ends the wait: a request slower than SHUTDOWN_TIMEOUT is cut by the exit', () => {
    const { sim, results, call, sigterm, exitedAt } = setup(1_000);
    call('c1', { n: 1, ms: 5_000 });
    sim.run({ until: 100 * MS });
    sigterm();
    sim.run();
    expect(exitedAt()).toBe(100 * MS + 1 * SECOND);
    // The client hears of it one network delay later.
    expect(results[0]).toMatchObject(['c1', expect.any(Number), { ok: false, error: 'connection' }]);
    expect(results[0]![1]).toBeGreaterThan(100 * MS + 1 * SECOND);
  });

  test('a hijacked connection is neither waited for nor closed by the shutdown: it goes with the process', () => {
    const { sim, call, sigterm, exitedAt, hijacked } = setup();
    call('c1', { upgrade: true });
    sim.run({ until: 100 * MS });
    expect(hijacked).toHaveLength(1);
    sigterm();
    expect(exitedAt()).toBe(100 * MS);
    expect(hijacked[0]!.isOpen).toBe(false);
  });
});
