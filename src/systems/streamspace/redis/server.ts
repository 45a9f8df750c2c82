import type { BootFn, ConnectionEnd, ProcessContext, TimerHandle } from '../../../sim-cluster/index.ts';
import { SECOND, type Micros } from '../../../sim-cluster/index.ts';
import { ok, pushRpc, serveRpc, serverError, type RpcResult } from '../net/rpc.ts';
import { RedisDatabases, type RedisSnapshot } from './databases.ts';
import { Keyspace, RedisError, type EvictionPolicy, type KeyspaceOptions, type KeyspaceSnapshot } from './keyspace.ts';
import { AofLog, type RedisAofOptions } from './replication-aof.ts';
import { isReplicationRequest, type ReplOp } from './replication-stream.ts';
import { RedisReplication, replicationEvents, type RedisReplicationOptions } from './replication.ts';

export type { RedisAofOptions } from './replication-aof.ts';
export type { RedisReplicationOptions, ReplicationInfo } from './replication.ts';

/**
 * The database a command without `db` runs in: DB 1, AgentHub's (streamspace-v2-behavior §0), which
 * every command used before the model held other databases.
 */
export const DEFAULT_DB = 1;

/**
 * The commands the StreamSpace model sends (spec streamspace-v2-behavior §4), as wire requests.
 *
 * `db` is the logical database (0-15) of a keyed command; absent means `DEFAULT_DB`. Real clients
 * send `SELECT db` once per new connection (go-redis `initConn`, only when `Options.DB > 0`) and the
 * connection stays in that database; a per-command `db` is equivalent for clients that use one
 * database each, as StreamSpace's do (cache.go: DB 0; the AgentHub: DB 1). The SELECT round trip on
 * a new connection is not modelled. Pub/sub ignores databases (pubsub.c), so PUBLISH and SUBSCRIBE
 * have no `db`.
 */
export type RedisCommand =
  | { cmd: 'PING' }
  | {
    cmd: 'SET'; key: string; value: string; ex?: number; px?: number; nx?: boolean; xx?: boolean; db?: number;
    /** Not a Redis argument: the value's modelled size in bytes (keyspace.ts `SetOptions.valueBytes`). */
    valueBytes?: number;
  }
  | { cmd: 'GET'; key: string; db?: number }
  /** DEL key [key ...]: replies how many keys were removed. At least one key. */
  | { cmd: 'DEL'; keys: string[]; db?: number }
  /** EXISTS key [key ...]: replies how many of the keys exist (a key named twice counts twice). No LRU touch. */
  | { cmd: 'EXISTS'; keys: string[]; db?: number }
  /** SCAN cursor [MATCH pattern] [COUNT count]: replies `ScanReply`. */
  | { cmd: 'SCAN'; cursor: number; match?: string; count?: number; db?: number }
  | { cmd: 'EXPIRE'; key: string; seconds: number; db?: number }
  | { cmd: 'PUBLISH'; channel: string; message: string }
  | { cmd: 'SUBSCRIBE'; channel: string }
  /**
   * Design fix `conditional-unregister`: an EVAL'd compare-and-delete script, atomic in Redis:
   * if GET key == value then DEL key and `alsoKeys`; returns the number of keys removed.
   */
  | { cmd: 'DEL_IF_VALUE'; key: string; value: string; alsoKeys: string[]; db?: number }
  /** INFO replication: replies `ReplicationInfo`. Needs `RedisServerOptions.replication`. */
  | { cmd: 'INFO_REPLICATION' }
  /** REPLICAOF host port / REPLICAOF NO ONE (`master: null`): replies 'OK'. Needs `RedisServerOptions.replication`. */
  | { cmd: 'REPLICAOF'; master: string | null }
  /**
   * CLIENT KILL TYPE normal|pubsub (SKIPME yes): closes the client connections of that type but the
   * caller's own; replies how many. Replication links are never normal or pubsub clients.
   */
  | { cmd: 'CLIENT_KILL'; type: 'normal' | 'pubsub' };

/** SCAN's reply: the cursor to continue from (0: the iteration is complete) and this call's keys. */
export type ScanReply = [nextCursor: number, keys: string[]];

/** A pub/sub message pushed to a subscribed connection. */
export interface RedisPush {
  channel: string;
  message: string;
}

