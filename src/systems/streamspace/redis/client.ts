import type { ProcessContext, RandomStream, TimerHandle } from '../../../sim-cluster/index.ts';
import { MS, SECOND, type Micros } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart } from '../../../sim-cluster/statechart/index.ts';
import { RpcClient, type DialTarget, type RpcResult } from '../net/rpc.ts';
import { pubSubMachine, type PubSubComponent, type PubSubEvent } from './pubsub-machine.ts';
import type { SentinelCommand } from './sentinel.ts';
import type { RedisCommand, RedisPush, ScanReply } from './server.ts';

/** A timeout that never fires in any simulated run (about 31 years): go-redis's Receive has none. */
const FOREVER_US: Micros = 1e15;

/**
 * A go-redis FailoverClient's master lookup (failover-client.ts `SentinelFailover`, go-redis
 * sentinel.go `sentinelFailover`), as the client's connections use it: its dialer asks it for the
 * master before every dial (`masterReplicaDialer`), and its pool registers a hook that runs when
 * the master changes (`onFailover`, which closes the pool's connections to any other address).
 */
export interface MasterResolver {
  /** sentinelFailover.MasterAddr: the master's process name, or an error when no Sentinel answered. */
  masterAddr(cb: (r: RpcResult<string>) => void): void;
  /** Registers an `onFailover` hook, called with the new master each time it changes. */
  onFailover(listener: (master: string) => void): void;
}

/**
 * Where a Redis client's connections go: a process name, a resolver asked at each dial (a
 * Kubernetes Service, net/rpc.ts `DialTarget`), or a Sentinel-aware `MasterResolver`.
 */
export type RedisTarget = DialTarget | MasterResolver;

/**
 * The dial target after a failed master lookup: no process has this name, so the dial is refused
 * at once, which is how go-redis's dialer fails when MasterAddr returns an error.
 */
const NO_MASTER = '(no master: every sentinel unreachable)';

/**
 * Server errors go-redis retries (error.go `shouldRetry`, v9.16.0 error.go:63-102): a replica's
 * READONLY among them. Other server errors (OOM, NOREPLICAS, syntax) are returned at once.
 */
const RETRIED_SERVER_ERRORS = ['LOADING ', 'READONLY ', 'MASTERDOWN ', 'CLUSTERDOWN ', 'TRYAGAIN '] as const;

/** The commands that run in a database (the rest, PING, pub/sub and server commands, have none). */
type KeyedCommand = Extract<RedisCommand, { cmd: 'SET' | 'GET' | 'DEL' | 'EXISTS' | 'SCAN' | 'EXPIRE' | 'DEL_IF_VALUE' }>;

function isKeyed(command: RedisCommand): command is KeyedCommand {
  switch (command.cmd) {
    case 'SET':
    case 'GET':
    case 'DEL':
    case 'EXISTS':
    case 'SCAN':
    case 'EXPIRE':
    case 'DEL_IF_VALUE':
      return true;
    default:
      return false;
  }
}

function retriedServerError(message: string): boolean {
  return message === 'ERR max number of clients reached' || RETRIED_SERVER_ERRORS.some((prefix) => message.startsWith(prefix));
}

/** go-redis v9 client defaults (options.go) that shape failure timing. */
export interface RedisClientOptions {
  /**
   * The Redis server: a process name, a per-dial resolver (a Kubernetes Service), or a
   * Sentinel-aware `MasterResolver` (the fix `sentinel-aware-client`). Default `redis`.
   */
  target?: RedisTarget;
  /** DialTimeout: 5 s. */
  dialTimeoutUs?: Micros;
  /** ReadTimeout: 3 s. A timed-out connection is bad: it is closed and the next attempt redials. */
  readTimeoutUs?: Micros;
  /** MaxRetries: 3 (network errors and read timeouts are retried, so a command may apply twice). */
  maxRetries?: number;
  /** MinRetryBackoff 8 ms and MaxRetryBackoff 512 ms: the backoff before retry n is jittered in [0, min(max, min·2^n)]. */
  retryBackoffUs?: readonly [Micros, Micros];
  /**
   * Options.DB: the logical database of every keyed command this client sends (a command that names
   * its own `db` keeps it). Default: none, i.e. the server's `DEFAULT_DB` (the AgentHub's DB 1).
   * StreamSpace's cache client (cache.go NewCache) uses 0.
   */
  db?: number;
  /** How command timeouts are kept (net/rpc.ts `RpcClientOptions.timeouts`). Default `per-call`. */
  timeouts?: 'per-call' | 'per-connection';
}

