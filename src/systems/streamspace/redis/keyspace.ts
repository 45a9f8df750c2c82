import { MS, type Micros } from '../../../sim-cluster/time.ts';
import { stringMatch } from './glob.ts';
import { EXPIRE_OVERHEAD_BYTES, keyMemoryBytes } from './memory.ts';
import { ScanOrder } from './scan-order.ts';

/**
 * The data a single Redis server holds: one logical database of string keys with absolute expiry
 * deadlines, plus the server's pub/sub subscription table. Plain synchronous data, no I/O and no
 * clock: every method whose answer depends on time takes `now`, the Redis node's own wall clock in
 * integer µs (spec real-world-semantics §3.2.1: Redis reads the host's wall clock, so a clock jump on
 * the Redis node moves every deadline; the caller passes `NodeClock.wall`).
 *
 * A simulated Redis server process owns one Keyspace per database (through `RedisDatabases`) and
 * decides everything this class does not: network latency, when a dead connection is noticed
 * (`dropClient`), the active-expiry timer (`nextExpiryAt`/`expireDue`), eviction faults, persistence
 * and restarts.
 *
 * Restart (real-world-semantics §3.2.5, §3.1.4): a Redis restart loses **every subscription** (they
 * belong to connections, which all die) and, without persistence, **every key**. The server process
 * models it by dropping these objects and building either fresh ones (no persistence: StreamSpace's
 * internal Redis runs `appendonly no` with no volume, streamspace-v2-behavior §0) or loading the
 * last save (`Keyspace.fromSnapshot`, `RedisDatabases.fromSnapshot`; RDB: the dataset as of the last
 * save, possibly minutes old).
 *
 * One logical database: a server holds several (`RedisDatabases`, databases.ts), AgentHub's keys in
 * DB 1 and the API's session store and response cache in DB 0 (streamspace-v2-behavior §0,
 * api/internal/cache/cache.go). What spans databases is decided there: `maxmemory` over all of them
 * (this class keeps its own `usedBytes`) and LRU across them (the access stamps come from an
 * `LruClock` the databases share).
 *
 * Replies mirror Redis 7.0 replies (`'OK'`, `null` for a nil bulk reply, integers); error replies are
 * thrown as `RedisError` with the exact text a real server sends.
 */

/** An error reply, with the text real Redis 7.0 sends (e.g. `ERR syntax error`). */
export class RedisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisError';
  }
}

/** The OOM error reply (server.c `shared.oomerr`): a write refused because memory could not be freed. */
export const ERR_OOM = "OOM command not allowed when used memory > 'maxmemory'.";

/** Which keys `evictOne` may choose, as Redis's `maxmemory-policy` (redis.conf). */
export type EvictionPolicy = 'allkeys-lru' | 'volatile-lru' | 'noeviction';

/** Why a key left the keyspace by itself; the same names as Redis keyspace notifications. */
export type KeyEvent = 'expired' | 'evicted';

export interface KeyspaceOptions {
  /**
   * Stand-in for `maxmemory`: the most keys the keyspace holds. A SET that would add a key beyond
   * it first evicts by `evictionPolicy`. Default `Infinity` (unlimited, as `maxmemory 0`).
   * Real Redis counts bytes and evicts before any write command once memory is over the limit;
   * counting keys is the model's simplification (every AgentHub value is a few bytes).
   */
  maxKeys?: number;
  /**
   * `maxmemory-policy`. Default `'allkeys-lru'`, StreamSpace's setting (streamspace-v2-behavior §0,
   * `chart/values.yaml:506`). With `'noeviction'` (Redis's own default) a SET past `maxKeys` fails
   * with an OOM error.
   */
  evictionPolicy?: EvictionPolicy;
  /**
   * Called synchronously when a key expires (lazily or actively) or is evicted, like the `expired`
   * and `evicted` keyspace notifications. Default: none. Use it to trace removals.
   */
  onKeyEvent?: (event: KeyEvent, key: string) => void;
  /**
   * Where the access stamps that order keys for LRU come from. The databases of one server share
   * one clock, so their least recently used keys can be compared (evict.c picks victims across all
   * databases). Default: a clock of this keyspace's own.
   */
  lruClock?: LruClock;
}

/**
 * A counter stamping every key access, so "least recently used" can be compared across keyspaces.
 * Redis stamps objects with a 24-bit clock of 1 s resolution (server.h `LRU_CLOCK_RESOLUTION`) and
 * compares sampled idle times; the model's stamps are exact and never tie (see `evictOne`).
 */
export class LruClock {
  private last = 0;
  next(): number {
    return ++this.last;
  }
}