/**
 * What outlives a Redis process: the last RDB snapshot, if persistence is on, the fsynced AOF with
 * `appendonly yes`, the `replicaof` line a CONFIG REWRITE left, and the memory pressure a fault puts
 * on the server. StreamSpace's chart runs Redis with no persistence (§0: appendonly no, no save), so
 * by default a restart is empty. The running incarnation's databases are exposed for fault
 * injection (eviction of a chosen key, memory pressure) and checkers. Each Redis process of a
 * replicated deployment has its own.
 */
export class RedisStorage {
  /** The last RDB save of every database, or null (a restart starts empty). */
  saved: RedisSnapshot | null = null;
  /**
   * With `appendonly yes`: the dataset the fsynced part of the AOF replays to (replication-aof.ts),
   * loaded at restart instead of the RDB; null before the first start with AOF.
   */
  aof: RedisDatabases | null = null;
  /**
   * The `replicaof` line of redis.conf as CONFIG REWRITE left it after the last REPLICAOF
   * (replication.ts `ReplicationConfigFile`): undefined until then (the options' `replicaOf` applies
   * at start), else the master's process name or null. A deployment whose start script writes its
   * own configuration at each start resets it to undefined.
   */
  replicaOfConfig: string | null | undefined = undefined;
  /** The databases of the latest incarnation (null before Redis first starts). */
  databases: RedisDatabases | null = null;
  /**
   * The replication state of the latest incarnation (role, offset, links; `info()` is INFO
   * replication), for checkers and fault injection; null without `replication` or before Redis
   * first starts.
   */
  replication: RedisReplication | null = null;
  /**
   * The default database's keyspace (`DEFAULT_DB`, AgentHub's) of the latest incarnation, null
   * before Redis first starts; `db(0)` reaches the API's database. Pub/sub lives here too.
   */
  live: Keyspace | null = null;
  private pressure = 0;

  /**
   * The default database's part of the last save: reading gives it alone; writing a single
   * database's snapshot saves it as the whole dataset (the default database holding it all), and
   * null clears the save. `save()` keeps every database.
   */
  get snapshot(): KeyspaceSnapshot | null {
    return this.saved === null ? null : RedisDatabases.databaseSnapshot(this.saved, DEFAULT_DB);
  }

  set snapshot(snapshot: KeyspaceSnapshot | null) {
    this.saved = snapshot === null ? null : RedisDatabases.fromDatabaseSnapshot(snapshot, DEFAULT_DB);
  }

  /** An RDB save of every database of the latest incarnation, now (a `SAVE`). */
  save(): void {
    if (this.databases !== null) this.saved = this.databases.snapshot();
  }

  /** Database `index` of the latest incarnation (created empty if unused), or null before Redis first starts. */
  db(index: number): Keyspace | null {
    return this.databases?.db(index) ?? null;
  }

  /**
   * Bytes of other data counted against `maxmemory` (`RedisDatabases.pressureBytes`), for this
   * incarnation and every later one, until set back to 0. Without `maxmemoryBytes` it changes
   * nothing. Setting it evicts nothing by itself: the server evicts before its next command, as
   * Redis does; `performEvictions` evicts at once.
   */
  get pressureBytes(): number {
    return this.pressure;
  }

  set pressureBytes(bytes: number) {
    if (this.databases !== null) this.databases.pressureBytes = bytes;
    this.pressure = bytes;
  }

  /**
   * Evicts now, as the writes that brought the pressure would have (each runs `performEvictions`
   * first): call it only while Redis is up, or the keys of a dead incarnation are evicted. Returns
   * false when memory stays over the limit (see `RedisDatabases.performEvictions`).
   */
  performEvictions(): boolean {
    return this.databases?.performEvictions() ?? true;
  }
}

