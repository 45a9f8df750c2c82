import type { ProcessContext, RandomStream, TimerHandle } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart } from '../../../sim-cluster/statechart/index.ts';
import type { FixesConfig, HubConfig } from '../config.ts';
import type { AgentMessage } from '../wire.ts';
import type { HubDbPort, HubRedisPort } from './ports.ts';
import { RwLock } from './rw-lock.ts';
import { events } from '../events.ts';
import { hubLoopMachine, type HubComponent, type HubEvent } from './hub-loop-machine.ts';

/**
 * The hub's view of one agent WebSocket (AgentConnection, spec §2.1). Implemented by
 * `AgentSocket` in agent-socket.ts.
 */
export interface HubConnection {
  /** Connection id, for the trace. */
  readonly id: string;
  readonly agentId: string;
  /** Local monotonic time of the last heartbeat (LastPing, §2.1). */
  lastPingUs: number;
  /** Non-blocking put on Send (cap 256): false when full. */
  offer(message: AgentMessage): boolean;
  /** close(Send) and Conn.Close() (agent_hub.go:250-256, 309-315): queued messages are lost. */
  closeByHub(): void;
}

export const podKey = (agentId: string): string => `agent:${agentId}:pod`;
export const connectedKey = (agentId: string): string => `agent:${agentId}:connected`;
export const podChannel = (podName: string): string => `pod:${podName}:commands`;

interface Unregister {
  agentId: string;
  /** The connection to remove (design fix `conditional-unregister`); null: whatever entry the id has. */
  connection: string | null;
}

/** The Run loop's statechart (hub-loop-machine.ts), compiled once: a machine the stepper cannot run fails here, at load time. */
const HUB = compileMachine(hubLoopMachine);

/** The events the hub sends its Run loop, made once. */
const READY: HubEvent = { type: 'READY' };
const DONE: HubEvent = { type: 'DONE' };

/**
 * AgentHub of one API pod (spec §2): the per-pod connection map, the register/unregister channels
 * with their buffers and blocking senders, the Run loop that picks pseudo-randomly among ready
 * cases like Go's select, the 10 s stale sweep, and the calls other goroutines make.
 * `redis` is null in single-pod mode.
 */
export class AgentHub implements HubComponent {
  private readonly connections = new Map<string, HubConnection>();
  private readonly lock = new RwLock();
  readonly registerQueue: HubConnection[] = [];
  /** As built the channel carries only the agent id; `connection` is set with `conditional-unregister`. */
  readonly unregisterQueue: Unregister[] = [];
  /** Goroutines blocked on a full channel, in arrival order (Go wakes blocked senders FIFO). */
  private readonly blockedRegisters: HubConnection[] = [];
  private readonly blockedUnregisters: Unregister[] = [];
  tickPending = false;
  /** The Run goroutine: the statechart of hub-loop-machine.ts, with this hub as its context. */
  private readonly loop: Statechart<AgentHub, HubEvent, TimerHandle>;
  readonly selectRng: RandomStream;
  /** A handler returned: Run goes back to its select. */
  private readonly done = (): void => this.loop.send(DONE);

  constructor(
    readonly ctx: ProcessContext,
    readonly podName: string,
    private readonly config: HubConfig,
    private readonly db: HubDbPort,
    private readonly redis: HubRedisPort | null,
    private readonly fixes: Pick<FixesConfig, 'conditionalUnregister' | 'heartbeatRewritesMapping' | 'nonblockingStaleSweep'>,
  ) {
    this.selectRng = ctx.random('hub.select');
    this.loop = new Statechart<AgentHub, HubEvent, TimerHandle>(HUB, this, ctx);
    this.loop.start();
    const tick = (): void => {
      // A Go ticker channel holds one tick; ticks that find it full are dropped.
      this.tickPending = true;
      this.wake();
      ctx.setTimer(config.staleSweepUs, tick, 'hub.ticker');
    };
    ctx.setTimer(config.staleSweepUs, tick, 'hub.ticker');
  }