/**
 * A Go `context.Context` deadline for one command (or a loop of them), on the caller's monotonic
 * clock. go-redis stops at it: no retry starts after it (`internal.Sleep(ctx, backoff)` returns
 * `ctx.Err()`), and a dial or read in progress fails at it (the conn deadline is the earlier of the
 * timeout and the context's, `Conn.deadline`).
 */
export interface CommandContext {
  deadline?: Micros;
}

/** What go-redis returns once a context's deadline has passed. */
const DEADLINE_EXCEEDED: RpcResult<never> = { ok: false, error: 'timeout', message: 'context deadline exceeded' };

/**
 * A go-redis v9 client for the commands StreamSpace sends, with go-redis's retry rules: a command
 * that fails with a connection error or a read timeout is retried up to MaxRetries times on a fresh
 * connection after a jittered backoff. Server errors (OOM, syntax) are not retried, except the ones
 * go-redis retries (`RETRIED_SERVER_ERRORS`); a READONLY reply also discards the connection
 * (error.go `isBadConn`, v9.16.0 error.go:109-141: "in case domain addr is used and domain resolves
 * to a different Redis Server", go-redis#790), so the retry dials again.
 *
 * With a `MasterResolver` target the client is a go-redis `NewFailoverClient` (sentinel.go): each
 * dial first asks the resolver for the master (`masterReplicaDialer` → `MasterAddr`), and when the
 * master changes the connection is closed if it goes elsewhere (`onFailover` → `connPool.Filter`,
 * which in v9.16.0 closes idle and in-use connections alike: a command in flight fails and is
 * retried). Commands made while the lookup runs wait for it, as they would wait for the dial.
 */
export class RedisClient {
  private rpc: RpcClient;
  private readonly readTimeoutUs: Micros;
  private readonly maxRetries: number;
  private readonly backoff: readonly [Micros, Micros];
  private readonly rng: RandomStream;
  private readonly resolver: MasterResolver | undefined;
  /** With a resolver: the master the next dial goes to. */
  private master = NO_MASTER;
  /** With a resolver: the connection dialled (or being dialled) to a looked-up master, if it is `rpc`'s. */
  private linked: RpcClient | null = null;
  /** With a resolver: commands waiting for the master lookup. */
  private queued: Array<{ command: RedisCommand | SentinelCommand; onReply: (r: RpcResult<unknown>) => void }> = [];
  private resolving = false;
  private closed = false;

  constructor(
    private readonly ctx: ProcessContext,
    private readonly options: RedisClientOptions = {},
  ) {
    this.readTimeoutUs = options.readTimeoutUs ?? 3 * SECOND;
    this.maxRetries = options.maxRetries ?? 3;
    this.backoff = options.retryBackoffUs ?? [8 * MS, 512 * MS];
    this.rng = ctx.random('redis-client');
    const target = options.target;
    this.resolver = typeof target === 'object' ? target : undefined;
    this.rpc = this.newConnection();
    this.resolver?.onFailover((master) => this.masterSwitched(master));
  }

  /**
   * The process the client's connection goes to: its open connection's peer, or null without one.
   * With a `MasterResolver`, the looked-up master as soon as its dial starts.
   */
  get peer(): string | null {
    if (this.resolver !== undefined) return this.linked === this.rpc ? this.master : null;
    return this.rpc.connected ? this.rpc.peer : null;
  }

  /** Closes the connection; commands in flight fail, and no retry starts afterwards (go-redis Client.Close). */
  close(): void {
    this.closed = true;
    this.rpc.close();
  }