export interface RedisServerOptions {
  /**
   * RDB saves: take a snapshot every this many µs (a stand-in for `save <seconds> <changes>`).
   * 0 (the default, StreamSpace's chart) disables persistence: a restart starts empty.
   */
  snapshotEveryUs?: Micros;
  /** Service time of one command: uniform in [min, max] µs. Default 50-200 µs (Redis is in-memory). */
  serviceUs?: readonly [Micros, Micros];
  /**
   * Options of the default database's keyspace (`maxKeys`, a key-count stand-in for maxmemory that
   * evicts within that database only; its `evictionPolicy` is the server's, see `evictionPolicy`).
   */
  keyspace?: KeyspaceOptions;
  /**
   * `maxmemory` in bytes over every database (databases.ts `RedisDatabasesOptions.maxmemoryBytes`,
   * memory.ts for the per-key estimate). Before each command the server evicts until memory is
   * under it, and refuses SET with the OOM error when it cannot. Default: none (`maxmemory 0`).
   * StreamSpace's chart: `200mb` = 209,715,200 bytes.
   */
  maxmemoryBytes?: number;
  /**
   * `maxmemory-policy`, for every database. Default `keyspace.evictionPolicy`, else `'allkeys-lru'`
   * (the chart's, values.yaml:507). Giving both with different values is an error.
   */
  evictionPolicy?: EvictionPolicy;
  /**
   * TCP keepalive on client connections (`tcp-keepalive 300`: probes after 300 s idle, every 100 s,
   * 3 of them): how long a half-open subscriber keeps counting in PUBLISH (real-world §3.1).
   */
  keepAlive?: { idleUs: Micros; intervalUs: Micros; probes: number };
  /**
   * Master/replica replication (replication.ts). Default: none, a lone Redis whose runs are as
   * before (no replication timer, random draw or trace event); INFO_REPLICATION and REPLICAOF then
   * answer an error.
   */
  replication?: RedisReplicationOptions;
  /**
   * `appendonly yes` with `appendfsync everysec` (replication-aof.ts): a restart loads the dataset as
   * of the last fsync instead of the RDB. Default: none (`appendonly no`, StreamSpace's chart); seed
   * 004's Redis runs `{ fsyncEveryUs: SECOND }`.
   */
  aof?: RedisAofOptions;
}

/**
 * A Redis 7 server process (real-world-semantics §3): the keyspace with TTLs on the Redis node's own
 * wall clock, active expiry with one timer at the earliest deadline, PUBLISH delivering to the
 * connections subscribed right now (at most once, nothing kept), subscriptions dying with their
 * connection, and a restart that loses everything not in the last snapshot.
 */