/** Options of SET (redis.io/commands/set). At most one of `ex`, `px`, `keepTtl`; not both `nx` and `xx`. */
export interface SetOptions {
  /** `EX seconds`: a positive integer. */
  ex?: number;
  /** `PX milliseconds`: a positive integer. */
  px?: number;
  /** `NX`: only set if the key does not exist. */
  nx?: boolean;
  /** `XX`: only set if the key exists. */
  xx?: boolean;
  /** `KEEPTTL`: keep the key's current deadline instead of clearing it. */
  keepTtl?: boolean;
  /**
   * Not a Redis option: the size in bytes the value stands for, when the model stores a short
   * stand-in for a large value (a cached JSON body). Counts toward `usedBytes` instead of the
   * stand-in's length. Default: the value's length. A non-negative integer.
   */
  valueBytes?: number;
}

/** Options of SCAN (redis.io/commands/scan). */
export interface ScanOptions {
  /** `MATCH pattern`, a glob as `stringMatch` (glob.ts). Default: every key. */
  match?: string;
  /** `COUNT count`: how many keys to visit in this call, at least 1. Default 10 (db.c `scanGenericCommand`). */
  count?: number;
}

/** Options of EXPIRE/PEXPIRE, new in Redis 7.0 (redis.io/commands/expire). */
export interface ExpireOptions {
  /** Only if the key has no expiry. */
  nx?: boolean;
  /** Only if the key has an expiry. */
  xx?: boolean;
  /** Only if the new deadline is later than the current one (a key without expiry never qualifies). */
  gt?: boolean;
  /** Only if the new deadline is earlier than the current one (a key without expiry always qualifies). */
  lt?: boolean;
}

/** What `snapshot()` returns: plain JSON-compatible data, like an RDB file's content. */
export interface KeyspaceSnapshot {
  readonly format: 'hasim-redis-keyspace/1';
  /** Keys in LRU order, least recently used first (RDB keeps LRU idle times when the policy is LRU). */
  readonly entries: ReadonlyArray<SnapshotEntry>;
}

export interface SnapshotEntry {
  readonly key: string;
  readonly value: string;
  /**
   * Absolute deadline in the Redis node's wall-clock milliseconds (`floor(now / MS)` units), as
   * Redis stores it (§3.2.1: "absolute Unix timestamps in milliseconds"), or null for no expiry.
   */
  readonly expiresAtMs: number | null;
  /** The value's modelled size when it was set with `valueBytes`; absent otherwise. */
  readonly valueBytes?: number;
}

export interface KeyspaceStats {
  /** Keys removed because their deadline passed (INFO `expired_keys`). */
  expiredKeys: number;
  /** Keys removed by eviction (INFO `evicted_keys`). */
  evictedKeys: number;
}

interface Entry {
  readonly key: string;
  value: string;
  /** The value's size in bytes as counted against maxmemory (`SetOptions.valueBytes`, else its length). */
  valueBytes: number;
  /** Whether `valueBytes` was given rather than taken from the value (kept in snapshots). */
  declaredBytes: boolean;
  /** Absolute deadline in wall-clock ms, or undefined for a persistent key. */
  expiresAtMs: number | undefined;
  /** Access stamp from the LRU clock: larger is more recent. */
  lru: number;
  /** Position in SCAN order (scan-order.ts). */
  slot: number;
  scanIndex: number;
}

/** One pending deadline in the expiry heap. Stale once the key's entry or deadline has changed. */
interface Deadline {
  readonly whenMs: number;
  readonly seq: number;
  readonly key: string;
  readonly entry: Entry;
}

const ERR_SYNTAX = 'ERR syntax error';
const ERR_NOT_INTEGER = 'ERR value is not an integer or out of range';
const ERR_INVALID_CURSOR = 'ERR invalid cursor';

export class Keyspace {
  /**
   * All stored keys, in LRU order (least recently used first). Every access deletes and re-inserts
   * the key, so the Map's insertion order is the order of a monotonically increasing access counter:
   * exact, deterministic LRU with no sampling, and the victim is always the first key (O(1)).
   * Keys past their deadline stay here until a lookup or `expireDue` removes them, as in Redis
   * (expire.c: lazy plus active expiry).
   */
  private data = new Map<string, Entry>();
  /** Min-heap of deadlines by (whenMs, seq); entries go stale lazily and are skipped when popped. */
  private heap: Deadline[] = [];
  private heapSeq = 0;
  /** Stored keys that have a deadline; used to decide when the heap holds too many stale entries. */
  private volatileCount = 0;
  /** channel → subscribed client ids, in subscription order (pubsub.c keeps a list per channel). */
  private channels = new Map<string, Set<string>>();
  /** client id → its channels (pubsub.c: `c->pubsub_channels`, per connection). */
  private clientChannels = new Map<string, Set<string>>();
  private readonly maxKeys: number;
  private readonly policy: EvictionPolicy;
  private readonly onKeyEvent: ((event: KeyEvent, key: string) => void) | undefined;
  private readonly counters: KeyspaceStats = { expiredKeys: 0, evictedKeys: 0 };
  private readonly lruClock: LruClock;
  /** Stored keys in SCAN order. */
  private readonly scanOrder = new ScanOrder<Entry>();
  /** Estimated memory of the stored keys (memory.ts), kept up to date on every change. */
  private used = 0;
  /**
   * Whether a command's lookup deletes a key past its deadline (db.c `expireIfNeeded` on a master:
   * lazy expiry). A replica sets it to false: it reports such a key missing but keeps it until its
   * master's DEL arrives (db.c `expireIfNeeded`: `if (server.masterhost != NULL) ... return
   * KEY_EXPIRED` without deleting; real-world §3.2.3). Default true.
   */
  deleteExpiredOnAccess = true;