  private newConnection(): RpcClient {
    const target = this.options.target;
    if (typeof target !== 'object') {
      return new RpcClient(this.ctx, {
        target: target ?? 'redis',
        connectTimeoutUs: this.options.dialTimeoutUs ?? 5 * SECOND,
        requestTimeoutUs: this.readTimeoutUs,
        timeouts: this.options.timeouts ?? 'per-call',
      });
    }
    const rpc: RpcClient = new RpcClient(this.ctx, {
      target: () => this.master,
      connectTimeoutUs: this.options.dialTimeoutUs ?? 5 * SECOND,
      requestTimeoutUs: this.readTimeoutUs,
      timeouts: this.options.timeouts ?? 'per-call',
      // The next dial asks the resolver again.
      onDisconnect: () => {
        if (this.linked === rpc) this.linked = null;
      },
    });
    return rpc;
  }

  /** Sends on the connection; with a resolver, a connection not yet dialled waits for a master lookup first. */
  private send<T>(command: RedisCommand | SentinelCommand, onReply: (r: RpcResult<T>) => void): void {
    const resolver = this.resolver;
    if (resolver === undefined) return this.rpc.call<T>(command, onReply);
    const reply = onReply as (r: RpcResult<unknown>) => void;
    if (this.linked === this.rpc) return this.callLinked(this.rpc, command, reply);
    this.queued.push({ command, onReply: reply });
    if (this.resolving) return;
    this.resolving = true;
    resolver.masterAddr((r) => {
      this.resolving = false;
      this.master = r.ok ? r.value : NO_MASTER;
      const rpc = this.rpc;
      this.linked = rpc;
      const queued = this.queued;
      this.queued = [];
      for (const q of queued) this.callLinked(rpc, q.command, q.onReply);
    });
  }

  private callLinked(rpc: RpcClient, command: RedisCommand | SentinelCommand, onReply: (r: RpcResult<unknown>) => void): void {
    rpc.call(command, (r) => {
      // A connection error means the connection is gone (its onDisconnect follows): redial via a lookup.
      if (!r.ok && r.error === 'connection' && this.linked === rpc) this.linked = null;
      onReply(r);
    });
  }

  /** go-redis onFailover: the pool's connections to anything but the new master are closed (sentinel.go, NewFailoverClient). */
  private masterSwitched(master: string): void {
    if (this.linked !== this.rpc || this.master === master) return;
    this.linked = null;
    this.rpc.close();
  }

  /**
   * Sends one command with go-redis's retries, in this client's database (`db`) unless the command
   * names one. With `context.deadline` the command fails with `context deadline exceeded` (a
   * `timeout`) at the deadline, whatever it is waiting for, and no retry starts after it; a request
   * already sent may still be applied by Redis.
   */
  command<T>(command: RedisCommand, cb: (r: RpcResult<T>) => void, context?: CommandContext): void {
    const routed = this.inDatabase(command);
    const deadline = context?.deadline;
    if (deadline === undefined) return this.attempt(routed, cb, 0, undefined);
    const left = deadline - this.ctx.monotonic();
    if (left <= 0) return cb(DEADLINE_EXCEEDED);
    let done = false;
    const timer = this.ctx.setTimer(left, () => {
      if (done) return;
      done = true;
      cb(DEADLINE_EXCEEDED);
    }, 'redis.context-deadline');
    this.attempt<T>(routed, (r) => {
      if (done) return;
      done = true;
      this.ctx.cancelTimer(timer);
      cb(r);
    }, 0, deadline);
  }

  private attempt<T>(command: RedisCommand | SentinelCommand, cb: (r: RpcResult<T>) => void, attempt: number, deadline: Micros | undefined): void {
    this.send<T>(command, (r) => {
      if (r.ok || attempt >= this.maxRetries || (r.error === 'server' && !retriedServerError(r.message))) return cb(r);
      if (this.closed) return cb(r);
      // A bad connection is discarded (pool.Remove); the retry dials a new one.
      if (r.error === 'timeout' || (r.error === 'server' && r.message.startsWith('READONLY '))) {
        if (this.linked === this.rpc) this.linked = null;
        this.rpc.close();
        this.rpc = this.newConnection();
      }
      const [min, max] = this.backoff;
      const delay = this.rng.int(0, Math.min(max, min * 2 ** attempt));
      this.ctx.setTimer(delay, () => {
        // The context's deadline passed during the backoff: its timer has already answered.
        if (deadline !== undefined && this.ctx.monotonic() >= deadline) return;
        this.attempt(command, cb, attempt + 1, deadline);
      }, 'redis.retry');
    });
  }