export function redisServer(storage: RedisStorage, options: RedisServerOptions = {}): BootFn {
  const [serviceMin, serviceMax] = options.serviceUs ?? [50, 200];
  const keepAlive = options.keepAlive ?? { idleUs: 300 * SECOND, intervalUs: 100 * SECOND, probes: 3 };
  const policy = options.evictionPolicy ?? options.keyspace?.evictionPolicy ?? 'allkeys-lru';
  if (options.keyspace?.evictionPolicy !== undefined && options.keyspace.evictionPolicy !== policy) {
    throw new RangeError(`evictionPolicy ${policy} contradicts keyspace.evictionPolicy ${options.keyspace.evictionPolicy}`);
  }
  return (ctx) => {
    let deletionEffect: ((key: string, db: number) => void) | undefined;
    const { databases, source } = loadDatabases(ctx, storage, options, policy, (key, db) => deletionEffect?.(key, db));
    const keyspace = databases.db(DEFAULT_DB);
    storage.databases = databases;
    storage.live = keyspace;
    const databaseOf = (db: number | undefined): Keyspace => (db === undefined ? keyspace : databases.db(db));
    ctx.record('redis.start', { keys: keyspace.dbsize(ctx.now()), fromSnapshot: source !== null });
    const service = ctx.random('service');
    const subscribers = new Map<string, ConnectionEnd>();
    /** Every client connection and how it is let go, in accept order (`server.clients`, which CLIENT KILL walks). */
    const clients = new Map<string, { conn: ConnectionEnd; drop: () => void }>();
    let expiryTimer: TimerHandle | undefined;
    let expiryAt: Micros | undefined;

    /** networking.c `freeClient` of a served connection: its subscriptions and replication link go with it. */
    const closeClient = (conn: ConnectionEnd): void => {
      clients.get(conn.id)?.drop();
      conn.close();
    };

    /** Delivers a message to this server's subscribers of the channel; returns how many. */
    const publishLocal = (channel: string, message: string): number => {
      const receivers = keyspace.publish(channel, message);
      for (const id of receivers) pushRpc(subscribers.get(id)!, { channel, message } satisfies RedisPush);
      return receivers.length;
    };

    const aof = options.aof === undefined ? null : new AofLog(ctx, storage, databases, options.aof);
    const repl = options.replication === undefined ? null : new RedisReplication(ctx, databases, storage, options.replication, {
      publishLocal,
      aof,
      roleChanged: () => applyRole(),
      closeClient: (conn) => closeClient(conn),
    });
    if (repl !== null) storage.replication = repl;
    /** A master expires and evicts keys and deletes expired ones it finds; a replica waits for its master's DELs (real-world §3.2.3). */
    const applyRole = (): void => {
      databases.deleteExpiredOnAccess = !repl!.isReplica;
      armExpiry();
    };

    /**
     * Active expiry: one timer at the earliest deadline of any database, re-armed whenever it moves.
     * A replica runs none (server.c `databasesCron`: `activeExpireCycle` only `if (iAmMaster())`).
     */
    const armExpiry = (): void => {
      const next = repl !== null && repl.isReplica ? undefined : databases.nextExpiryAt();
      if (next === expiryAt) return;
      ctx.cancelTimer(expiryTimer);
      expiryAt = next;
      if (next === undefined) return;
      expiryTimer = ctx.setTimer(Math.max(0, next - ctx.now()), () => {
        expiryAt = undefined;
        databases.expireDue(ctx.now());
        armExpiry();
      }, 'redis.active-expiry');
    };

    /**
     * A master's write effect, into its replication stream and AOF (replication-stream.ts). Null
     * without either; a replica's data changes come from its master's stream, never from here.
     */
    const emit = aof === null && repl === null ? null : (op: ReplOp): void => {
      if (repl !== null && repl.isReplica) return;
      aof?.append(op);
      repl?.feed(op);
    };
    if (emit !== null) deletionEffect = (key, db) => emit({ op: 'DEL', db, keys: [key] });
    if (repl !== null) applyRole();

    const replication = (): RedisReplication => {
      if (repl === null) throw new RedisError('ERR replication is not configured on this server (RedisServerOptions.replication)');
      return repl;
    };

    if (options.snapshotEveryUs !== undefined && options.snapshotEveryUs > 0) {
      const save = (): void => {
        storage.save();
        ctx.record('redis.save', { keys: keyspace.storedKeys });
        ctx.setTimer(options.snapshotEveryUs!, save, 'redis.save');
      };
      ctx.setTimer(options.snapshotEveryUs, save, 'redis.save');
    }

    const execute = (command: RedisCommand, conn: ConnectionEnd): RpcResult<unknown> => {
      const now = ctx.now();
      // server.c processCommand: the arity check comes first; then, with maxmemory set, evictions
      // before every command, and SET is refused with the OOM error if memory stays over the limit.
      // A replica does neither (`replica-ignore-maxmemory yes`: evict.c `performEvictions` returns
      // at once). Then writes are refused on a master short of good replicas (NOREPLICAS) and on a
      // replica (READONLY), `repl.checkWrite`.
      if ((command.cmd === 'DEL' || command.cmd === 'EXISTS') && command.keys.length === 0) {
        throw new RedisError(`ERR wrong number of arguments for '${command.cmd.toLowerCase()}' command`);
      }
      if (repl === null || !repl.isReplica) databases.beforeCommand(command.cmd);
      switch (command.cmd) {
        case 'PING':
          return ok('PONG');
        case 'SET': {
          repl?.checkWrite(command.cmd, conn.remote);
          const { key, value, db } = command;
          const ks = databaseOf(db);
          // The command is its own SetOptions (ex, px, nx, xx, keepTtl, valueBytes): no copy without key and value.
          const r = ks.set(now, key, value, command);
          if (r === 'OK') {
            ctx.record('redis.set', withDb({ key, value, ex: command.ex ?? null }, db));
            emit?.(setEffect(ks, now, command));
          }
          return ok(r);
        }
        case 'GET':
          return ok(databaseOf(command.db).get(now, command.key));
        case 'DEL': {
          repl?.checkWrite(command.cmd, conn.remote);
          const n = databaseOf(command.db).del(now, ...command.keys);
          if (n > 0) {
            ctx.record('redis.del', withDb({ keys: command.keys, removed: n }, command.db));
            emit?.({ op: 'DEL', db: command.db ?? DEFAULT_DB, keys: command.keys });
          }
          return ok(n);
        }
        case 'EXISTS':
          return ok(databaseOf(command.db).exists(now, ...command.keys));
        case 'SCAN':
          return ok(databaseOf(command.db).scan(now, command.cursor, { match: command.match, count: command.count }) satisfies ScanReply);
        case 'DEL_IF_VALUE': {
          const db = databaseOf(command.db);
          if (db.get(now, command.key) !== command.value) return ok(0);
          // A script is refused on a replica, or for want of good replicas, when it calls its first
          // write (script.c `scriptVerifyWriteCommandAllow`), so one that only read passes. Redis
          // appends " script: <sha>, on @user_script:<line>." to the error; the model does not.
          repl?.checkWrite(command.cmd, conn.remote);
          const keys = [command.key, ...command.alsoKeys];
          const n = db.del(now, ...keys);
          ctx.record('redis.del', withDb({ keys, removed: n }, command.db));
          emit?.({ op: 'DEL', db: command.db ?? DEFAULT_DB, keys });
          return ok(n);
        }
        case 'EXPIRE': {
          repl?.checkWrite(command.cmd, conn.remote);
          const ks = databaseOf(command.db);
          const n = ks.expire(now, command.key, command.seconds);
          if (n === 1) {
            ctx.record('redis.expire', withDb({ key: command.key, seconds: command.seconds }, command.db));
            emit?.(expireEffect(ks, now, command.db ?? DEFAULT_DB, command.key));
          }
          return ok(n);
        }
        case 'PUBLISH': {
          // Not a write: a replica delivers it to its own subscribers only (its stream comes from its master).
          const receivers = publishLocal(command.channel, command.message);
          ctx.record('redis.publish', { channel: command.channel, receivers });
          emit?.({ op: 'PUBLISH', channel: command.channel, message: command.message });
          return ok(receivers);
        }
        case 'SUBSCRIBE':
          subscribers.set(conn.id, conn);
          keyspace.subscribe(conn.id, command.channel);
          ctx.record('redis.subscribe', { client: conn.id, channel: command.channel });
          return ok(1);
        case 'INFO_REPLICATION':
          return ok(replication().info());
        case 'REPLICAOF':
          replication().replicaOf(command.master);
          return ok('OK');
        case 'CLIENT_KILL': {
          // networking.c `clientKillCommand` with TYPE and SKIPME yes; a client subscribed to a channel
          // is a pubsub client (`getClientType`: `CLIENT_PUBSUB`, pubsub.c `markClientAsPubSub`), a
          // replica's link a replica client, which neither type matches.
          let killed = 0;
          for (const client of [...clients.values()]) {
            if (client.conn === conn || repl?.replicas.isLink(client.conn.id) === true) continue;
            if ((subscribers.has(client.conn.id) ? 'pubsub' : 'normal') !== command.type) continue;
            closeClient(client.conn);
            killed++;
          }
          replicationEvents.record(ctx, 'redis.client-kill', { type: command.type, killed });
          return ok(killed);
        }
        default:
          throw new RedisError(`ERR unknown command '${(command as { cmd: string }).cmd}'`);
      }
    };

    return {
      onAccept(conn) {
        conn.enableKeepAlive(keepAlive);
        const drop = (): void => {
          if (keyspace.dropClient(conn.id) > 0) ctx.record('redis.client-gone', { client: conn.id });
          subscribers.delete(conn.id);
          clients.delete(conn.id);
          repl?.connectionClosed(conn.id);
        };
        clients.set(conn.id, { conn, drop });
        // Replies leave in request order on a connection (RESP pipelining): never before the previous one.
        let lastReplyAt = 0;
        serveRpc(conn, (body, reply) => {
          if (repl !== null && isReplicationRequest(body)) {
            repl.handleRequest(body, reply, conn);
            return;
          }
          // Redis runs commands one at a time; the service time only delays the reply, so commands
          // apply in arrival order.
          let result: RpcResult<unknown>;
          try {
            result = execute(body as RedisCommand, conn);
          } catch (error) {
            if (!(error instanceof RedisError)) throw error;
            result = serverError(error.message);
          }
          armExpiry();
          const replyAt = Math.max(ctx.monotonic() + service.int(serviceMin, serviceMax), lastReplyAt);
          lastReplyAt = replyAt;
          ctx.setTimer(replyAt - ctx.monotonic(), () => reply(result), 'redis.reply');
        }, { onClose: drop });
      },
      // SIGTERM (the kubelet killing the container after failed liveness probes): redis-server
      // shuts down and exits. With AOF it fsyncs first (server.c `prepareForShutdown`:
      // `flushAppendOnlyFile(1)` then fsync), so a graceful stop loses nothing; without persistence
      // there is nothing to save. Delivered after a pause.
      onSignal(signal) {
        if (signal !== 'SIGTERM') return;
        aof?.fsyncNow();
        ctx.exit();
      },
    };
  };
}