  get redisMode(): boolean {
    return this.redis !== null;
  }

  /** The local entry for an agent (GetConnection), read without waiting for the lock: for checks only. */
  peekLocal(agentId: string): HubConnection | undefined {
    return this.connections.get(agentId);
  }

  // ---- calls from other goroutines (§2.3) ----------------------------------------------------

  /** RegisterAgent: blocking send on `register` (agent_hub.go:423-432). */
  registerAgent(conn: HubConnection): void {
    if (this.registerQueue.length < this.config.registerBuffer) this.registerQueue.push(conn);
    else this.blockedRegisters.push(conn);
    this.wake();
  }

  /**
   * UnregisterAgent: blocking send on `unregister` (agent_hub.go:442-444). As built only the agent
   * id travels; with `conditional-unregister` the caller's connection id goes along.
   */
  unregisterAgent(agentId: string, connection: string): void {
    this.sendUnregister(agentId, connection);
    this.wake();
  }

  /** A send on `unregister` from a goroutine of its own: into the buffer, or blocked until Run drains it. */
  private sendUnregister(agentId: string, connection: string): void {
    const item: Unregister = { agentId, connection: this.fixes.conditionalUnregister ? connection : null };
    if (this.unregisterQueue.length < this.config.unregisterBuffer) this.unregisterQueue.push(item);
    else this.blockedUnregisters.push(item);
  }

  /**
   * SendCommandToAgent (agent_hub.go:461-541): read the map under the read lock, then either a
   * non-blocking put on the local Send, or GET `agent:<id>:pod` and PUBLISH to that pod's channel.
   * The PUBLISH receiver count is ignored: nil error means "sent". `cb(null)` is success.
   * In Go the map read and the Send put are separated by RUnlock; an entry closed in that gap would
   * make the put panic. The gap is a few instructions, so the model does the two in one step.
   */
  sendCommandToAgent(agentId: string, message: AgentMessage & { type: 'command' }, cb: (error: string | null, ambiguous?: boolean) => void): void {
    this.lock.read(() => {
      const conn = this.connections.get(agentId);
      if (conn !== undefined) {
        const ok = conn.offer(message);
        this.ctx.record('hub.send', { command: message.commandId, agent: agentId, path: 'local', conn: conn.id, ok });
        cb(ok ? null : `agent ${agentId} send buffer is full`);
        return;
      }
      const redis = this.redis;
      if (redis === null) {
        this.ctx.record('hub.send', { command: message.commandId, agent: agentId, path: 'none', ok: false });
        cb(`agent ${agentId} is not connected`);
        return;
      }
      redis.get(podKey(agentId), (r) => {
        if (!r.ok || r.value === null) {
          this.ctx.record('hub.send', { command: message.commandId, agent: agentId, path: 'redis-lookup', ok: false });
          // A Redis error is not a missing key: the agent may well be connected elsewhere.
          cb(`agent ${agentId} is not connected (not found in Redis)`, !r.ok);
          return;
        }
        const pod = r.value;
        const payload = JSON.stringify({ agentId, message });
        redis.publish(podChannel(pod), payload, (p) => {
          this.ctx.record('hub.send', {
            command: message.commandId, agent: agentId, path: 'publish', pod, ok: p.ok, receivers: p.ok ? p.value : -1,
          });
          // A timeout or a lost connection may come after Redis delivered the message.
          cb(p.ok ? null : `failed to publish command to pod ${pod}: ${p.message}`, !p.ok && p.error !== 'server');
        });
      });
    });
  }

  /**
   * IsAgentConnected (agent_hub.go:586-606): local map, else `GET agent:<id>:connected` == "true".
   * As built a Redis error also reads as false; `unknown` tells the caller it was an error.
   */
  isAgentConnected(agentId: string, cb: (connected: boolean, unknown?: boolean) => void): void {
    this.lock.read(() => {
      if (this.connections.has(agentId)) return cb(true);
      if (this.redis === null) return cb(false);
      this.redis.get(connectedKey(agentId), (r) => cb(r.ok && r.value === 'true', !r.ok));
    });
  }

