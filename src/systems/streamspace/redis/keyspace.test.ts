import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { MINUTE, MS, SECOND } from '../../../sim-cluster/time.ts';
import { Keyspace, RedisError, type KeyEvent } from './keyspace.ts';
import { EXPIRE_OVERHEAD_BYTES, KEY_OVERHEAD_BYTES, keyMemoryBytes } from './memory.ts';

// Sections cited as §N are from spec/real-world-semantics.md; "SS §N" is spec/streamspace-v2-behavior.md.

/** A wall-clock instant that is not on a millisecond boundary, to exercise Redis's ms rounding. */
const T0 = 1_700_000_000_000 * MS + 437;

function redisError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof RedisError) return e.message;
    throw e;
  }
  throw new Error('expected a Redis error reply');
}

describe('strings: SET / GET / DEL / EXISTS', () => {
  test('GET on a missing key returns nil; SET then GET returns the value', () => {
    const ks = new Keyspace();
    expect(ks.get(T0, 'k')).toBeNull();
    expect(ks.set(T0, 'k', 'v')).toBe('OK');
    expect(ks.get(T0, 'k')).toBe('v');
  });

  test('SET NX writes only a missing key, SET XX only an existing one; a refused SET returns nil (redis.io SET)', () => {
    const ks = new Keyspace();
    expect(ks.set(T0, 'k', 'a', { xx: true })).toBeNull();
    expect(ks.get(T0, 'k')).toBeNull();
    expect(ks.set(T0, 'k', 'a', { nx: true })).toBe('OK');
    expect(ks.set(T0, 'k', 'b', { nx: true })).toBeNull();
    expect(ks.get(T0, 'k')).toBe('a');
    expect(ks.set(T0, 'k', 'c', { xx: true })).toBe('OK');
    expect(ks.get(T0, 'k')).toBe('c');
  });

  test('a key past its deadline counts as missing for NX and XX (db.c lookupKeyWrite expires it first)', () => {
    const ks = new Keyspace();
    ks.set(T0, 'lease', 'a', { px: 100 });
    const later = T0 + 200 * MS;
    expect(ks.set(later, 'lease', 'x', { xx: true })).toBeNull();
    expect(ks.set(later, 'lease', 'b', { nx: true })).toBe('OK');
    expect(ks.get(later, 'lease')).toBe('b');
  });

  test('SET argument errors carry the exact reply text of Redis 7.0 (t_string.c)', () => {
    const ks = new Keyspace();
    expect(redisError(() => ks.set(T0, 'k', 'v', { nx: true, xx: true }))).toBe('ERR syntax error');
    expect(redisError(() => ks.set(T0, 'k', 'v', { ex: 1, px: 100 }))).toBe('ERR syntax error');
    expect(redisError(() => ks.set(T0, 'k', 'v', { ex: 1, keepTtl: true }))).toBe('ERR syntax error');
    expect(redisError(() => ks.set(T0, 'k', 'v', { ex: 0 }))).toBe("ERR invalid expire time in 'set' command");
    expect(redisError(() => ks.set(T0, 'k', 'v', { px: -5 }))).toBe("ERR invalid expire time in 'set' command");
    expect(redisError(() => ks.set(T0, 'k', 'v', { ex: 1.5 }))).toBe('ERR value is not an integer or out of range');
    expect(ks.exists(T0, 'k')).toBe(0); // a refused SET writes nothing
  });

  test('DEL returns how many keys it removed: missing keys and repeats do not count (db.c delGenericCommand)', () => {
    const ks = new Keyspace();
    ks.set(T0, 'a', '1');
    ks.set(T0, 'b', '2');
    ks.set(T0, 'gone', '3', { px: 1 });
    expect(ks.del(T0 + 5 * MS, 'a', 'a', 'b', 'missing', 'gone')).toBe(2);
    expect(ks.del(T0 + 5 * MS, 'a')).toBe(0);
    expect(ks.storedKeys).toBe(0);
  });

  test('EXISTS counts a key named twice twice (redis.io EXISTS)', () => {
    const ks = new Keyspace();
    ks.set(T0, 'a', '1');
    ks.set(T0, 'b', '2');
    expect(ks.exists(T0, 'a', 'b', 'missing', 'a')).toBe(3);
    expect(ks.exists(T0, 'missing')).toBe(0);
  });
});