  constructor(options: KeyspaceOptions = {}) {
    this.maxKeys = options.maxKeys ?? Infinity;
    if (!(this.maxKeys >= 1)) throw new RangeError(`maxKeys must be at least 1, got ${options.maxKeys}`);
    this.policy = options.evictionPolicy ?? 'allkeys-lru';
    this.onKeyEvent = options.onKeyEvent;
    this.lruClock = options.lruClock ?? new LruClock();
  }

  /**
   * Rebuilds a keyspace from a snapshot, as Redis loading an RDB file at boot. Keys whose deadline
   * already passed at `now` are not loaded (rdb.c `rdbLoadRio`: a master skips keys with
   * `expiretime < now`), so a stale snapshot brings back exactly the keys still within their TTL
   * (real-world-semantics §3.2.5: "keys already past their deadline expire at load"). Subscriptions
   * are never in a snapshot: they belong to connections (§3.1.4).
   */
  static fromSnapshot(snapshot: KeyspaceSnapshot, now: Micros, options: KeyspaceOptions = {}): Keyspace {
    if (snapshot.format !== 'hasim-redis-keyspace/1') throw new Error(`unknown snapshot format ${String(snapshot.format)}`);
    const ks = new Keyspace(options);
    for (const e of snapshot.entries) ks.load(now, e);
    return ks;
  }

  /**
   * Loads one key of a snapshot as the most recently used, unless its deadline passed before `now`
   * (see `fromSnapshot`); returns whether it was loaded. For loading several databases' keys
   * interleaved in their common LRU order (`RedisDatabases.fromSnapshot`). The key must be absent.
   * `keepExpired` loads it whatever its deadline, as a replica loads its master's RDB (rdb.c
   * `rdbLoadRio` skips expired keys only `if (iAmMaster() ...)`): the master's DEL removes it later.
   */
  load(now: Micros, e: SnapshotEntry, keepExpired = false): boolean {
    if (!keepExpired && e.expiresAtMs !== null && e.expiresAtMs < toMs(now)) return false;
    if (this.data.has(e.key)) throw new Error(`snapshot entry ${e.key} loaded twice`);
    this.insert(e.key, e.value, e.valueBytes, e.expiresAtMs ?? undefined);
    return true;
  }

  // ---------------------------------------------------------------- strings and keys

  /**
   * SET key value [NX|XX] [EX s|PX ms|KEEPTTL]. Returns 'OK', or null when NX/XX prevented the write.
   * - Without KEEPTTL, SET clears any previous deadline (§3.2.4: "SET (without KEEPTTL) replaces or
   *   clears the TTL").
   * - A key past its deadline counts as missing for NX/XX (db.c `lookupKeyWrite` expires it first).
   * - EX/PX must be positive integers: real Redis answers `ERR invalid expire time in 'set' command`
   *   for 0 or a negative value (t_string.c `getExpireMillisecondsOrReply`).
   * - The lookup for NX/XX touches the key's LRU clock even when the SET is then refused.
   * StreamSpace: `SET agent:<id>:pod <pod> EX 300` and `SET agent:<id>:connected true EX 300`
   * (streamspace-v2-behavior §2.2 handleRegister).
   */
  set(now: Micros, key: string, value: string, options: SetOptions = {}): 'OK' | null {
    const nowMs = toMs(now);
    const { ex, px, nx = false, xx = false, keepTtl = false, valueBytes } = options;
    if (valueBytes !== undefined && !(Number.isSafeInteger(valueBytes) && valueBytes >= 0)) {
      throw new RangeError(`valueBytes must be a non-negative integer, got ${valueBytes}`);
    }
    // t_string.c parseExtendedStringArgumentsOrReply: conflicting flags are a syntax error.
    if ((nx && xx) || (ex !== undefined && px !== undefined) || (keepTtl && (ex !== undefined || px !== undefined))) {
      throw new RedisError(ERR_SYNTAX);
    }
    let expiresAtMs: number | undefined;
    if (ex !== undefined || px !== undefined) {
      const amount = (ex ?? px)!;
      if (!Number.isSafeInteger(amount)) throw new RedisError(ERR_NOT_INTEGER);
      const ttlMs = ex !== undefined ? amount * 1000 : amount;
      if (amount <= 0 || !Number.isSafeInteger(nowMs + ttlMs)) throw new RedisError("ERR invalid expire time in 'set' command");
      // The deadline is relative to the server's clock at the command, in ms (t_string.c: `+= mstime()`).
      expiresAtMs = nowMs + ttlMs;
    }
    const existing = this.lookup(key, nowMs, true);
    if ((nx && existing) || (xx && !existing)) return null;
    if (existing) {
      if (!keepTtl) this.setDeadline(key, existing, expiresAtMs);
      const bytes = valueBytes ?? value.length;
      this.used += bytes - existing.valueBytes;
      existing.value = value;
      existing.valueBytes = bytes;
      existing.declaredBytes = valueBytes !== undefined;
      return 'OK';
    }
    this.makeRoomForOneKey();
    this.insert(key, value, valueBytes, expiresAtMs);
    return 'OK';
  }