/**
 * The effect of a SET that wrote, as Redis 7 propagates it: with EX/PX, `SET key value PXAT <the
 * deadline>` (t_string.c `setGenericCommand`); without, as sent, NX or XX included.
 */
function setEffect(ks: Keyspace, now: Micros, command: Extract<RedisCommand, { cmd: 'SET' }>): ReplOp {
  const { key, value, valueBytes } = command;
  const op: ReplOp = { op: 'SET', db: command.db ?? DEFAULT_DB, key, value, pxatMs: ks.peek(now, key)?.expiresAtMs ?? null };
  if (valueBytes !== undefined) op.valueBytes = valueBytes;
  if (op.pxatMs === null && (command.nx === true || command.xx === true)) op.cond = command.nx === true ? 'NX' : 'XX';
  return op;
}

/** The effect of an EXPIRE that answered 1: PEXPIREAT, or DEL when the deadline had already passed (the key is gone). */
function expireEffect(ks: Keyspace, now: Micros, db: number, key: string): ReplOp {
  const left = ks.peek(now, key);
  return left === undefined ? { op: 'DEL', db, keys: [key] } : { op: 'PEXPIREAT', db, key, atMs: left.expiresAtMs! };
}

/**
 * Restarts load the last snapshot (RDB), dropping keys whose deadline passed meanwhile, or, with
 * `appendonly yes`, the fsynced AOF (server.c `loadDataFromDisk` prefers the AOF) once there is one.
 * Expiries and evictions are traced as `redis.expired`/`redis.evicted` with the key, plus `db`
 * outside the default database, and handed to `onDeletion` (a master propagates them as DELs).
 */