  /**
   * A command to a Sentinel (go-redis `SentinelClient`, a client of its own with the same retry
   * rules): for a client whose target is a Sentinel.
   */
  sentinel<T>(command: SentinelCommand, cb: (r: RpcResult<T>) => void): void {
    this.attempt(command, cb, 0, undefined);
  }

  /** The command in this client's database, as go-redis's SELECT on every new connection puts it. */
  private inDatabase(command: RedisCommand): RedisCommand {
    const db = this.options.db;
    if (db === undefined || !isKeyed(command) || command.db !== undefined) return command;
    // Object.assign rather than `{ ...command, db }` (the same object, keys in the same order): in
    // Node 20's V8 a spread followed by a key the spread object lacks takes a slow path, about 1-3 µs,
    // and every command of a client with a database (the session cache's) comes through here.
    return Object.assign({}, command, { db });
  }

  ping(cb: (r: RpcResult<unknown>) => void, timeoutUs?: Micros): void {
    if (timeoutUs === undefined) return this.command({ cmd: 'PING' }, cb);
    // The start-up PING runs under a context deadline (§4: 5 s): retries stop when it passes.
    let done = false;
    const timer = this.ctx.setTimer(timeoutUs, () => {
      if (done) return;
      done = true;
      cb({ ok: false, error: 'timeout', message: 'PING deadline exceeded' });
    }, 'redis.ping-deadline');
    this.command({ cmd: 'PING' }, (r) => {
      if (done) return;
      done = true;
      this.ctx.cancelTimer(timer);
      cb(r);
    });
  }

  set(key: string, value: string, exSeconds: number, cb: (r: RpcResult<unknown>) => void): void {
    this.command({ cmd: 'SET', key, value, ex: exSeconds }, cb);
  }

  get(key: string, cb: (r: RpcResult<string | null>) => void): void {
    // GET and EXISTS, the commands of every authenticated request, name the client's database
    // themselves: `inDatabase`'s copy of a command costs more than the rest of the client's work.
    const db = this.options.db;
    this.command(db === undefined ? { cmd: 'GET', key } : { cmd: 'GET', key, db }, cb);
  }

  /** DEL key [key ...], as go-redis `Del(ctx, keys...)`: replies how many keys were removed. */
  del(keys: string | readonly string[], cb: (r: RpcResult<number>) => void, context?: CommandContext): void {
    this.command({ cmd: 'DEL', keys: typeof keys === 'string' ? [keys] : [...keys] }, cb, context);
  }

  /** EXISTS key [key ...], as go-redis `Exists(ctx, keys...)`: how many exist. Touches no key's LRU. */
  exists(keys: readonly string[], cb: (r: RpcResult<number>) => void, context?: CommandContext): void {
    const db = this.options.db;
    this.command(db === undefined ? { cmd: 'EXISTS', keys: [...keys] } : { cmd: 'EXISTS', keys: [...keys], db }, cb, context);
  }

  /**
   * One SCAN round trip, as go-redis `Scan(ctx, cursor, match, count)`: an empty `match` and a
   * `count` of 0 are left out of the command (commands.go), so the server's defaults apply (every
   * key, COUNT 10). Cache.DeletePattern's `Scan(ctx, 0, pattern, 0).Iterator()` is this call from
   * cursor 0 and again with each returned cursor until it is 0, stopping at the first error
   * (ScanIterator.Next), then one `del` of every key found if there are any; the loop is the
   * caller's (the API pod's session store), which also owns the context.
   */
  scan(cursor: number, match: string, count: number, cb: (r: RpcResult<ScanReply>) => void, context?: CommandContext): void {
    const command: RedisCommand = { cmd: 'SCAN', cursor };
    if (match !== '') command.match = match;
    if (count > 0) command.count = count;
    this.command(command, cb, context);
  }