  /** GET key: the value, or null when the key is missing or past its deadline (lazy expiry, §3.2.2). */
  get(now: Micros, key: string): string | null {
    return this.lookup(key, toMs(now), true)?.value ?? null;
  }

  /**
   * DEL key [key ...]: the number of keys actually removed. A key named twice counts once, and a key
   * past its deadline counts as missing (db.c `delGenericCommand` expires before deleting).
   * StreamSpace's unregister DELs both agent keys unconditionally (streamspace-v2-behavior §2.2).
   */
  del(now: Micros, ...keys: string[]): number {
    const nowMs = toMs(now);
    let removed = 0;
    for (const key of keys) {
      const entry = this.lookup(key, nowMs, false);
      if (entry) {
        this.remove(key, entry);
        removed++;
      }
    }
    return removed;
  }

  /**
   * EXISTS key [key ...]: how many of the named keys exist, counting a key named twice twice
   * (redis.io/commands/exists). Does not touch LRU (db.c `existsCommand`: `LOOKUP_NOTOUCH`), so the
   * auth middleware's EXISTS on every request (auth SessionStore.ValidateSession) does not keep a
   * session from being the LRU victim; a key past its deadline is expired on the way (lazy expiry).
   */
  exists(now: Micros, ...keys: string[]): number {
    const nowMs = toMs(now);
    let n = 0;
    for (const key of keys) if (this.lookup(key, nowMs, false)) n++;
    return n;
  }

  /**
   * SCAN cursor [MATCH pattern] [COUNT count] (db.c `scanGenericCommand`, Redis 7.0): returns
   * `[nextCursor, keys]`. Each call visits up to `count` stored keys from `cursor` on (scan-order.ts
   * explains the cursor and its guarantee), then filters them as 7.0 does after collecting: keys not
   * matching the pattern are dropped, then matching keys past their deadline are expired (lazily,
   * counted and reported as expiries) and dropped. So a call may return fewer than `count` keys, or
   * none, with a non-zero cursor; go-redis's iterator then asks again. Touches no key's LRU (SCAN
   * reads the dict directly). Redis collects whole buckets, so it may return a few more than
   * `count`; the model returns at most `count`.
   * Errors as Redis: a cursor that is not a non-negative integer gives `ERR invalid cursor`, a
   * `count` below 1 `ERR syntax error`.
   */
  scan(now: Micros, cursor: number, options: ScanOptions = {}): [number, string[]] {
    if (!Number.isSafeInteger(cursor) || cursor < 0) throw new RedisError(ERR_INVALID_CURSOR);
    const count = options.count ?? 10;
    if (!Number.isSafeInteger(count)) throw new RedisError(ERR_NOT_INTEGER);
    if (count < 1) throw new RedisError(ERR_SYNTAX);
    const nowMs = toMs(now);
    const pattern = options.match;
    // db.c: the pattern "*" is not applied at all (`use_pattern = !(patlen == 1 && pat[0] == '*')`).
    const usePattern = pattern !== undefined && pattern !== '*';
    const { items, next } = this.scanOrder.page(cursor, count);
    const keys: string[] = [];
    for (const entry of items) {
      if (usePattern && !stringMatch(pattern, entry.key)) continue;
      if (isPast(entry, nowMs)) {
        if (this.deleteExpiredOnAccess) this.expireEntry(entry.key, entry);
        continue;
      }
      keys.push(entry.key);
    }
    return [next, keys];
  }

  /** EXPIRE key seconds [NX|XX|GT|LT]. See `pexpire`. */
  expire(now: Micros, key: string, seconds: number, options: ExpireOptions = {}): 0 | 1 {
    if (!Number.isSafeInteger(seconds)) throw new RedisError(ERR_NOT_INTEGER);
    return this.expireGeneric(toMs(now), key, seconds * 1000, options, 'expire');
  }