describe('TTL and expiry (§3.2)', () => {
  test('TTL boundary: present at deadline − 1 µs, gone at the deadline; the deadline is 0–1 ms after the TTL (§3.2.1)', () => {
    const ks = new Keyspace();
    ks.set(T0, 'k', 'v', { px: 300 });
    const deadline = ks.nextExpiryAt()!;
    // db.c keyIsExpired: expired when mstime() > when, with when = floor(T0 / 1 ms) + 300.
    expect(deadline).toBe((Math.floor(T0 / MS) + 301) * MS);
    expect(deadline - T0).toBeGreaterThan(300 * MS);
    expect(deadline - T0).toBeLessThanOrEqual(301 * MS);
    expect(ks.get(deadline - 1, 'k')).toBe('v');
    expect(ks.pttl(deadline - 1, 'k')).toBe(0); // still there, in its deadline's millisecond
    expect(ks.get(deadline, 'k')).toBeNull();
    expect(ks.pttl(deadline, 'k')).toBe(-2);
  });

  test('TTL is -2 for a missing key and -1 for a key without expiry (§3.2.4)', () => {
    const ks = new Keyspace();
    expect(ks.ttl(T0, 'missing')).toBe(-2);
    expect(ks.pttl(T0, 'missing')).toBe(-2);
    ks.set(T0, 'p', 'v');
    expect(ks.ttl(T0, 'p')).toBe(-1);
    expect(ks.pttl(T0, 'p')).toBe(-1);
  });

  test('TTL rounds the remaining ms half up, (ms + 500) / 1000 (expire.c ttlGenericCommand)', () => {
    const ks = new Keyspace();
    ks.set(T0, 'a', 'v', { px: 1400 });
    ks.set(T0, 'b', 'v', { px: 1500 });
    ks.set(T0, 'c', 'v', { px: 499 });
    expect(ks.ttl(T0, 'a')).toBe(1);
    expect(ks.ttl(T0, 'b')).toBe(2);
    expect(ks.ttl(T0, 'c')).toBe(0); // TTL 0 for a key that still exists
    expect(ks.exists(T0, 'c')).toBe(1);
    // StreamSpace's 300 s mapping (SS §2.4): 300 for the first half second, then 299.
    ks.set(T0, 'agent:1:pod', 'pod-a', { ex: 300 });
    expect(ks.ttl(T0 + 499 * MS, 'agent:1:pod')).toBe(300);
    expect(ks.ttl(T0 + 501 * MS, 'agent:1:pod')).toBe(299);
    expect(ks.pttl(T0 + 100 * MS, 'agent:1:pod')).toBe(299_900);
  });

  test('SET without KEEPTTL clears the TTL; with KEEPTTL keeps it (§3.2.4)', () => {
    const ks = new Keyspace();
    ks.set(T0, 'k', 'v1', { ex: 10 });
    expect(ks.set(T0, 'k', 'v2', { keepTtl: true })).toBe('OK');
    expect(ks.pttl(T0, 'k')).toBe(10_000);
    expect(ks.get(T0, 'k')).toBe('v2');
    ks.set(T0, 'k', 'v3');
    expect(ks.pttl(T0, 'k')).toBe(-1);
    expect(ks.nextExpiryAt()).toBeUndefined();
    ks.set(T0, 'k', 'v4', { px: 50 });
    expect(ks.pttl(T0, 'k')).toBe(50); // SET EX/PX replaces the deadline of an existing key
  });

  test('EXPIRE on a missing key returns 0 and does not create it (SS §2.3, §4: EXPIRE never re-creates a key)', () => {
    const ks = new Keyspace();
    expect(ks.expire(T0, 'agent:1:pod', 300)).toBe(0);
    expect(ks.pexpire(T0, 'agent:1:pod', 300_000)).toBe(0);
    expect(ks.exists(T0, 'agent:1:pod')).toBe(0);
    expect(ks.ttl(T0, 'agent:1:pod')).toBe(-2);
    expect(ks.storedKeys).toBe(0);
  });

  test('EXPIRE on a key past its deadline returns 0 and does not bring it back', () => {
    const ks = new Keyspace();
    ks.set(T0, 'k', 'v', { px: 100 });
    expect(ks.pexpire(T0 + 200 * MS, 'k', 10_000)).toBe(0);
    expect(ks.get(T0 + 200 * MS, 'k')).toBeNull();
  });

  test('EXPIRE with a non-positive TTL deletes the key and returns 1 (expire.c checkAlreadyExpired)', () => {
    const ks = new Keyspace();
    ks.set(T0, 'a', 'v');
    ks.set(T0, 'b', 'v', { ex: 100 });
    expect(ks.expire(T0, 'a', 0)).toBe(1);
    expect(ks.pexpire(T0, 'b', -10)).toBe(1);
    expect(ks.exists(T0, 'a', 'b')).toBe(0);
    expect(ks.stats.expiredKeys).toBe(0); // reported as a deletion, not an expiry
    expect(ks.nextExpiryAt()).toBeUndefined();
  });

  test('heartbeat EXPIRE pushes the deadline back; a missed refresh lets the mapping expire (SS §2.3)', () => {
    const ks = new Keyspace();
    ks.set(T0, 'agent:1:pod', 'pod-a', { ex: 300 });
    expect(ks.expire(T0 + 250 * SECOND, 'agent:1:pod', 300)).toBe(1);
    expect(ks.get(T0 + 400 * SECOND, 'agent:1:pod')).toBe('pod-a');
    expect(ks.nextExpiryAt()).toBe((Math.floor(T0 / MS) + 550_000 + 1) * MS);
    expect(ks.get(T0 + 551 * SECOND, 'agent:1:pod')).toBeNull();
  });

  test('EXPIRE NX/XX/GT/LT (Redis 7.0 expire.c): refused conditions return 0; a key without TTL is infinite for GT/LT', () => {
    const ks = new Keyspace();
    ks.set(T0, 'k', 'v');
    expect(ks.expire(T0, 'k', 100, { xx: true })).toBe(0);
    expect(ks.expire(T0, 'k', 100, { gt: true })).toBe(0);
    expect(ks.expire(T0, 'k', 100, { nx: true })).toBe(1);
    expect(ks.expire(T0, 'k', 200, { nx: true })).toBe(0);
    expect(ks.expire(T0, 'k', 50, { gt: true })).toBe(0);
    expect(ks.expire(T0, 'k', 200, { gt: true, xx: true })).toBe(1);
    expect(ks.ttl(T0, 'k')).toBe(200);
    expect(ks.expire(T0, 'k', 300, { lt: true })).toBe(0);
    expect(ks.expire(T0, 'k', 100, { lt: true })).toBe(1);
    expect(ks.ttl(T0, 'k')).toBe(100);
    ks.set(T0, 'p', 'v');
    expect(ks.expire(T0, 'p', 100, { lt: true })).toBe(1);
    expect(redisError(() => ks.expire(T0, 'k', 1, { nx: true, xx: true }))).toBe(
      'ERR NX and XX, GT or LT options at the same time are not compatible',
    );
    expect(redisError(() => ks.expire(T0, 'k', 1, { gt: true, lt: true }))).toBe(
      'ERR GT and LT options at the same time are not compatible',
    );
    expect(redisError(() => ks.expire(T0, 'k', 1.5))).toBe('ERR value is not an integer or out of range');
  });

  test('a wall-clock jump on the Redis node moves every deadline (§3.2.1: deadlines are absolute)', () => {
    const ks = new Keyspace();
    ks.set(T0, 'agent:1:pod', 'pod-a', { ex: 300 });
    ks.set(T0, 'agent:1:connected', 'true', { ex: 300 });
    // The node's clock steps 10 minutes forward: both mappings vanish at the next access.
    const jumped = T0 + 1 * SECOND + 10 * MINUTE;
    expect(ks.exists(jumped, 'agent:1:pod', 'agent:1:connected')).toBe(0);
  });

  test('time must be an integer number of µs', () => {
    const ks = new Keyspace();
    expect(() => ks.get(1.5, 'k')).toThrow(RangeError);
  });
});