  /**
   * UpdateAgentHeartbeat (agent_hub.go:615-660): LastPing = now; DB update; **if the DB write
   * fails, return before refreshing Redis**; then EXPIRE both keys (never re-creating them).
   */
  updateAgentHeartbeat(agentId: string, cb: (error: string | null) => void): void {
    this.lock.read(() => {
      const conn = this.connections.get(agentId);
      if (conn === undefined) return cb(`agent ${agentId} is not connected`);
      conn.lastPingUs = this.ctx.monotonic();
      this.db.updateAgentHeartbeat(agentId, (d) => {
        if (!d.ok) {
          this.ctx.record('hub.heartbeat', { agent: agentId, conn: conn.id, db: false });
          return cb(d.message);
        }
        const redis = this.redis;
        if (redis === null) {
          this.ctx.record('hub.heartbeat', { agent: agentId, conn: conn.id, db: true });
          return cb(null);
        }
        const ttl = this.config.redisKeyTtlSeconds;
        const done = (): void => {
          this.ctx.record('hub.heartbeat', { agent: agentId, conn: conn.id, db: true });
          cb(null);
        };
        if (this.fixes.heartbeatRewritesMapping) {
          // Design fix: re-create the mapping on every heartbeat, so a lost key comes back.
          redis.set(podKey(agentId), this.podName, ttl, () => redis.set(connectedKey(agentId), 'true', ttl, done));
          return;
        }
        redis.expire(podKey(agentId), ttl, () => redis.expire(connectedKey(agentId), ttl, done));
      });
    });
  }

  /** The listener's lookup of a local connection under the read lock (agent_hub.go:744-748). */
  withLocalConnection(agentId: string, use: (conn: HubConnection | undefined) => void): void {
    this.lock.read(() => use(this.connections.get(agentId)));
  }

  // ---- the Run loop (§2.2) -------------------------------------------------------------------

  /** A case may have become ready: Run selects if it waits in its select. */
  private wake(): void {
    this.loop.send(READY);
  }

  send(event: HubEvent): void {
    this.loop.send(event);
  }

  /** Run receives on `register`; the first blocked sender's value moves into the buffer. */
  receiveRegister(): void {
    const conn = this.registerQueue.shift()!;
    if (this.blockedRegisters.length > 0) this.registerQueue.push(this.blockedRegisters.shift()!);
    this.handleRegister(conn, this.done);
  }

  /** Run receives on `unregister`; the first blocked sender's value moves into the buffer. */
  receiveUnregister(): void {
    const item = this.unregisterQueue.shift()!;
    if (this.blockedUnregisters.length > 0) this.unregisterQueue.push(this.blockedUnregisters.shift()!);
    this.handleUnregister(item, this.done);
  }

  /** Run receives the tick and sweeps inline. */
  sweep(): void {
    this.tickPending = false;
    this.checkStaleConnections();
  }

  /** Whether `checkStaleConnections` will find `unregister` full before it has sent every stale id. */
  sweepBlocks(): boolean {
    if (this.fixes.nonblockingStaleSweep) return false;
    const now = this.ctx.monotonic();
    let stale = 0;
    for (const conn of this.connections.values()) if (now - conn.lastPingUs > this.config.staleThresholdUs) stale++;
    return this.unregisterQueue.length + stale > this.config.unregisterBuffer;
  }

  /** handleRegister (agent_hub.go:245-292): write lock held across the DB and both Redis SETs. */
  private handleRegister(conn: HubConnection, done: () => void): void {
    this.lock.lock();
    const previous = this.connections.get(conn.agentId);
    if (previous !== undefined) {
      this.ctx.record('hub.replace', { agent: conn.agentId, old: previous.id, conn: conn.id });
      previous.closeByHub();
    }
    this.connections.set(conn.agentId, conn);
    events.record(this.ctx, 'hub.register', { agent: conn.agentId, conn: conn.id });
    this.db.setAgentOnline(conn.agentId, () => {
      const redis = this.redis;
      if (redis === null) return this.unlock(done);
      const ttl = this.config.redisKeyTtlSeconds;
      redis.set(podKey(conn.agentId), this.podName, ttl, (a) => {
        if (!a.ok) this.ctx.record('hub.redis-error', { op: 'set', key: podKey(conn.agentId), error: a.error });
        redis.set(connectedKey(conn.agentId), 'true', ttl, (b) => {
          if (!b.ok) this.ctx.record('hub.redis-error', { op: 'set', key: connectedKey(conn.agentId), error: b.error });
          this.unlock(done);
        });
      });
    });
  }

