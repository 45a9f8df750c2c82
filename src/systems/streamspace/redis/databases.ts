import type { Micros } from '../../../sim-cluster/time.ts';
import { ERR_OOM, Keyspace, LruClock, RedisError, type EvictionPolicy, type KeyEvent, type KeyspaceOptions, type KeyspaceSnapshot, type SnapshotEntry } from './keyspace.ts';

/** `databases 16`, redis.conf's default (config.c); StreamSpace's chart does not change it. */
export const DATABASE_COUNT = 16;

/**
 * Commands with the `DENYOOM` flag among those the model serves (Redis 7.0.15 `src/commands/*.json`):
 * SET only. DEL and EXPIRE are writes without it, GET, EXISTS and SCAN are reads, PUBLISH and EVAL
 * (the `conditional-unregister` script, whose GET and DEL are not DENYOOM either) have no such flag.
 */
export const DENYOOM_COMMANDS: ReadonlySet<string> = new Set(['SET']);

export interface RedisDatabasesOptions {
  /**
   * `maxmemory` in bytes, compared with the estimated memory of every key of every database plus
   * `pressureBytes` (memory.ts). Default `Infinity`, as `maxmemory 0` (no limit). StreamSpace's chart
   * sets `200mb` (chart/values.yaml:506), which Redis reads as 200 × 1024 × 1024 = 209,715,200 bytes
   * (util.c `memtoll`: "mb" is 1024 × 1024).
   */
  maxmemoryBytes?: number;
  /** `maxmemory-policy` of the server, applied to every database. Default `'allkeys-lru'` (the chart's). */
  evictionPolicy?: EvictionPolicy;
  /** Bytes of other data counted against `maxmemory` (see `pressureBytes`). Default 0. */
  pressureBytes?: number;
  /**
   * Options of one database's keyspace besides the policy, the LRU clock and the hook (which this
   * class sets), e.g. the default database's `maxKeys`. Default: none.
   */
  keyspace?: (db: number) => Omit<KeyspaceOptions, 'evictionPolicy' | 'lruClock' | 'onKeyEvent'>;
  /** A key of database `db` expired or was evicted (Redis's keyspace notifications carry the db too). */
  onKeyEvent?: (event: KeyEvent, key: string, db: number) => void;
}

/** An RDB file's content: every database's keys, least recently used first across databases. */
export interface RedisSnapshot {
  readonly format: 'hasim-redis/1';
  readonly entries: ReadonlyArray<SnapshotEntry & { readonly db: number }>;
}

/**
 * The logical databases of one Redis server (redis.conf `databases 16`) and what they share:
 * `maxmemory` and its eviction, which are instance-wide (evict.c `performEvictions` frees memory
 * from whichever database holds the best victim), and the LRU clock that makes keys of different
 * databases comparable. Pub/sub is instance-wide too (pubsub.c keeps `server.pubsub_channels`); the
 * server process keeps its table in its default database's keyspace (server.ts).
 *
 * Eviction is **exact LRU across databases**: the victim is the key with the oldest access among
 * every database's keys the policy allows (`allkeys-lru`: all; `volatile-lru`: those with a TTL).
 * Real Redis approximates it: it samples `maxmemory-samples` (5) keys per database into a 16-entry
 * pool and evicts the best of the pool, on a 1-second LRU clock, so a key slightly more recent than
 * the true LRU key, possibly in another database, can go first. Exact LRU is deterministic and the
 * limit the sampling approaches; which keys go under real Redis is checked only loosely
 * (conformance.test.ts).
 *
 * Databases are created when first used; an index outside 0-15 is Redis's `ERR DB index is out of
 * range` (the reply SELECT gives).
 */
export class RedisDatabases {
  /** `maxmemory`, or Infinity for none. */
  readonly maxmemoryBytes: number;
  readonly policy: EvictionPolicy;
  private readonly dbs: Array<Keyspace | undefined> = [];
  private readonly clock = new LruClock();
  private pressure: number;
  private expiredOnAccess = true;

