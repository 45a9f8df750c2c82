import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { MS, SECOND } from '../../../sim-cluster/time.ts';
import { RedisDatabases } from './databases.ts';
import { RedisError } from './keyspace.ts';
import { keyMemoryBytes } from './memory.ts';

// "SS §N" is spec/streamspace-v2-behavior.md; the Redis sources cited are 7.0.15.

const T0 = 1_700_000_000_000 * MS + 437;
const OOM = "OOM command not allowed when used memory > 'maxmemory'.";

function redisError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof RedisError) return e.message;
    throw e;
  }
  throw new Error('expected a Redis error reply');
}

/** Bytes of one key as the tests write them: a 10-byte value, TTL or not. */
const size = (key: string, ttl = true) => keyMemoryBytes(key, 10, ttl);

describe('databases', () => {
  test('databases are independent keyspaces; FLUSHALL empties all of them; indexes outside 0-15 are refused', () => {
    const dbs = new RedisDatabases();
    dbs.db(0).set(T0, 'k', 'api');
    dbs.db(1).set(T0, 'k', 'hub');
    expect(dbs.db(0).get(T0, 'k')).toBe('api');
    expect(dbs.db(1).get(T0, 'k')).toBe('hub');
    expect([...dbs.databases()].map(([i]) => i)).toEqual([0, 1]);
    dbs.flushAll();
    expect(dbs.db(0).exists(T0, 'k') + dbs.db(1).exists(T0, 'k')).toBe(0);
    expect(redisError(() => dbs.db(16))).toBe('ERR DB index is out of range');
    expect(redisError(() => dbs.db(-1))).toBe('ERR DB index is out of range');
  });

  test('active expiry spans databases: the earliest deadline of any, expired in index order', () => {
    const events: string[] = [];
    const dbs = new RedisDatabases({ onKeyEvent: (e, k, db) => events.push(`${e}:${db}:${k}`) });
    dbs.db(1).set(T0, 'agent:1:pod', 'p', { ex: 300 });
    dbs.db(0).set(T0, 'response:x', 'r', { ex: 30 });
    dbs.db(1).set(T0, 'agent:2:pod', 'p', { ex: 30 });
    expect(dbs.nextExpiryAt()).toBe((Math.floor(T0 / MS) + 30_001) * MS);
    expect(dbs.expireDue(T0 + 31 * SECOND)).toBe(2);
    expect(events).toEqual(['expired:0:response:x', 'expired:1:agent:2:pod']);
    expect(dbs.nextExpiryAt()).toBe((Math.floor(T0 / MS) + 300_001) * MS);
  });
});