describe('active expiry: nextExpiryAt / expireDue', () => {
  test('a single timer at nextExpiryAt removes exactly the due keys, in deadline order', () => {
    const events: string[] = [];
    const ks = new Keyspace({ onKeyEvent: (e, k) => events.push(`${e}:${k}`) });
    expect(ks.nextExpiryAt()).toBeUndefined();
    ks.set(T0, 'late', 'v', { px: 300 });
    ks.set(T0, 'early', 'v', { px: 100 });
    ks.set(T0, 'same', 'v', { px: 100 });
    ks.set(T0, 'forever', 'v');
    const first = ks.nextExpiryAt()!;
    expect(ks.expireDue(first - 1)).toEqual([]);
    expect(ks.storedKeys).toBe(4);
    expect(ks.expireDue(first)).toEqual(['early', 'same']); // ties in the order the deadlines were set
    expect(ks.storedKeys).toBe(2);
    expect(ks.nextExpiryAt()).toBe(first + 200 * MS);
    expect(ks.expireDue(T0 + 10 * SECOND)).toEqual(['late']);
    expect(ks.nextExpiryAt()).toBeUndefined();
    expect(events).toEqual(['expired:early', 'expired:same', 'expired:late']);
    expect(ks.stats.expiredKeys).toBe(3);
  });

  test('without an access or a sweep an expired key stays stored, but no read returns it (§3.2.2)', () => {
    const ks = new Keyspace();
    ks.set(T0, 'k', 'v', { px: 10 });
    const later = T0 + 20 * MS;
    expect(ks.storedKeys).toBe(1);
    expect(ks.peek(later, 'k')).toBeUndefined();
    expect(ks.keys(later)).toEqual([]);
    expect(ks.storedKeys).toBe(1);
    expect(ks.dbsize(later)).toBe(0); // DBSIZE of a server whose active expiry is timely
    expect(ks.storedKeys).toBe(0);
  });

  test('DEL, SET without TTL and refreshed TTLs update the next deadline (stale heap entries are skipped)', () => {
    const ks = new Keyspace();
    ks.set(T0, 'a', 'v', { px: 100 });
    ks.set(T0, 'b', 'v', { px: 200 });
    ks.del(T0, 'a');
    expect(ks.nextExpiryAt()).toBe((Math.floor(T0 / MS) + 201) * MS);
    ks.set(T0, 'b', 'v2');
    expect(ks.nextExpiryAt()).toBeUndefined();
    ks.set(T0, 'c', 'v', { px: 100 });
    ks.pexpire(T0, 'c', 500);
    expect(ks.nextExpiryAt()).toBe((Math.floor(T0 / MS) + 501) * MS);
    expect(ks.expireDue(T0 + 200 * MS)).toEqual([]);
  });

  test('property: nextExpiryAt and expireDue agree with a brute-force scan under random commands', () => {
    const key = fc.constantFrom('a', 'b', 'c', 'd');
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key, px: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }) }),
      fc.record({ kind: fc.constant('pexpire' as const), key, ms: fc.integer({ min: -5, max: 50 }) }),
      fc.record({ kind: fc.constant('del' as const), key }),
      fc.record({ kind: fc.constant('get' as const), key }),
      fc.record({ kind: fc.constant('advance' as const), us: fc.integer({ min: 0, max: 20_000 }) }),
      fc.record({ kind: fc.constant('sweep' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const ks = new Keyspace();
        const ref = new Map<string, number | undefined>(); // key → deadline ms
        let now = T0;
        const nowMs = (): number => Math.floor(now / MS);
        const refLive = (k: string): boolean => ref.has(k) && !(ref.get(k) !== undefined && nowMs() > ref.get(k)!);
        for (const o of ops) {
          if (o.kind === 'advance') now += o.us;
          else if (o.kind === 'sweep') {
            const due = ks.expireDue(now);
            for (const k of due) ref.delete(k);
          } else if (o.kind === 'set') {
            ks.set(now, o.key, 'v', o.px === undefined ? {} : { px: o.px });
            ref.set(o.key, o.px === undefined ? undefined : nowMs() + o.px);
          } else if (o.kind === 'pexpire') {
            const r = ks.pexpire(now, o.key, o.ms);
            expect(r).toBe(refLive(o.key) ? 1 : 0);
            if (!refLive(o.key)) ref.delete(o.key);
            else if (o.ms <= 0) ref.delete(o.key);
            else ref.set(o.key, nowMs() + o.ms);
          } else if (o.kind === 'del') {
            expect(ks.del(now, o.key)).toBe(refLive(o.key) ? 1 : 0);
            ref.delete(o.key);
          } else {
            expect(ks.get(now, o.key)).toBe(refLive(o.key) ? 'v' : null);
            if (!refLive(o.key)) ref.delete(o.key);
          }
          const deadlines = [...ref.values()].filter((d): d is number => d !== undefined);
          const expected = deadlines.length === 0 ? undefined : (Math.min(...deadlines) + 1) * MS;
          expect(ks.nextExpiryAt()).toBe(expected);
        }
      }),
      { numRuns: 200, seed: 42 },
    );
  });

  test('refreshing one key many times keeps the deadline heap bounded', () => {
    const ks = new Keyspace();
    ks.set(T0, 'agent:1:pod', 'pod-a', { ex: 300 });
    for (let i = 1; i <= 10_000; i++) ks.expire(T0 + i * 30 * SECOND, 'agent:1:pod', 300);
    // Internal size check: stale entries are compacted away instead of accumulating.
    expect((ks as unknown as { heap: unknown[] }).heap.length).toBeLessThan(100);
    expect(ks.nextExpiryAt()).toBe((Math.floor(T0 / MS) + 10_000 * 30_000 + 300_000 + 1) * MS);
  });
});