  constructor(private readonly options: RedisDatabasesOptions = {}) {
    this.maxmemoryBytes = options.maxmemoryBytes ?? Infinity;
    if (!(this.maxmemoryBytes > 0)) throw new RangeError(`maxmemoryBytes must be positive, got ${options.maxmemoryBytes}`);
    this.policy = options.evictionPolicy ?? 'allkeys-lru';
    this.pressure = checkedPressure(options.pressureBytes ?? 0);
  }

  /**
   * Rebuilds every database from an RDB snapshot (see `Keyspace.fromSnapshot`: keys whose deadline
   * passed before `now` are not loaded), keeping the LRU order across databases (an RDB keeps each
   * key's idle time when the policy is LRU, rdb.c `rdbSaveKeyValuePair`).
   */
  static fromSnapshot(snapshot: RedisSnapshot, now: Micros, options: RedisDatabasesOptions = {}): RedisDatabases {
    if (snapshot.format !== 'hasim-redis/1') throw new Error(`unknown snapshot format ${String(snapshot.format)}`);
    const dbs = new RedisDatabases(options);
    for (const { db, ...entry } of snapshot.entries) dbs.db(db).load(now, entry);
    return dbs;
  }

  /** Database `index`, created empty on first use; `ERR DB index is out of range` outside 0-15. */
  db(index: number): Keyspace {
    if (!Number.isInteger(index) || index < 0 || index >= DATABASE_COUNT) throw new RedisError('ERR DB index is out of range');
    let ks = this.dbs[index];
    if (ks === undefined) {
      const onKeyEvent = this.options.onKeyEvent;
      ks = new Keyspace({
        ...this.options.keyspace?.(index),
        evictionPolicy: this.policy,
        lruClock: this.clock,
        onKeyEvent: onKeyEvent && ((event, key) => onKeyEvent(event, key, index)),
      });
      ks.deleteExpiredOnAccess = this.expiredOnAccess;
      this.dbs[index] = ks;
    }
    return ks;
  }

  /**
   * Whether commands' lookups delete keys past their deadline (`Keyspace.deleteExpiredOnAccess`),
   * for every database, present and future: true on a master, false on a replica. Default true.
   */
  get deleteExpiredOnAccess(): boolean {
    return this.expiredOnAccess;
  }

  set deleteExpiredOnAccess(value: boolean) {
    this.expiredOnAccess = value;
    for (const ks of this.dbs) if (ks !== undefined) ks.deleteExpiredOnAccess = value;
  }

  /** Keys stored in every database, keys past their deadline included (the sum of `Keyspace.storedKeys`). */
  get storedKeys(): number {
    let n = 0;
    for (const ks of this.dbs) if (ks !== undefined) n += ks.storedKeys;
    return n;
  }

  /**
   * A replica's full synchronization (replication.c `readSyncBulkPayload`: `emptyData` then
   * `rdbLoad`): every database is emptied and the master's RDB loaded in its place, keys past their
   * deadline included (`keepExpired`, see `Keyspace.load`). Subscriptions stay: they belong to the
   * replica's own clients. Returns the number of keys loaded.
   */
  replaceAll(snapshot: RedisSnapshot, now: Micros, keepExpired: boolean): number {
    if (snapshot.format !== 'hasim-redis/1') throw new Error(`unknown snapshot format ${String(snapshot.format)}`);
    this.flushAll();
    let n = 0;
    for (const { db, ...entry } of snapshot.entries) if (this.db(db).load(now, entry, keepExpired)) n++;
    return n;
  }

  /** The databases created so far, in index order (the order Redis walks them in, e.g. active expiry). */
  *databases(): IterableIterator<[number, Keyspace]> {
    for (let i = 0; i < this.dbs.length; i++) {
      const ks = this.dbs[i];
      if (ks !== undefined) yield [i, ks];
    }
  }

  /** Estimated memory counted against `maxmemory`: every database's keys plus `pressureBytes`. */
  get usedBytes(): number {
    let used = this.pressure;
    for (const ks of this.dbs) if (ks !== undefined) used += ks.usedBytes;
    return used;
  }

  /**
   * Bytes of other data held by the server and counted against `maxmemory`: a fault's memory
   * pressure (another tenant's dataset, big client buffers) that eviction cannot reclaim. Setting it
   * does not evict by itself; see `performEvictions`.
   */
  get pressureBytes(): number {
    return this.pressure;
  }