describe('maxmemory and eviction across databases (evict.c performEvictions)', () => {
  test('allkeys-lru evicts the least recently used key of any database until memory is under the limit', () => {
    const evicted: string[] = [];
    const budget = 3 * size('agent:1:pod') + size('session:a') + 10;
    const dbs = new RedisDatabases({ maxmemoryBytes: budget, onKeyEvent: (e, k, db) => evicted.push(`${e}:${db}:${k}`) });
    const hub = dbs.db(1);
    const api = dbs.db(0);
    hub.set(T0, 'agent:1:pod', 'x'.repeat(10), { ex: 300 });
    api.set(T0, 'session:a', 'x'.repeat(10), { ex: 86_400 });
    hub.set(T0, 'agent:2:pod', 'x'.repeat(10), { ex: 300 });
    hub.set(T0, 'agent:3:pod', 'x'.repeat(10), { ex: 300 });
    expect(dbs.performEvictions()).toBe(true);
    expect(evicted).toEqual([]); // at the limit is not over it
    // The hub refreshes agent 1 (EXPIRE touches); the auth middleware checks the session (EXISTS does not).
    hub.expire(T0, 'agent:1:pod', 300);
    expect(api.exists(T0, 'session:a')).toBe(1);
    // A new session is written (in Redis the SET itself goes through, eviction runs before the next command).
    api.set(T0, 'session:b', 'x'.repeat(10), { ex: 86_400 });
    expect(dbs.usedBytes).toBeGreaterThan(budget);
    expect(dbs.performEvictions()).toBe(true);
    expect(evicted).toEqual(['evicted:0:session:a']);
    expect(dbs.usedBytes).toBeLessThanOrEqual(budget);
    // Next in LRU order: agent 2, agent 3, agent 1, session b.
    dbs.pressureBytes = 2 * size('agent:1:pod');
    dbs.performEvictions();
    expect(evicted).toEqual(['evicted:0:session:a', 'evicted:1:agent:2:pod', 'evicted:1:agent:3:pod']);
    expect(dbs.db(1).stats.evictedKeys).toBe(2);
  });

  test('pressure beyond what eviction can free: every key goes, then SET is refused with OOM while reads and DEL still run', () => {
    const dbs = new RedisDatabases({ maxmemoryBytes: 10_000 });
    dbs.db(0).set(T0, 'session:a', 'v', { ex: 60 });
    dbs.db(1).set(T0, 'agent:1:pod', 'p', { ex: 60 });
    dbs.pressureBytes = 20_000;
    expect(dbs.performEvictions()).toBe(false);
    expect(dbs.db(0).storedKeys + dbs.db(1).storedKeys).toBe(0);
    expect(redisError(() => dbs.beforeCommand('SET'))).toBe(OOM);
    for (const cmd of ['GET', 'EXISTS', 'SCAN', 'DEL', 'EXPIRE', 'PUBLISH', 'PING', 'DEL_IF_VALUE']) expect(() => dbs.beforeCommand(cmd)).not.toThrow();
    dbs.pressureBytes = 0;
    expect(() => dbs.beforeCommand('SET')).not.toThrow();
  });

  test('volatile-lru evicts only keys with a TTL, in any database; with none left, SET gets OOM', () => {
    const dbs = new RedisDatabases({ maxmemoryBytes: size('a', false) + size('b') + size('c', false), evictionPolicy: 'volatile-lru' });
    dbs.db(0).set(T0, 'a', 'x'.repeat(10));
    dbs.db(1).set(T0, 'b', 'x'.repeat(10), { ex: 60 });
    dbs.db(0).set(T0, 'c', 'x'.repeat(10));
    dbs.db(1).set(T0, 'd', 'x'.repeat(10));
    dbs.beforeCommand('GET');
    expect(dbs.db(1).keys(T0)).toEqual(['d']);
    expect(dbs.db(0).keys(T0)).toEqual(['a', 'c']);
    dbs.db(1).set(T0, 'e', 'x'.repeat(10));
    expect(redisError(() => dbs.beforeCommand('SET'))).toBe(OOM);
  });

  test('noeviction evicts nothing: over the limit, SET gets OOM and everything else runs', () => {
    const dbs = new RedisDatabases({ maxmemoryBytes: 100, evictionPolicy: 'noeviction' });
    dbs.db(0).set(T0, 'session:a', 'x'.repeat(200), { ex: 60 });
    expect(redisError(() => dbs.beforeCommand('SET'))).toBe(OOM);
    expect(() => dbs.beforeCommand('DEL')).not.toThrow();
    expect(dbs.db(0).exists(T0, 'session:a')).toBe(1);
    dbs.db(0).del(T0, 'session:a');
    expect(() => dbs.beforeCommand('SET')).not.toThrow();
  });

  test('without maxmemory nothing is ever evicted or refused, whatever the pressure', () => {
    const dbs = new RedisDatabases({ pressureBytes: 1e12 });
    dbs.db(0).set(T0, 'k', 'v');
    expect(dbs.performEvictions()).toBe(true);
    expect(() => dbs.beforeCommand('SET')).not.toThrow();
    expect(dbs.db(0).storedKeys).toBe(1);
  });

  test('property: with allkeys-lru, evictions follow exact LRU order across databases and end at or under the limit', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), db: fc.constantFrom(0, 1), key: fc.integer({ min: 0, max: 15 }), bytes: fc.integer({ min: 0, max: 300 }) }),
      fc.record({ kind: fc.constant('get' as const), db: fc.constantFrom(0, 1), key: fc.integer({ min: 0, max: 15 }) }),
      fc.record({ kind: fc.constant('exists' as const), db: fc.constantFrom(0, 1), key: fc.integer({ min: 0, max: 15 }) }),
      fc.record({ kind: fc.constant('pressure' as const), bytes: fc.integer({ min: 0, max: 3000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const evicted: string[] = [];
        const dbs = new RedisDatabases({ maxmemoryBytes: 2000, onKeyEvent: (_e, k, db) => evicted.push(`${db}/${k}`) });
        const sizes = new Map<string, number>();
        const bytesOf = (id: string) => keyMemoryBytes(id.slice(2), sizes.get(id)!, false);
        /** Reference: every stored key, least recently used first (by GET/SET; not EXISTS). */
        let order: string[] = [];
        const touch = (id: string) => (order = [...order.filter((x) => x !== id), id]);
        for (const o of ops) {
          evicted.length = 0;
          const fits = dbs.performEvictions();
          // The expected victims: the LRU prefix that brings memory under the limit.
          const expected: string[] = [];
          let used = dbs.pressureBytes + order.reduce((n, id) => n + bytesOf(id), 0);
          while (used > 2000 && order.length > 0) {
            const victim = order.shift()!;
            expected.push(victim);
            used -= bytesOf(victim);
          }
          expect(evicted).toEqual(expected);
          expect(fits).toBe(used <= 2000);
          if (o.kind === 'pressure') dbs.pressureBytes = o.bytes;
          else {
            const id = `${o.db}/k${o.key}`;
            if (o.kind === 'set') {
              dbs.db(o.db).set(T0, `k${o.key}`, 'v', { valueBytes: o.bytes });
              sizes.set(id, o.bytes);
              touch(id);
            } else if (o.kind === 'get') {
              if (dbs.db(o.db).get(T0, `k${o.key}`) !== null) touch(id);
            } else dbs.db(o.db).exists(T0, `k${o.key}`);
          }
        }
      }),
      { numRuns: 300, seed: 5 },
    );
  });
});