describe('pub/sub (§3.1)', () => {
  test('PUBLISH to a channel with no subscriber returns 0 and the message is dropped (§3.1.1, §3.1.3)', () => {
    const ks = new Keyspace();
    expect(ks.publish('pod:api-1:commands', 'm0')).toEqual([]);
    ks.subscribe('api-1', 'pod:api-1:commands');
    // Nothing was kept for the late subscriber: the next publish is the first it can get.
    expect(ks.publish('pod:api-1:commands', 'm1')).toEqual(['api-1']);
  });

  test('PUBLISH returns the subscribers in subscription order; its length is the reply (§3.1.2, pubsub.c)', () => {
    const ks = new Keyspace();
    expect(ks.subscribe('c1', 'ch')).toBe(1);
    expect(ks.subscribe('c2', 'ch')).toBe(1);
    expect(ks.subscribe('c1', 'other')).toBe(2);
    expect(ks.subscribe('c1', 'ch')).toBe(2); // subscribing twice is a no-op
    expect(ks.publish('ch', 'm')).toEqual(['c1', 'c2']);
    expect(ks.unsubscribe('c1', 'ch')).toBe(1);
    expect(ks.subscribe('c1', 'ch')).toBe(2);
    expect(ks.publish('ch', 'm')).toEqual(['c2', 'c1']);
    expect(ks.subscribers('ch')).toEqual(['c2', 'c1']);
    expect(ks.subscriptionsOf('c1')).toEqual(['other', 'ch']);
  });

  test('a dead subscriber counts until the server drops its connection; then all its subscriptions go (§3.1.4, §3.1.7)', () => {
    const ks = new Keyspace();
    ks.subscribe('api-1', 'pod:api-1:commands');
    ks.subscribe('api-1', 'broadcast');
    ks.subscribe('api-2', 'broadcast');
    // api-1 died silently (half-open): the server has not noticed, PUBLISH still counts it.
    expect(ks.publish('pod:api-1:commands', 'cmd')).toEqual(['api-1']);
    expect(ks.dropClient('api-1')).toBe(2);
    expect(ks.publish('pod:api-1:commands', 'cmd')).toEqual([]);
    expect(ks.publish('broadcast', 'x')).toEqual(['api-2']);
    expect(ks.subscriptionsOf('api-1')).toEqual([]);
    expect(ks.dropClient('never-connected')).toBe(0);
  });

  test('UNSUBSCRIBE without a channel leaves every channel; unknown clients and channels are no-ops', () => {
    const ks = new Keyspace();
    ks.subscribe('c', 'a');
    ks.subscribe('c', 'b');
    expect(ks.unsubscribe('c', 'zzz')).toBe(2);
    expect(ks.unsubscribe('c')).toBe(0);
    expect(ks.unsubscribe('nobody', 'a')).toBe(0);
    expect(ks.publish('a', 'm')).toEqual([]);
  });

  test('FLUSHALL removes keys but not subscriptions (they belong to connections, not to the keyspace)', () => {
    const ks = new Keyspace();
    ks.set(T0, 'a', '1', { ex: 10 });
    ks.set(T0, 'b', '2');
    ks.subscribe('c', 'ch');
    expect(ks.flushAll()).toBe('OK');
    expect(ks.dbsize(T0)).toBe(0);
    expect(ks.nextExpiryAt()).toBeUndefined();
    expect(ks.publish('ch', 'm')).toEqual(['c']);
  });
});