  /** Design fix `conditional-unregister`: delete `key` and `alsoKeys` only if `key` still holds `value`. */
  delIfValue(key: string, value: string, alsoKeys: string[], cb: (r: RpcResult<unknown>) => void): void {
    this.command({ cmd: 'DEL_IF_VALUE', key, value, alsoKeys }, cb);
  }

  expire(key: string, seconds: number, cb: (r: RpcResult<unknown>) => void): void {
    this.command({ cmd: 'EXPIRE', key, seconds }, cb);
  }

  publish(channel: string, message: string, cb: (r: RpcResult<number>) => void): void {
    this.command({ cmd: 'PUBLISH', channel, message }, cb);
  }
}

export interface PubSubOptions {
  /** As `RedisClientOptions.target`; with a `MasterResolver` each (re)dial asks for the master first. Default `redis`. */
  target?: RedisTarget;
  dialTimeoutUs?: Micros;
  /** The channel health check (pubsub.go newChannel): PING after 3 s without any message. */
  healthCheckUs?: Micros;
  /** Sleep between failed receives while reconnecting (pubsub.go initMsgChan: 100 ms). */
  reconnectSleepUs?: Micros;
}

/** The PubSub's statechart (pubsub-machine.ts), compiled once: a machine the stepper cannot run fails here, at load time. */
const PUBSUB = compileMachine(pubSubMachine);

/** The events without data, made once. */
const RECONNECT: PubSubEvent = { type: 'RECONNECT' };
const HEALTH_CHECK: PubSubEvent = { type: 'HEALTH_CHECK' };
const DISCONNECTED: PubSubEvent = { type: 'DISCONNECTED' };
const CLOSE: PubSubEvent = { type: 'CLOSE' };

/**
 * A go-redis v9 PubSub as StreamSpace uses it (spec §2.3, agent_hub.go listenRedisCommands):
 * `Subscribe` (dial, write SUBSCRIBE), one `Receive` for the confirmation, then `Channel()`. One
 * dedicated connection; afterwards a broken connection is replaced and the channel resubscribed by
 * itself, and messages published meanwhile are lost.
 *
 * The health check is go-redis v9.16.0's `channel.initHealthCheck` (pubsub.go:663-689), a goroutine
 * that `Channel()` starts once (newChannel, pubsub.go:646-661) and that lives as long as the PubSub:
 * it is not tied to a connection or to a confirmed subscription. Every message the receive loop
 * reads, whatever its kind (a message, a subscription confirmation, a PONG), resets its 3 s timer
 * ("Any message is as good as a ping", pubsub.go:717-721); when the timer
 * fires it calls `PubSub.Ping` (pubsub.go:348-366), which dials and resubscribes first if there is no
 * connection (`c.conn`), and reconnects if writing the PING fails. It only *writes* the PING: with no
 * read deadline (`Receive` reads with timeout 0), a half-open connection to a dead or partitioned
 * Redis is noticed when a PING reaches a host that answers RST (the Redis process restarted, or the
 * partition that swallowed the RST healed), or when the held PING fails the TCP user timeout.
 *
 * With a `MasterResolver` target (a FailoverClient's PubSub) every dial asks for the master first
 * (the pub/sub pool has the same dialer); a master switch does not close it: v9.16.0's `onFailover`
 * filters the command pool only (sentinel.go NewFailoverClient), so a subscription moves when its
 * connection breaks (the old master's death, Sentinel's CLIENT KILL TYPE pubsub, go-redis#583).
 *
 * Its modes are the statechart of pubsub-machine.ts, run by the kernel's compiled stepper with this
 * object as its context: the class keeps the connection, the timers and the caller's handlers, and
 * answers the work the statechart starts with events.
 */