describe('snapshots of every database (an RDB file)', () => {
  test('a save keeps every database and the LRU order across them; loading skips keys past their deadline', () => {
    const dbs = new RedisDatabases({ maxmemoryBytes: 1e9 });
    dbs.db(1).set(T0, 'agent:1:pod', 'p', { ex: 300 });
    dbs.db(0).set(T0, 'session:a', 's', { ex: 86_400, valueBytes: 400 });
    dbs.db(0).set(T0, 'response:x', 'r', { px: 500 });
    dbs.db(1).get(T0, 'agent:1:pod');
    const saved = dbs.snapshot();
    expect(saved.entries.map((e) => `${e.db}/${e.key}`)).toEqual(['0/session:a', '0/response:x', '1/agent:1:pod']);
    const boot = T0 + 10 * SECOND;
    // Exactly what the two loaded keys take (the 400 declared bytes of the session count).
    const loaded = keyMemoryBytes('session:a', 400, true) + keyMemoryBytes('agent:1:pod', 1, true);
    const restored = RedisDatabases.fromSnapshot(JSON.parse(JSON.stringify(saved)), boot, { maxmemoryBytes: loaded });
    expect(restored.usedBytes).toBe(loaded);
    expect(restored.db(0).keys(boot)).toEqual(['session:a']);
    expect(restored.db(1).get(boot, 'agent:1:pod')).toBe('p');
    // LRU across databases survived: the session is the oldest key, and goes first.
    restored.pressureBytes = 1;
    restored.performEvictions();
    expect(restored.db(0).keys(boot)).toEqual([]);
    expect(restored.db(1).keys(boot)).toEqual(['agent:1:pod']);
  });

  test('a single database snapshot converts to and from a whole-server one', () => {
    const dbs = new RedisDatabases();
    dbs.db(1).set(T0, 'a', '1');
    dbs.db(0).set(T0, 'b', '2');
    const whole = dbs.snapshot();
    const one = RedisDatabases.databaseSnapshot(whole, 1);
    expect(one).toEqual({ format: 'hasim-redis-keyspace/1', entries: [{ key: 'a', value: '1', expiresAtMs: null }] });
    expect(RedisDatabases.fromDatabaseSnapshot(one, 1).entries).toEqual([{ key: 'a', value: '1', expiresAtMs: null, db: 1 }]);
  });
});