describe('eviction (SS §0, §4: allkeys-lru)', () => {
  test('evictOne removes the least recently used key; GET, SET and EXPIRE touch, EXISTS/TTL/PTTL do not (db.c LOOKUP_NOTOUCH)', () => {
    const ks = new Keyspace();
    for (const k of ['a', 'b', 'c', 'd', 'e']) ks.set(T0, k, 'v');
    ks.get(T0, 'a'); // order: b c d e a
    ks.exists(T0, 'b');
    ks.ttl(T0, 'b');
    ks.pttl(T0, 'b');
    ks.expire(T0, 'c', 100); // order: b d e a c
    ks.set(T0, 'd', 'v', { nx: true }); // refused, but the lookup touched it: b e a c d
    expect(ks.keys(T0)).toEqual(['b', 'e', 'a', 'c', 'd']);
    const evicted: string[] = [];
    for (let k = ks.evictOne(); k !== undefined; k = ks.evictOne()) evicted.push(k);
    expect(evicted).toEqual(['b', 'e', 'a', 'c', 'd']);
    expect(ks.stats.evictedKeys).toBe(5);
  });

  test('maxKeys: a SET that adds a key past the limit evicts the LRU key first; overwrites evict nothing', () => {
    const events: Array<[KeyEvent, string]> = [];
    const ks = new Keyspace({ maxKeys: 2, onKeyEvent: (e, k) => events.push([e, k]) });
    ks.set(T0, 'a', '1');
    ks.set(T0, 'b', '2');
    ks.get(T0, 'a');
    ks.set(T0, 'a', '1b');
    expect(events).toEqual([]);
    ks.set(T0, 'c', '3');
    expect(events).toEqual([['evicted', 'b']]);
    expect(ks.keys(T0)).toEqual(['a', 'c']);
  });

  test("noeviction: a SET past maxKeys fails with Redis's OOM error; volatile-lru evicts only keys with a TTL", () => {
    const strict = new Keyspace({ maxKeys: 1, evictionPolicy: 'noeviction' });
    strict.set(T0, 'a', '1');
    expect(redisError(() => strict.set(T0, 'b', '2'))).toBe("OOM command not allowed when used memory > 'maxmemory'.");
    expect(strict.set(T0, 'a', 'overwrite')).toBe('OK');
    expect(strict.evictOne()).toBeUndefined();

    const volatile = new Keyspace({ maxKeys: 2, evictionPolicy: 'volatile-lru' });
    volatile.set(T0, 'persistent', '1');
    volatile.set(T0, 'ttl', '2', { ex: 100 });
    volatile.set(T0, 'new', '3');
    expect(volatile.keys(T0)).toEqual(['persistent', 'new']);
    expect(redisError(() => volatile.set(T0, 'more', '4'))).toMatch(/^OOM /);
  });

  test('evictKey removes a chosen key whatever the policy (a fault); EXPIRE cannot bring it back (SS §11)', () => {
    const ks = new Keyspace({ evictionPolicy: 'noeviction' });
    ks.set(T0, 'agent:1:pod', 'pod-a', { ex: 300 });
    expect(ks.evictKey('agent:1:pod')).toBe(true);
    expect(ks.evictKey('agent:1:pod')).toBe(false);
    expect(ks.expire(T0 + 30 * SECOND, 'agent:1:pod', 300)).toBe(0);
    expect(ks.get(T0 + 30 * SECOND, 'agent:1:pod')).toBeNull();
    expect(ks.nextExpiryAt()).toBeUndefined();
  });
});