  /**
   * PEXPIRE key milliseconds [NX|XX|GT|LT] (expire.c `expireGenericCommand`):
   * - a missing key (or one past its deadline) gives 0 and is **never created**
   *   (streamspace-v2-behavior §4: "EXPIRE never re-creates a key"; the heartbeat refresh of §2.3
   *   cannot bring back an evicted or restarted-away mapping);
   * - a deadline at or before now deletes the key and gives 1 (`checkAlreadyExpired`: `when <= now`);
   * - NX/XX/GT/LT refuse with 0; a key without expiry counts as an infinite TTL for GT and LT.
   */
  pexpire(now: Micros, key: string, milliseconds: number, options: ExpireOptions = {}): 0 | 1 {
    if (!Number.isSafeInteger(milliseconds)) throw new RedisError(ERR_NOT_INTEGER);
    return this.expireGeneric(toMs(now), key, milliseconds, options, 'pexpire');
  }

  /**
   * TTL key: -2 if missing, -1 if it has no deadline, else the remaining time in seconds rounded
   * half up, `(ms + 500) / 1000` (expire.c `ttlGenericCommand`). So TTL can answer 0 for a key that
   * still exists (under 500 ms left), and 300 for a key with 299.6 s left. Does not touch LRU.
   */
  ttl(now: Micros, key: string): number {
    const ms = this.pttl(now, key);
    return ms < 0 ? ms : Math.floor((ms + 500) / 1000);
  }

  /**
   * PTTL key: -2 if missing, -1 if no deadline, else remaining ms (`when - now`, at least 0). A key
   * is still present in the millisecond of its deadline (see `lookup`), where PTTL answers 0.
   */
  pttl(now: Micros, key: string): number {
    const nowMs = toMs(now);
    const entry = this.lookup(key, nowMs, false);
    if (!entry) return -2;
    if (entry.expiresAtMs === undefined) return -1;
    return Math.max(0, entry.expiresAtMs - nowMs);
  }

  /**
   * FLUSHALL: removes every key and returns 'OK'. Subscriptions are untouched (they are not keys).
   * The removed keys are neither expired nor evicted, so no key event is reported.
   * Note for the server process: real Redis with save points configured also rewrites the RDB file
   * right after FLUSHALL (server.c `flushallCommand`), so a later crash restores an empty dataset.
   */
  flushAll(): 'OK' {
    this.data.clear();
    this.heap = [];
    this.volatileCount = 0;
    this.scanOrder.clear();
    this.used = 0;
    return 'OK';
  }

  /**
   * DBSIZE as seen by a server whose active expiry is timely: removes keys past their deadline, then
   * counts. Real DBSIZE counts stored keys, so it may briefly include expired keys not yet sampled by
   * the active cycle (§3.2.2, `hz 10`); `storedKeys` gives that raw count.
   */
  dbsize(now: Micros): number {
    this.expireDue(now);
    return this.data.size;
  }

  /** Keys stored right now, including keys past their deadline that no access or sweep removed yet. */
  get storedKeys(): number {
    return this.data.size;
  }

  /**
   * Estimated memory of the stored keys (memory.ts `keyMemoryBytes`), keys past their deadline
   * included until removed, as in Redis's `used_memory`.
   */
  get usedBytes(): number {
    return this.used;
  }

  /** The LRU access stamp of a stored key (larger is more recent), or undefined. No side effects. */
  lastAccess(key: string): number | undefined {
    return this.data.get(key)?.lru;
  }

  /**
   * Reads a key for checkers and traces without the side effects of a command: no LRU touch and no
   * lazy deletion. Undefined when the key is missing or past its deadline.
   */
  peek(now: Micros, key: string): { value: string; expiresAtMs: number | undefined } | undefined {
    const entry = this.data.get(key);
    if (!entry || isPast(entry, toMs(now))) return undefined;
    return { value: entry.value, expiresAtMs: entry.expiresAtMs };
  }

  /** Live key names in LRU order (least recently used first), without side effects (as `peek`). */
  keys(now: Micros): string[] {
    const nowMs = toMs(now);
    const out: string[] = [];
    for (const [key, entry] of this.data) if (!isPast(entry, nowMs)) out.push(key);
    return out;
  }

  get stats(): Readonly<KeyspaceStats> {
    return { ...this.counters };
  }

  // ---------------------------------------------------------------- active expiry

  /**
   * The first instant (node wall clock, µs) at which some stored key counts as expired, or
   * undefined when no key has a deadline. A server process arms one timer for it and calls
   * `expireDue` when it fires, instead of Redis's 10 Hz sampling (§3.2.2); it may add a lag on
   * purpose to model keys that linger after their deadline.
   * A key with deadline `whenMs` expires once the clock's millisecond is past it (db.c
   * `keyIsExpired`: `now > when`), i.e. from `(whenMs + 1) * MS` µs: present at that instant − 1 µs.
   */
  nextExpiryAt(): Micros | undefined {
    const top = this.peekDeadline();
    return top === undefined ? undefined : (top.whenMs + 1) * MS;
  }