function loadDatabases(
  ctx: ProcessContext, storage: RedisStorage, options: RedisServerOptions, policy: EvictionPolicy,
  onDeletion: (key: string, db: number) => void,
): { databases: RedisDatabases; source: RedisSnapshot | null } {
  const { evictionPolicy: _policy, onKeyEvent: _hook, lruClock: _clock, ...defaultDbOptions } = options.keyspace ?? {};
  const all = {
    maxmemoryBytes: options.maxmemoryBytes,
    evictionPolicy: policy,
    pressureBytes: storage.pressureBytes,
    keyspace: (db: number) => (db === DEFAULT_DB ? defaultDbOptions : {}),
    onKeyEvent: (event: string, key: string, db: number) => {
      ctx.record(`redis.${event}`, withDb({ key }, db));
      onDeletion(key, db);
    },
  };
  const source = options.aof !== undefined && storage.aof !== null ? storage.aof.snapshot() : storage.saved;
  return { databases: source === null ? new RedisDatabases(all) : RedisDatabases.fromSnapshot(source, ctx.now(), all), source };
}

/**
 * Trace details of a key event: `db` is added (as the last key) outside the default database, so the
 * hub's events keep their shape. `details` is the caller's fresh literal, so it is extended in place:
 * a spread copy cost more than the rest of a SET (4% of a load run's CPU, where session-cache SETs are
 * most of the trace).
 */
function withDb<T extends Record<string, unknown>>(details: T, db: number | undefined): T | (T & { db: number }) {
  if (db !== undefined && db !== DEFAULT_DB) (details as Record<string, unknown>).db = db;
  return details;
}