export class RedisPubSub implements PubSubComponent {
  private readonly mode: Statechart<RedisPubSub, PubSubEvent, TimerHandle>;
  private rpc: RpcClient | null = null;
  private health: TimerHandle | undefined;
  /** Closed: a master lookup that answers afterwards dials nothing. */
  private closed = false;
  /**
   * Dials made for the first confirmation. Client.Subscribe dials and writes SUBSCRIBE but discards
   * the error (redis.go: `_ = pubsub.Subscribe(ctx, channels...)`), having recorded the channel
   * (pubsub.go Subscribe); StreamSpace's first Receive then finds no connection and dials again,
   * resubscribing (pubsub.go conn → newConn, resubscribe). So a failed first dial is retried once
   * at once, and only the Receive's failure reaches the caller (the statechart's `subscribeDialFailed`).
   */
  firstDials = 0;
  /** Timer callbacks, made once: the reconnect sleep ended, the health check fired. */
  private readonly reconnect = (): void => this.mode.send(RECONNECT);
  private readonly healthFired = (): void => {
    this.health = undefined;
    this.mode.send(HEALTH_CHECK);
  };

  constructor(
    readonly ctx: ProcessContext,
    readonly channel: string,
    private readonly handlers: { onConfirm(r: RpcResult<unknown>): void; onMessage(payload: string): void },
    private readonly options: PubSubOptions = {},
  ) {
    this.mode = new Statechart<RedisPubSub, PubSubEvent, TimerHandle>(PUBSUB, this, ctx);
    this.mode.start();
  }

  /** PubSub.Close (the statechart's `closed`). Only the first call does anything. */
  close(): void {
    this.mode.send(CLOSE);
  }

  closeConnection(): void {
    this.closed = true;
    this.ctx.cancelTimer(this.health);
    // Let go first: the SUBSCRIBE that closing fails is not the current connection's any more.
    const rpc = this.rpc;
    this.rpc = null;
    rpc?.close();
  }

  connect(): void {
    const target = this.options.target;
    if (typeof target !== 'object') return this.dial(target ?? 'redis');
    target.masterAddr((r) => {
      if (!this.closed) this.dial(r.ok ? r.value : NO_MASTER);
    });
  }

  private dial(target: DialTarget): void {
    let opened = false;
    const rpc = new RpcClient(this.ctx, {
      target,
      connectTimeoutUs: this.options.dialTimeoutUs ?? 5 * SECOND,
      // Receive has no read timeout: the subscription request waits as long as the connection lives.
      requestTimeoutUs: FOREVER_US,
      onConnect: () => {
        opened = true;
      },
      onPush: (body) => this.mode.send({ type: 'MESSAGE', payload: (body as RedisPush).message }),
      onDisconnect: () => {
        if (this.rpc === rpc) this.mode.send(DISCONNECTED);
      },
    });
    this.rpc = rpc;
    rpc.call({ cmd: 'SUBSCRIBE', channel: this.channel } satisfies RedisCommand, (r) => {
      if (this.rpc !== rpc) return;
      this.mode.send(r.ok ? { type: 'SUBSCRIBED', result: r } : { type: 'SUBSCRIBE_FAILED', result: r, opened });
    });
  }

  forgetConnection(): void {
    this.rpc = null;
  }

  sleep(): void {
    this.ctx.setTimer(this.options.reconnectSleepUs ?? 100 * MS, this.reconnect, 'pubsub.reconnect');
  }

  confirm(result: RpcResult<unknown>): void {
    this.handlers.onConfirm(result);
  }

  deliver(payload: string): void {
    this.handlers.onMessage(payload);
  }

  restartHealthCheck(): void {
    this.ctx.cancelTimer(this.health);
    this.armHealthCheck();
  }

  healthCheck(): void {
    // PubSub.Ping writes on the current connection. Without one, the receive loop's reconnect is
    // already due (within reconnectSleepUs), which is where go-redis's Ping would dial too.
    const rpc = this.rpc;
    if (rpc !== null) {
      // A failed write ends the connection, and onDisconnect reconnects. The PONG, read by the
      // receive loop, also resets go-redis's timer (3 s after it rather than after the PING);
      // the model re-arms from the PING: one round trip per period, which decides nothing.
      rpc.call({ cmd: 'PING' } satisfies RedisCommand, () => {}, FOREVER_US);
    }
    this.armHealthCheck();
  }

  private armHealthCheck(): void {
    this.health = this.ctx.setTimer(this.options.healthCheckUs ?? 3 * SECOND, this.healthFired, 'pubsub.health');
  }
}