  /** Active expiry: removes every key past its deadline at `now`; returns them in deadline order. */
  expireDue(now: Micros): string[] {
    const nowMs = toMs(now);
    const expired: string[] = [];
    for (let top = this.peekDeadline(); top !== undefined && nowMs > top.whenMs; top = this.peekDeadline()) {
      this.popDeadline();
      this.expireEntry(top.key, top.entry);
      expired.push(top.key);
    }
    return expired;
  }

  // ---------------------------------------------------------------- pub/sub

  /**
   * SUBSCRIBE channel for one connection; returns the connection's subscription count (the third
   * element of Redis's reply). Subscribing twice to the same channel is a no-op (pubsub.c
   * `pubsubSubscribeChannel`). Only messages published afterwards reach it: nothing is replayed (§3.1.4).
   */
  subscribe(clientId: string, channel: string): number {
    let mine = this.clientChannels.get(clientId);
    if (!mine) this.clientChannels.set(clientId, (mine = new Set()));
    if (!mine.has(channel)) {
      mine.add(channel);
      let subs = this.channels.get(channel);
      if (!subs) this.channels.set(channel, (subs = new Set()));
      subs.add(clientId);
    }
    return mine.size;
  }

  /** UNSUBSCRIBE [channel]: without a channel, from all. Returns the connection's remaining count. */
  unsubscribe(clientId: string, channel?: string): number {
    const mine = this.clientChannels.get(clientId);
    if (!mine) return 0;
    for (const ch of channel === undefined ? [...mine] : [channel]) {
      if (!mine.delete(ch)) continue;
      const subs = this.channels.get(ch)!;
      subs.delete(clientId);
      if (subs.size === 0) this.channels.delete(ch);
    }
    if (mine.size === 0) this.clientChannels.delete(clientId);
    return mine.size;
  }

  /**
   * The server noticed that a connection died: all its subscriptions go (networking.c `freeClient`,
   * §3.1.4). Until the server process calls this, a half-open subscriber keeps counting in PUBLISH
   * (§3.1.7: up to ~600 s with Redis's TCP keepalive). Returns how many subscriptions were dropped.
   */
  dropClient(clientId: string): number {
    const n = this.clientChannels.get(clientId)?.size ?? 0;
    this.unsubscribe(clientId);
    return n;
  }

  /**
   * PUBLISH channel message: the ids of the connections the message is queued for, in subscription
   * order; its length is PUBLISH's reply (§3.1.2). A channel with no subscriber gives [] (reply 0)
   * and the message is dropped: nothing is stored for later subscribers (§3.1.1 at-most-once).
   * Delivery itself (latency, loss on disconnect) is the server process's job; StreamSpace ignores
   * the count (streamspace-v2-behavior §2.3 SendCommandToAgent).
   */
  publish(channel: string, _message: string): string[] {
    const subs = this.channels.get(channel);
    return subs ? [...subs] : [];
  }

  /** The ids subscribed to a channel, in subscription order (PUBSUB NUMSUB is its length). */
  subscribers(channel: string): string[] {
    const subs = this.channels.get(channel);
    return subs ? [...subs] : [];
  }

  /** The channels a connection is subscribed to, in subscription order. */
  subscriptionsOf(clientId: string): string[] {
    const mine = this.clientChannels.get(clientId);
    return mine ? [...mine] : [];
  }

  // ---------------------------------------------------------------- eviction

  /**
   * Evicts the least recently used key allowed by the policy and returns it, or undefined when no
   * key qualifies (`noeviction`, or `volatile-lru` with no key that has a deadline).
   * Exact LRU over the access order (see `data`). Real `allkeys-lru` is approximate: it samples
   * `maxmemory-samples` (default 5) keys and evicts the best of a small pool (evict.c), so a key a
   * little more recent than the true LRU can go first. Exact LRU keeps runs deterministic and is
   * the limit the real algorithm approaches; faults that need "any key may go" use `evictKey`.
   */
  evictOne(): string | undefined {
    const victim = this.evictionCandidate();
    if (victim !== undefined) this.evictKey(victim.key);
    return victim?.key;
  }

  /**
   * The key `evictOne` would evict and its LRU stamp, without evicting it; undefined when no key
   * qualifies. `RedisDatabases` compares the candidates of all databases (evict.c fills one
   * eviction pool from every database).
   */
  evictionCandidate(): { key: string; lastAccess: number } | undefined {
    if (this.policy === 'noeviction') return undefined;
    for (const [key, entry] of this.data) {
      if (this.policy === 'volatile-lru' && entry.expiresAtMs === undefined) continue;
      return { key, lastAccess: entry.lru };
    }
    return undefined;
  }

  /**
   * Evicts a chosen key, whatever the policy: a fault ("memory pressure from DB 0 pushed out this
   * mapping", streamspace-v2-behavior §4 "hub keys can be evicted"). Returns whether it was stored.
   */
  evictKey(key: string): boolean {
    const entry = this.data.get(key);
    if (!entry) return false;
    this.remove(key, entry);
    this.counters.evictedKeys++;
    this.onKeyEvent?.('evicted', key);
    return true;
  }

