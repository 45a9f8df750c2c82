import type { BootFn, ConnectionEnd, ProcessContext, TimerHandle } from '../../../sim-cluster/index.ts';
import { SECOND, type Micros } from '../../../sim-cluster/index.ts';
import { ok, pushRpc, serveRpc, serverError, type RpcResult } from '../net/rpc.ts';
import { Keyspace, RedisError, type KeyspaceOptions, type KeyspaceSnapshot } from './keyspace.ts';

/** The commands the StreamSpace model sends (spec streamspace-v2-behavior §4), as wire requests. */
export type RedisCommand =
  | { cmd: 'PING' }
  | { cmd: 'SET'; key: string; value: string; ex?: number; px?: number; nx?: boolean; xx?: boolean }
  | { cmd: 'GET'; key: string }
  | { cmd: 'DEL'; keys: string[] }
  | { cmd: 'EXPIRE'; key: string; seconds: number }
  | { cmd: 'PUBLISH'; channel: string; message: string }
  | { cmd: 'SUBSCRIBE'; channel: string }
  /**
   * Design fix `conditional-unregister`: an EVAL'd compare-and-delete script, atomic in Redis:
   * if GET key == value then DEL key and `alsoKeys`; returns the number of keys removed.
   */
  | { cmd: 'DEL_IF_VALUE'; key: string; value: string; alsoKeys: string[] };

/** A pub/sub message pushed to a subscribed connection. */
export interface RedisPush {
  channel: string;
  message: string;
}

/**
 * What outlives a Redis process: the last RDB snapshot, if persistence is on. StreamSpace's chart
 * runs Redis with no persistence (§0: appendonly no, no save), so by default a restart is empty.
 * The running keyspace is exposed for fault injection (eviction of a chosen key) and checkers.
 */
export class RedisStorage {
  snapshot: KeyspaceSnapshot | null = null;
  /** The keyspace of the running incarnation, or null while Redis is down. */
  live: Keyspace | null = null;
}

export interface RedisServerOptions {
  /**
   * RDB saves: take a snapshot every this many µs (a stand-in for `save <seconds> <changes>`).
   * 0 (the default, StreamSpace's chart) disables persistence: a restart starts empty.
   */
  snapshotEveryUs?: Micros;
  /** Service time of one command: uniform in [min, max] µs. Default 50-200 µs (Redis is in-memory). */
  serviceUs?: readonly [Micros, Micros];
  /** Keyspace options (maxKeys, eviction policy). */
  keyspace?: KeyspaceOptions;
  /**
   * TCP keepalive on client connections (`tcp-keepalive 300`: probes after 300 s idle, every 100 s,
   * 3 of them): how long a half-open subscriber keeps counting in PUBLISH (real-world §3.1).
   */
  keepAlive?: { idleUs: Micros; intervalUs: Micros; probes: number };
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
  return (ctx) => {
    const keyspace = loadKeyspace(ctx, storage, options.keyspace);
    storage.live = keyspace;
    ctx.record('redis.start', { keys: keyspace.dbsize(ctx.now()), fromSnapshot: storage.snapshot !== null });
    const service = ctx.random('service');
    const subscribers = new Map<string, ConnectionEnd>();
    let expiryTimer: TimerHandle | undefined;
    let expiryAt: Micros | undefined;

    /** Active expiry: one timer at the earliest deadline, re-armed whenever that deadline moves. */
    const armExpiry = (): void => {
      const next = keyspace.nextExpiryAt();
      if (next === expiryAt) return;
      ctx.cancelTimer(expiryTimer);
      expiryAt = next;
      if (next === undefined) return;
      expiryTimer = ctx.setTimer(Math.max(0, next - ctx.now()), () => {
        expiryAt = undefined;
        keyspace.expireDue(ctx.now());
        armExpiry();
      }, 'redis.active-expiry');
    };

    if (options.snapshotEveryUs !== undefined && options.snapshotEveryUs > 0) {
      const save = (): void => {
        storage.snapshot = keyspace.snapshot();
        ctx.record('redis.save', { keys: storage.snapshot.entries.length });
        ctx.setTimer(options.snapshotEveryUs!, save, 'redis.save');
      };
      ctx.setTimer(options.snapshotEveryUs, save, 'redis.save');
    }

    const execute = (command: RedisCommand, conn: ConnectionEnd): RpcResult<unknown> => {
      const now = ctx.now();
      switch (command.cmd) {
        case 'PING':
          return ok('PONG');
        case 'SET': {
          const { key, value, ...setOptions } = command;
          const r = keyspace.set(now, key, value, setOptions);
          if (r === 'OK') ctx.record('redis.set', { key, value, ex: command.ex ?? null });
          return ok(r);
        }
        case 'GET':
          return ok(keyspace.get(now, command.key));
        case 'DEL': {
          const n = keyspace.del(now, ...command.keys);
          if (n > 0) ctx.record('redis.del', { keys: command.keys, removed: n });
          return ok(n);
        }
        case 'DEL_IF_VALUE': {
          if (keyspace.get(now, command.key) !== command.value) return ok(0);
          const keys = [command.key, ...command.alsoKeys];
          const n = keyspace.del(now, ...keys);
          ctx.record('redis.del', { keys, removed: n });
          return ok(n);
        }
        case 'EXPIRE': {
          const n = keyspace.expire(now, command.key, command.seconds);
          if (n === 1) ctx.record('redis.expire', { key: command.key, seconds: command.seconds });
          return ok(n);
        }
        case 'PUBLISH': {
          const receivers = keyspace.publish(command.channel, command.message);
          for (const id of receivers) pushRpc(subscribers.get(id)!, { channel: command.channel, message: command.message } satisfies RedisPush);
          ctx.record('redis.publish', { channel: command.channel, receivers: receivers.length });
          return ok(receivers.length);
        }
        case 'SUBSCRIBE':
          subscribers.set(conn.id, conn);
          keyspace.subscribe(conn.id, command.channel);
          ctx.record('redis.subscribe', { client: conn.id, channel: command.channel });
          return ok(1);
      }
    };

    return {
      onAccept(conn) {
        conn.enableKeepAlive(keepAlive);
        const drop = (): void => {
          if (keyspace.dropClient(conn.id) > 0) ctx.record('redis.client-gone', { client: conn.id });
          subscribers.delete(conn.id);
        };
        // Replies leave in request order on a connection (RESP pipelining): never before the previous one.
        let lastReplyAt = 0;
        serveRpc(conn, (body, reply) => {
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
        });
        conn.onClose = drop;
      },
      // SIGTERM (the kubelet killing the container after failed liveness probes): redis-server
      // shuts down (no persistence by default: nothing to save) and exits. Delivered after a pause.
      onSignal(signal) {
        if (signal === 'SIGTERM') ctx.exit();
      },
    };
  };
}

/** Restarts load the last snapshot (RDB), dropping keys whose deadline passed meanwhile. */
function loadKeyspace(ctx: ProcessContext, storage: RedisStorage, options: KeyspaceOptions | undefined): Keyspace {
  const onKeyEvent: KeyspaceOptions['onKeyEvent'] = (event, key) => ctx.record(`redis.${event}`, { key });
  const all = { ...options, onKeyEvent };
  return storage.snapshot === null ? new Keyspace(all) : Keyspace.fromSnapshot(storage.snapshot, ctx.now(), all);
}
