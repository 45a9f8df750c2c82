import { describe, expect, test } from 'vitest';
import { RpcClient, SECOND, Simulation, type RpcResult } from '../../index.ts';
import { sessionRedis, SessionRedisStorage, type SessionCommand } from './redis.ts';
import { formatBlob, sessionKey, type SessionBlob } from './session.ts';

const KEY = sessionKey('acme', 'h1');
const blob = (tx: number, version: number): string => formatBlob({ sid: 's', tenant: 'acme', user: 'alice', tx, trajectory: 0, createdAt: 0, version } satisfies SessionBlob);

/** Sends `commands` one after another from a client process; returns every reply. */
function run(commands: SessionCommand[], options = { noEviction: false, aof: false }, storage = new SessionRedisStorage()): Array<RpcResult<unknown>> {
  const sim = new Simulation({ seed: 1 });
  sim.addNode('r');
  sim.addNode('c');
  sim.addProcess({ name: 'redis', node: 'r', boot: sessionRedis(storage, { maxKeys: 10, ...options }) });
  const replies: Array<RpcResult<unknown>> = [];
  sim.addProcess({
    name: 'client', node: 'c', boot: (ctx) => {
      const rpc = new RpcClient(ctx, { target: 'redis' });
      const next = (i: number): void => {
        if (i < commands.length) rpc.call(commands[i]!, (r) => { replies.push(r); next(i + 1); });
      };
      next(0);
      return {};
    },
  });
  sim.run({ until: 10 * SECOND });
  return replies;
}

describe('the session Redis', () => {
  test('SETEX and GET, under the tenant\'s ACL user', () => {
    const r = run([
      { cmd: 'SETEX', acl: 'acme', key: KEY, seconds: 60, value: blob(1, 1) },
      { cmd: 'GET', acl: 'acme', key: KEY },
      { cmd: 'GET', acl: 'globex', key: KEY },
    ]);
    expect(r[1]).toEqual({ ok: true, value: blob(1, 1) });
    expect(r[2]).toMatchObject({ ok: false, error: 'server', message: expect.stringContaining('NOPERM') });
  });

  test('CAS stores only over the expected version, and answers what it found instead', () => {
    const r = run([
      { cmd: 'CAS', acl: 'acme', key: KEY, seconds: 60, expected: 0, value: blob(1, 1) },
      { cmd: 'CAS', acl: 'acme', key: KEY, seconds: 60, expected: 0, value: blob(5, 1) },
      { cmd: 'CAS', acl: 'acme', key: KEY, seconds: 60, expected: 1, value: blob(2, 2) },
    ]);
    expect(r.map((x) => (x.ok ? x.value : x.message))).toEqual([{ stored: true }, { stored: false, current: blob(1, 1) }, { stored: true }]);
  });

  test('GUARD counts a transfer atomically and blocks a micro-transfer past the limit', () => {
    const r = run([
      { cmd: 'GUARD', acl: 'acme', key: KEY, seconds: 60, limit: 1, micro: true },
      { cmd: 'SETEX', acl: 'acme', key: KEY, seconds: 60, value: blob(1, 1) },
      { cmd: 'GUARD', acl: 'acme', key: KEY, seconds: 60, limit: 1, micro: true },
      { cmd: 'GUARD', acl: 'acme', key: KEY, seconds: 60, limit: 1, micro: true },
      { cmd: 'GUARD', acl: 'acme', key: KEY, seconds: 60, limit: 1, micro: false },
    ]);
    const outcomes = r.map((x) => (!x.ok ? x.message : typeof x.value === 'string' ? x.value : (x.value as { outcome: string }).outcome));
    expect(outcomes).toEqual(['absent', 'OK', 'allowed', 'blocked', 'allowed']);
  });

  test('under memory pressure with noeviction, writes fail with OOM; an AOF keeps the data across a restart', () => {
    const storage = new SessionRedisStorage();
    storage.oom = true;
    const r = run([{ cmd: 'SETEX', acl: 'acme', key: KEY, seconds: 60, value: blob(1, 1) }], { noEviction: true, aof: false }, storage);
    expect(r[0]).toMatchObject({ ok: false, message: expect.stringContaining('OOM') });
    const kept = new SessionRedisStorage();
    run([{ cmd: 'SETEX', acl: 'acme', key: KEY, seconds: 60, value: blob(1, 1) }], { noEviction: false, aof: true }, kept);
    expect(run([{ cmd: 'GET', acl: 'acme', key: KEY }], { noEviction: false, aof: true }, kept)[0]).toEqual({ ok: true, value: blob(1, 1) });
  });
});