  // ---------------------------------------------------------------- replication

  /**
   * Applies a SET its master propagated (`SET key value [PXAT ms]`, the absolute form Redis 7
   * propagates, t_string.c `setGenericCommand`): the key takes the value and exactly that deadline
   * (none when null), whether or not a stored copy is past its deadline (db.c `expireIfNeeded`
   * treats keys as valid for the master client). No eviction: a replica leaves memory to its master
   * (`replica-ignore-maxmemory yes`, evict.c `performEvictions`). Touches LRU, as a write does.
   */
  applySet(key: string, value: string, expiresAtMs: number | null, valueBytes?: number): void {
    const existing = this.data.get(key);
    if (existing === undefined) {
      this.insert(key, value, valueBytes, expiresAtMs ?? undefined);
      return;
    }
    this.data.delete(key);
    this.data.set(key, existing);
    existing.lru = this.lruClock.next();
    this.setDeadline(key, existing, expiresAtMs ?? undefined);
    const bytes = valueBytes ?? value.length;
    this.used += bytes - existing.valueBytes;
    existing.value = value;
    existing.valueBytes = bytes;
    existing.declaredBytes = valueBytes !== undefined;
  }

  /**
   * Applies a DEL its master propagated (a client's DEL, or the DEL Redis synthesizes for a key
   * that expired or was evicted on the master, db.c `deleteExpiredKeyAndPropagate`, evict.c): the
   * stored key goes whatever its deadline, with no key event. Returns whether it was stored.
   */
  applyDel(key: string): boolean {
    const entry = this.data.get(key);
    if (entry === undefined) return false;
    this.remove(key, entry);
    return true;
  }

  /** Applies a `PEXPIREAT key ms` its master propagated (expire.c propagates EXPIRE in this absolute form). */
  applyExpireAt(key: string, whenMs: number): boolean {
    const entry = this.data.get(key);
    if (entry === undefined) return false;
    this.setDeadline(key, entry, whenMs);
    return true;
  }

  // ---------------------------------------------------------------- persistence

  /**
   * The dataset as plain data, like an RDB save: values, absolute deadlines (ms) and LRU order.
   * Keys past their deadline but not yet removed are included, as in an RDB file; loading skips them.
   * Subscriptions and clients are not part of it (§3.1.4).
   */
  snapshot(): KeyspaceSnapshot {
    const entries: SnapshotEntry[] = [];
    for (const [key, e] of this.data) {
      const entry = { key, value: e.value, expiresAtMs: e.expiresAtMs ?? null };
      entries.push(e.declaredBytes ? { ...entry, valueBytes: e.valueBytes } : entry);
    }
    return { format: 'hasim-redis-keyspace/1', entries };
  }

  // ---------------------------------------------------------------- internals

  /**
   * db.c `lookupKey`: a key past its deadline is deleted on access (lazy expiry, §3.2.2), so a read
   * never returns an expired key. `touch` moves it to the most-recent end of the LRU order; reads
   * with `LOOKUP_NOTOUCH` (EXISTS, TTL, PTTL) and DEL do not.
   */
  private lookup(key: string, nowMs: number, touch: boolean): Entry | undefined {
    const entry = this.data.get(key);
    if (!entry) return undefined;
    if (isPast(entry, nowMs)) {
      if (this.deleteExpiredOnAccess) this.expireEntry(key, entry);
      return undefined;
    }
    if (touch) {
      this.data.delete(key);
      this.data.set(key, entry);
      entry.lru = this.lruClock.next();
    }
    return entry;
  }

  /** Stores a new key as the most recently used, with its deadline, SCAN slot and memory. */
  private insert(key: string, value: string, valueBytes: number | undefined, expiresAtMs: number | undefined): void {
    const bytes = valueBytes ?? value.length;
    const entry: Entry = {
      key, value, valueBytes: bytes, declaredBytes: valueBytes !== undefined, expiresAtMs: undefined, lru: this.lruClock.next(), slot: 0, scanIndex: 0,
    };
    this.data.set(key, entry);
    this.scanOrder.add(entry);
    this.used += keyMemoryBytes(key, bytes, false);
    this.setDeadline(key, entry, expiresAtMs);
  }

  private expireGeneric(nowMs: number, key: string, ttlMs: number, options: ExpireOptions, cmd: string): 0 | 1 {
    const { nx = false, xx = false, gt = false, lt = false } = options;
    // expire.c parseExtendedExpireArgumentsOrReply.
    if (nx && (xx || gt || lt)) throw new RedisError('ERR NX and XX, GT or LT options at the same time are not compatible');
    if (gt && lt) throw new RedisError('ERR GT and LT options at the same time are not compatible');
    const when = nowMs + ttlMs;
    if (!Number.isSafeInteger(when)) throw new RedisError(`ERR invalid expire time in '${cmd}' command`);
    const entry = this.lookup(key, nowMs, true);
    if (!entry) return 0;
    const current = entry.expiresAtMs;
    if (nx && current !== undefined) return 0;
    if (xx && current === undefined) return 0;
    if (gt && (current === undefined || when <= current)) return 0;
    if (lt && current !== undefined && when >= current) return 0;
    if (when <= nowMs) {
      // A deadline already reached deletes the key at once (expire.c `checkAlreadyExpired`); real
      // Redis reports it as a `del`, not an expiry, so neither the counter nor the hook sees it.
      this.remove(key, entry);
      return 1;
    }
    this.setDeadline(key, entry, when);
    return 1;
  }