  /**
   * handleUnregister (agent_hub.go:298-348): resolves **by agent id only**, closes whatever entry
   * is there, and DELs both keys **unconditionally**, whichever pod they name.
   */
  private handleUnregister({ agentId, connection }: Unregister, done: () => void): void {
    this.lock.lock();
    const conn = this.connections.get(agentId);
    if (conn === undefined) {
      this.ctx.record('hub.unregister-missing', { agent: agentId });
      return this.unlock(done);
    }
    if (connection !== null && conn.id !== connection) {
      // Design fix: the request was for an older connection; the current one stays.
      this.ctx.record('hub.unregister-stale', { agent: agentId, conn: connection, current: conn.id });
      return this.unlock(done);
    }
    conn.closeByHub();
    this.connections.delete(agentId);
    events.record(this.ctx, 'hub.unregister', { agent: agentId, conn: conn.id });
    this.db.setAgentOffline(agentId, () => {
      const redis = this.redis;
      if (redis === null) return this.unlock(done);
      if (connection !== null) {
        // Design fix: delete the keys only if they still name this pod (compare-and-delete).
        redis.delIfValue(podKey(agentId), this.podName, [connectedKey(agentId)], (r) => {
          if (!r.ok) this.ctx.record('hub.redis-error', { op: 'del-if-value', key: podKey(agentId), error: r.error });
          this.unlock(done);
        });
        return;
      }
      redis.del(podKey(agentId), (a) => {
        if (!a.ok) this.ctx.record('hub.redis-error', { op: 'del', key: podKey(agentId), error: a.error });
        redis.del(connectedKey(agentId), (b) => {
          if (!b.ok) this.ctx.record('hub.redis-error', { op: 'del', key: connectedKey(agentId), error: b.error });
          this.unlock(done);
        });
      });
    });
  }

  private unlock(done: () => void): void {
    this.lock.unlock();
    done();
  }

  /**
   * checkStaleConnections (agent_hub.go:384-405): collect ids with LastPing older than the
   * threshold under the read lock, then a **blocking** send of each on `unregister` from inside the
   * Run goroutine itself; if the channel is full, nothing can ever drain it. With the design fix
   * `nonblocking-stale-sweep` each send runs in a goroutine of its own: a send that finds the
   * channel full waits as a blocked sender, like any UnregisterAgent caller, and Run drains it.
   */
  private checkStaleConnections(): void {
    const now = this.ctx.monotonic();
    const stale: HubConnection[] = [];
    for (const conn of this.connections.values()) if (now - conn.lastPingUs > this.config.staleThresholdUs) stale.push(conn);
    for (const conn of stale) {
      this.ctx.record('hub.stale', { agent: conn.agentId, conn: conn.id, ageUs: now - conn.lastPingUs });
      if (this.fixes.nonblockingStaleSweep) {
        // The goroutine starts now; Run selects its send once the sweep returns (the `sweep` case wakes the loop again).
        this.sendUnregister(conn.agentId, conn.id);
        continue;
      }
      if (this.unregisterQueue.length >= this.config.unregisterBuffer) {
        // Run blocks here for good: the statechart's `deadlocked` (`sweepBlocks` saw it coming).
        this.ctx.record('hub.deadlock', { agent: conn.agentId });
        return;
      }
      this.unregisterQueue.push({ agentId: conn.agentId, connection: this.fixes.conditionalUnregister ? conn.id : null });
    }
  }
}