describe('persistence and restart (§3.2.5)', () => {
  test('a restart without persistence is a fresh keyspace: no keys, no subscriptions', () => {
    const before = new Keyspace();
    before.set(T0, 'agent:1:pod', 'pod-a', { ex: 300 });
    before.subscribe('api-1', 'pod:api-1:commands');
    const after = new Keyspace();
    expect(after.get(T0, 'agent:1:pod')).toBeNull();
    expect(after.publish('pod:api-1:commands', 'm')).toEqual([]);
  });

  test('restart from a stale snapshot: later writes are lost, keys past their deadline do not load, subscriptions are gone', () => {
    const ks = new Keyspace();
    ks.set(T0, 'agent:1:pod', 'pod-a', { ex: 300 });
    ks.set(T0, 'short', 'v', { px: 500 });
    ks.set(T0, 'persistent', 'v');
    ks.subscribe('api-1', 'pod:api-1:commands');
    const saved = ks.snapshot();
    ks.set(T0 + SECOND, 'agent:1:pod', 'pod-b', { ex: 300 }); // the agent moved after the save
    ks.set(T0 + SECOND, 'after-save', 'v');

    const boot = T0 + 60 * SECOND;
    const restored = Keyspace.fromSnapshot(JSON.parse(JSON.stringify(saved)), boot);
    expect(restored.get(boot, 'agent:1:pod')).toBe('pod-a'); // the stale mapping is back
    expect(restored.ttl(boot, 'agent:1:pod')).toBe(240); // with its absolute deadline
    expect(restored.get(boot, 'after-save')).toBeNull();
    expect(restored.storedKeys).toBe(2); // 'short' was skipped at load, not loaded then expired
    expect(restored.get(boot, 'persistent')).toBe('v');
    expect(restored.publish('pod:api-1:commands', 'm')).toEqual([]);
    expect(restored.nextExpiryAt()).toBe((Math.floor(T0 / MS) + 300_001) * MS);
  });

  test('a snapshot keeps LRU order and options apply to the restored keyspace', () => {
    const ks = new Keyspace();
    ks.set(T0, 'a', '1');
    ks.set(T0, 'b', '2');
    ks.get(T0, 'a');
    const restored = Keyspace.fromSnapshot(ks.snapshot(), T0, { maxKeys: 2 });
    restored.set(T0, 'c', '3');
    expect(restored.keys(T0)).toEqual(['a', 'c']);
    expect(restored.stats).toEqual({ expiredKeys: 0, evictedKeys: 1 });
  });

  test('snapshot entries are plain data with absolute deadlines in ms', () => {
    const ks = new Keyspace();
    ks.set(T0, 'k', 'v', { ex: 5 });
    ks.set(T0, 'p', 'w');
    expect(ks.snapshot()).toEqual({
      format: 'hasim-redis-keyspace/1',
      entries: [
        { key: 'k', value: 'v', expiresAtMs: Math.floor(T0 / MS) + 5000 },
        { key: 'p', value: 'w', expiresAtMs: null },
      ],
    });
  });
});