  set pressureBytes(bytes: number) {
    this.pressure = checkedPressure(bytes);
  }

  /**
   * evict.c `performEvictions`: while memory is over `maxmemory`, evicts the policy's best victim
   * across databases (each eviction counted and reported through `onKeyEvent`). Returns false
   * (`EVICT_FAIL`) when memory is still over the limit because nothing more may be evicted: the
   * policy is `noeviction`, or no key qualifies. At or under the limit it returns true at once
   * (`getMaxmemoryState`: over means strictly greater).
   * Redis stops after a time budget (`maxmemory-eviction-tenacity`) and finishes from a timer,
   * letting commands run meanwhile; the model frees everything at once.
   */
  performEvictions(): boolean {
    if (this.maxmemoryBytes === Infinity) return true;
    while (this.usedBytes > this.maxmemoryBytes) {
      let victim: { ks: Keyspace; key: string; lastAccess: number } | undefined;
      for (const ks of this.dbs) {
        const candidate = ks?.evictionCandidate();
        if (candidate !== undefined && (victim === undefined || candidate.lastAccess < victim.lastAccess)) victim = { ks: ks!, ...candidate };
      }
      if (victim === undefined) return false;
      victim.ks.evictKey(victim.key);
    }
    return true;
  }

  /**
   * What server.c `processCommand` does about memory before running any command when `maxmemory`
   * is set: evict (`performEvictions`), and if memory could not be brought under the limit, refuse a
   * `DENYOOM` command with the OOM error (thrown as a `RedisError`). Other commands run anyway, so
   * DEL and reads keep working on a full server.
   */
  beforeCommand(command: string): void {
    if (this.maxmemoryBytes === Infinity) return;
    if (!this.performEvictions() && DENYOOM_COMMANDS.has(command)) throw new RedisError(ERR_OOM);
  }

  /** The earliest instant some key of any database counts as expired (see `Keyspace.nextExpiryAt`). */
  nextExpiryAt(): Micros | undefined {
    let next: Micros | undefined;
    for (const ks of this.dbs) {
      const at = ks?.nextExpiryAt();
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  /** Active expiry over every database, in index order; returns how many keys expired. */
  expireDue(now: Micros): number {
    let n = 0;
    for (const ks of this.dbs) if (ks !== undefined) n += ks.expireDue(now).length;
    return n;
  }

  /** FLUSHALL: empties every database (a FLUSHDB empties one: `db(i).flushAll()`). */
  flushAll(): 'OK' {
    for (const ks of this.dbs) ks?.flushAll();
    return 'OK';
  }

  /** An RDB save of every database: entries tagged with their database, in LRU order across databases. */
  snapshot(): RedisSnapshot {
    const entries: Array<SnapshotEntry & { db: number; lru: number }> = [];
    for (const [db, ks] of this.databases()) {
      for (const e of ks.snapshot().entries) entries.push({ ...e, db, lru: ks.lastAccess(e.key)! });
    }
    entries.sort((a, b) => a.lru - b.lru);
    return { format: 'hasim-redis/1', entries: entries.map(({ lru: _lru, ...e }) => e) };
  }

  /** A snapshot of one database alone (what the single-database `KeyspaceSnapshot` callers keep). */
  static databaseSnapshot(snapshot: RedisSnapshot, db: number): KeyspaceSnapshot {
    return { format: 'hasim-redis-keyspace/1', entries: snapshot.entries.filter((e) => e.db === db).map(({ db: _db, ...e }) => e) };
  }

  /** A single database's snapshot as a whole-server one, every key in database `db`. */
  static fromDatabaseSnapshot(snapshot: KeyspaceSnapshot, db: number): RedisSnapshot {
    return { format: 'hasim-redis/1', entries: snapshot.entries.map((e) => ({ ...e, db })) };
  }
}

function checkedPressure(bytes: number): number {
  if (!(Number.isSafeInteger(bytes) && bytes >= 0)) throw new RangeError(`pressureBytes must be a non-negative integer, got ${bytes}`);
  return bytes;
}