  private setDeadline(key: string, entry: Entry, whenMs: number | undefined): void {
    if (entry.expiresAtMs === whenMs) return;
    if (entry.expiresAtMs === undefined) {
      this.volatileCount++;
      this.used += EXPIRE_OVERHEAD_BYTES;
    } else if (whenMs === undefined) {
      this.volatileCount--;
      this.used -= EXPIRE_OVERHEAD_BYTES;
    }
    entry.expiresAtMs = whenMs;
    if (whenMs !== undefined) this.addDeadline(key, entry);
  }

  private remove(key: string, entry: Entry): void {
    this.data.delete(key);
    this.scanOrder.remove(entry);
    this.used -= keyMemoryBytes(key, entry.valueBytes, entry.expiresAtMs !== undefined);
    if (entry.expiresAtMs !== undefined) this.volatileCount--;
    // Any heap entry for it is now stale: `data.get(key) !== entry`. Mark the entry too, so a
    // re-created key with an identical deadline cannot revive it.
    entry.expiresAtMs = undefined;
  }

  private expireEntry(key: string, entry: Entry): void {
    this.remove(key, entry);
    this.counters.expiredKeys++;
    this.onKeyEvent?.('expired', key);
  }

  /**
   * When the SET adds a key and the keyspace is full, evicts by policy first (evict.c
   * `performEvictions`, run before a write command); if nothing can be evicted, the write fails with
   * Redis's OOM error.
   */
  private makeRoomForOneKey(): void {
    while (this.data.size >= this.maxKeys) {
      if (this.evictOne() === undefined) throw new RedisError(ERR_OOM);
    }
  }

  private addDeadline(key: string, entry: Entry): void {
    // Refreshing a TTL (StreamSpace's heartbeat EXPIRE, §2.3) leaves the old heap entry behind;
    // rebuild once stale entries outnumber live ones, so the heap stays O(volatile keys).
    if (this.heap.length > 2 * this.volatileCount + 64) this.rebuildHeap();
    this.heapPush({ whenMs: entry.expiresAtMs!, seq: this.heapSeq++, key, entry });
  }

  /**
   * Whether a heap entry still stands for its key's deadline. An entry that left `data` has no
   * deadline any more (`remove` clears it, and `flushAll` empties the heap with `data`), so the
   * deadline alone tells: no lookup in `data`, which the server's active-expiry timer makes
   * after every command.
   */
  private isLive(d: Deadline): boolean {
    return d.entry.expiresAtMs === d.whenMs;
  }

  private peekDeadline(): Deadline | undefined {
    while (this.heap.length > 0 && !this.isLive(this.heap[0]!)) this.popDeadline();
    return this.heap[0];
  }

  private rebuildHeap(): void {
    const live = this.heap.filter((d) => this.isLive(d));
    // A key can have two live heap entries (deadline set twice to the same value); keep one.
    const seen = new Set<Entry>();
    this.heap = [];
    for (const d of live.sort(before)) {
      if (seen.has(d.entry)) continue;
      seen.add(d.entry);
      this.heap.push(d); // sorted input is already a valid heap
    }
  }

  private heapPush(d: Deadline): void {
    const heap = this.heap;
    heap.push(d);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (before(heap[parent]!, d) <= 0) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = d;
  }

  private popDeadline(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const c = r < heap.length && before(heap[r]!, heap[l]!) < 0 ? r : l;
      if (before(last, heap[c]!) <= 0) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
  }
}

/** Orders deadlines by time, then by when they were set, so simultaneous expiries are deterministic. */
function before(a: Deadline, b: Deadline): number {
  return a.whenMs - b.whenMs || a.seq - b.seq;
}

/** db.c `keyIsExpired`: expired once the clock's millisecond is strictly past the deadline. */
function isPast(entry: Entry, nowMs: number): boolean {
  return entry.expiresAtMs !== undefined && nowMs > entry.expiresAtMs;
}

/**
 * Redis reads its clock in whole milliseconds (`mstime()`), so all TTL arithmetic happens on
 * `floor(now / MS)`; that is where Redis's documented 0–1 ms expiry error comes from (§3.2.1).
 */
function toMs(now: Micros): number {
  if (!Number.isSafeInteger(now)) throw new RangeError(`now must be an integer number of microseconds, got ${now}`);
  return Math.floor(now / MS);
}