describe('SCAN (db.c scanGenericCommand, scan-order.ts)', () => {
  /** A full iteration: every call's reply, until the cursor comes back 0. */
  function iterate(ks: Keyspace, now: number, options: { match?: string; count?: number } = {}): Array<[number, string[]]> {
    const replies: Array<[number, string[]]> = [];
    let cursor = 0;
    do {
      const reply = ks.scan(now, cursor, options);
      replies.push(reply);
      cursor = reply[0];
    } while (cursor !== 0 && replies.length < 10_000);
    return replies;
  }

  test('a full iteration returns every key once; COUNT (default 10) bounds each call; cursor 0 ends it', () => {
    const ks = new Keyspace();
    for (let i = 0; i < 25; i++) ks.set(T0, `k${i}`, 'v');
    const replies = iterate(ks, T0);
    expect(replies.map(([, keys]) => keys.length)).toEqual([10, 10, 5]);
    expect(replies.at(-1)![0]).toBe(0);
    expect(replies.flatMap(([, keys]) => keys).sort()).toEqual(ks.keys(T0).sort());
    expect(iterate(ks, T0, { count: 100 })).toHaveLength(1);
    expect(iterate(new Keyspace(), T0)).toEqual([[0, []]]);
  });

  test('MATCH filters after the keys are collected: a call may return none with a non-zero cursor (7.0 step 3)', () => {
    const ks = new Keyspace();
    for (let i = 0; i < 30; i++) ks.set(T0, `response:${i}`, 'v');
    ks.set(T0, 'session:a', 'v');
    ks.set(T0, 'session:b', 'v');
    const replies = iterate(ks, T0, { match: 'session:*' });
    // Thirty response keys first: three calls come back empty before the sessions' page.
    expect(replies).toEqual([[expect.any(Number), []], [expect.any(Number), []], [expect.any(Number), []], [0, ['session:a', 'session:b']]]);
    // StreamSpace's DeleteUserSessions pattern never matches a `session:{jti}` key (SS seeds §2).
    expect(iterate(ks, T0, { match: 'session:user:*:*' }).flatMap(([, keys]) => keys)).toEqual([]);
  });

  test('the pattern "*" is not applied at all, so it also returns the empty key (db.c use_pattern)', () => {
    const ks = new Keyspace();
    ks.set(T0, '', 'v');
    ks.set(T0, 'a', 'v');
    expect(ks.scan(T0, 0, { match: '*' })).toEqual([0, ['', 'a']]);
    expect(ks.scan(T0, 0, { match: '?*' })).toEqual([0, ['a']]);
  });

  test('matching keys past their deadline are expired by the SCAN that visits them; non-matching ones are left stored', () => {
    const events: string[] = [];
    const ks = new Keyspace({ onKeyEvent: (e, k) => events.push(`${e}:${k}`) });
    ks.set(T0, 'session:old', 'v', { px: 10 });
    ks.set(T0, 'response:old', 'v', { px: 10 });
    ks.set(T0, 'session:live', 'v');
    const later = T0 + 20 * MS;
    expect(ks.scan(later, 0, { match: 'session:*' })).toEqual([0, ['session:live']]);
    expect(events).toEqual(['expired:session:old']);
    expect(ks.storedKeys).toBe(2); // response:old waits for active expiry
  });

  test('SCAN touches no key: the LRU order is unchanged', () => {
    const ks = new Keyspace();
    for (const k of ['a', 'b', 'c']) ks.set(T0, k, 'v');
    ks.scan(T0, 0, { match: 'a' });
    ks.scan(T0, 0);
    expect(ks.evictOne()).toBe('a');
  });

  test('argument errors carry Redis 7.0 reply texts', () => {
    const ks = new Keyspace();
    expect(redisError(() => ks.scan(T0, -1))).toBe('ERR invalid cursor');
    expect(redisError(() => ks.scan(T0, 1.5))).toBe('ERR invalid cursor');
    expect(redisError(() => ks.scan(T0, 0, { count: 0 }))).toBe('ERR syntax error');
    expect(redisError(() => ks.scan(T0, 0, { count: 2.5 }))).toBe('ERR value is not an integer or out of range');
  });

  test('cursors stay valid across compaction of removed keys', () => {
    const ks = new Keyspace();
    for (let i = 0; i < 500; i++) ks.set(T0, `k${i}`, 'v');
    const [cursor, first] = ks.scan(T0, 0, { count: 100 });
    expect(first).toHaveLength(100);
    // Most keys go, the order array is compacted; the held cursor still resumes after `first`.
    for (let i = 0; i < 450; i++) ks.del(T0, `k${i}`);
    const rest = iterate(ks, T0).flatMap(([, keys]) => keys);
    const resumed: string[] = [];
    for (let c = cursor; ; ) {
      const [next, keys] = ks.scan(T0, c);
      resumed.push(...keys);
      if (next === 0) break;
      c = next;
    }
    expect(resumed).toEqual(rest);
    expect(resumed).toHaveLength(50);
  });

  test('property: a key present for the whole iteration is returned; every returned key existed at that call (redis.io SCAN guarantees)', () => {
    const key = fc.integer({ min: 0, max: 39 }).map((i) => `k${i}`);
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key }),
      fc.record({ kind: fc.constant('del' as const), key }),
      fc.record({ kind: fc.constant('get' as const), key }),
      fc.record({ kind: fc.constant('expire' as const), key, ms: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3 }) }),
    );
    const step = fc.record({ count: fc.integer({ min: 1, max: 12 }), match: fc.constantFrom(undefined, '*', 'k1*', 'k?', 'k[2-3]*'), between: fc.array(mutation, { maxLength: 6 }) });
    fc.assert(
      fc.property(fc.uniqueArray(key, { maxLength: 40 }), fc.array(step, { minLength: 1, maxLength: 60 }), (initial, steps) => {
        const ks = new Keyspace();
        let now = T0;
        for (const k of initial) ks.set(now, k, 'v');
        const pattern = steps[0]!.match;
        const matches = (k: string) => pattern === undefined || pattern === '*' || new RegExp(`^${pattern.replace('*', '.*').replace('?', '.')}$`).test(k);
        // Keys present from the start and never removed or re-created (so never absent) during the iteration.
        const throughout = new Set(ks.keys(now));
        const returned = new Set<string>();
        let cursor = 0;
        let calls = 0;
        for (const s of [...steps, ...Array.from({ length: 100 }, () => ({ count: 12, match: pattern, between: [] }))]) {
          const [next, keys] = ks.scan(now, cursor, { count: s.count, match: pattern });
          calls++;
          for (const k of keys) {
            expect(ks.peek(now, k), `${k} returned but absent`).toBeDefined();
            expect(matches(k)).toBe(true);
            returned.add(k);
          }
          cursor = next;
          if (cursor === 0) break;
          for (const m of s.between) {
            if (m.kind === 'advance') now += m.ms * MS;
            else if (m.kind === 'set') {
              if (ks.peek(now, m.key) === undefined) throughout.delete(m.key);
              ks.set(now, m.key, 'v2');
            } else if (m.kind === 'del') {
              ks.del(now, m.key);
              throughout.delete(m.key);
            } else if (m.kind === 'get') ks.get(now, m.key);
            else if (ks.pexpire(now, m.key, m.ms) === 1) throughout.delete(m.key); // it will go before the end
          }
          // A key that expired meanwhile was not present throughout.
          for (const k of throughout) if (ks.peek(now, k) === undefined) throughout.delete(k);
        }
        expect(cursor).toBe(0);
        expect(calls).toBeLessThanOrEqual(steps.length + 100);
        for (const k of throughout) if (matches(k)) expect(returned.has(k), `${k} present throughout but not returned`).toBe(true);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});

describe('memory estimate (memory.ts)', () => {
  test('usedBytes follows every change: new keys, TTLs set and cleared, overwrites, valueBytes, deletes, FLUSHALL', () => {
    const ks = new Keyspace();
    expect(ks.usedBytes).toBe(0);
    ks.set(T0, 'session:abc', 'x'.repeat(100));
    const persistent = 'session:abc'.length + 100 + KEY_OVERHEAD_BYTES;
    expect(ks.usedBytes).toBe(persistent);
    ks.expire(T0, 'session:abc', 60);
    expect(ks.usedBytes).toBe(persistent + EXPIRE_OVERHEAD_BYTES);
    ks.set(T0, 'session:abc', 'y', { keepTtl: true });
    expect(ks.usedBytes).toBe(persistent - 99 + EXPIRE_OVERHEAD_BYTES);
    ks.set(T0, 'session:abc', 'stand-in', { valueBytes: 4096 });
    expect(ks.usedBytes).toBe(keyMemoryBytes('session:abc', 4096, false)); // SET without KEEPTTL cleared the TTL
    ks.set(T0, 'response:1', 'r', { ex: 30 });
    expect(ks.usedBytes).toBe(keyMemoryBytes('session:abc', 4096, false) + keyMemoryBytes('response:1', 1, true));
    ks.del(T0, 'session:abc');
    expect(ks.usedBytes).toBe(keyMemoryBytes('response:1', 1, true));
    ks.expireDue(T0 + 31 * SECOND);
    expect(ks.usedBytes).toBe(0);
    ks.set(T0, 'a', 'b');
    ks.flushAll();
    expect(ks.usedBytes).toBe(0);
    expect(() => ks.set(T0, 'a', 'b', { valueBytes: -1 })).toThrow(RangeError);
  });

  test('valueBytes survives a snapshot; values without it keep the plain snapshot shape', () => {
    const ks = new Keyspace();
    ks.set(T0, 'big', 'digest', { valueBytes: 10_000 });
    ks.set(T0, 'small', 'v');
    const snap = ks.snapshot();
    expect(snap.entries).toEqual([
      { key: 'big', value: 'digest', expiresAtMs: null, valueBytes: 10_000 },
      { key: 'small', value: 'v', expiresAtMs: null },
    ]);
    expect(Keyspace.fromSnapshot(snap, T0).usedBytes).toBe(ks.usedBytes);
  });
});
