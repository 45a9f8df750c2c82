import type { BootFn, ConnectionEnd, ProcessContext, RandomStream, TimerHandle } from '../../../sim-cluster/index.ts';
import { MS, SECOND, type Micros } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart } from '../../../sim-cluster/statechart/index.ts';
import { ok, pushRpc, RpcClient, serveRpc, serverError, type RpcResult } from '../net/rpc.ts';
import type { RedisCommand, RedisPush, ReplicationInfo } from './server.ts';
import { createInstance, NEVER, type Instance } from './sentinel-instance.ts';
import { INFO_PERIOD_US, PING_PERIOD_US, selectReplica } from './sentinel-select.ts';
import {
  FAILOVER_NONE,
  FAILOVER_RECONF_SLAVES,
  sentinelFailoverMachine,
  type AbortReason,
  type FailoverState,
  type SentinelFailoverComponent,
  type SentinelFailoverEvent,
} from './sentinel-failover-machine.ts';

/**
 * Redis 7 Sentinel (redis/redis src/sentinel.c, at 4f8cdc2; "sentinel.c:N" cites its lines), one
 * process per Sentinel monitoring one master. Spec: seeds-001-004 §2 "Redis Sentinel",
 * real-world-semantics §3.3.
 *
 * What is modelled as sentinel.c does it: the timer (`sentinelTimer`, 10-19 times a second,
 * server.hz randomised each run, :5449-5463); PING every second to the master, its replicas and
 * the other Sentinels, INFO every 10 s (every second to the replicas of a master in ODOWN or in
 * failover, or whose master link is down, :3113-3126); SDOWN after down-after-milliseconds without
 * a valid PING reply (:4516-4582); ODOWN when `quorum` Sentinels, this one included, said so in
 * their last `is-master-down-by-addr` reply (:4590-4623), asked every second while SDOWN
 * (:4670-4712); the epoch vote (:4728-4753) and the leader count (:4784-4847); the failover state
 * machine (:5087-5332) with its start jitter, election timeout and the 2 × failover-timeout wait
 * before another attempt (:4927-4979), a statechart (sentinel-failover-machine.ts) run by the
 * kernel's compiled stepper; replica selection (sentinel-select.ts); the reconfiguration
 * of each instance with REPLICAOF then CLIENT KILL TYPE normal and pubsub (sentinelSendSlaveOf,
 * :4859-4924); `+switch-master` and the new master's replica list with the old master in it
 * (:1574-1629, :5299-5308); the INFO-driven acting half (:2490-2745): promotion detection, the
 * old master converted to a replica once it is back and has reported `role:master` for 8 s, the
 * fix of replicas following the wrong master; hello messages to the other Sentinels every 2 s that
 * carry the master configuration and epoch (:2838-2950, :2996-3036); TILT mode (:5437-5447); the
 * persisted configuration (`SentinelStorage`).
 *
 * Simplifications, none of which decides anything the failover timings, votes or promotions
 * depend on:
 * - **Static discovery.** Sentinels know each other from `peers` instead of the
 *   `__sentinel__:hello` channel of the monitored instances. Hellos go straight to the other
 *   Sentinels, as sentinel.c also sends them (PUBLISH to a Sentinel is its hello handler,
 *   :4504-4511); what is lost is the relay through a Redis instance both can reach when the two
 *   Sentinels cannot reach each other, and a Sentinel learning of one not in its list (ignored).
 * - **No pub/sub link** to the Redis instances (sentinel.c keeps one per instance, only for hello),
 *   so `disconnected` follows the command link alone and the pub/sub link's own inactivity check
 *   (:4547-4553) is absent.
 * - **Ids and addresses are process names.** A Sentinel's run id is its process name (sentinel.c
 *   draws 40 random hex characters once and keeps them in its config file; ids are only compared
 *   for equality); a Redis instance's address is its process name, and `+switch-master` carries
 *   port 6379.
 * - **No MULTI/EXEC** around REPLICAOF and the two CLIENT KILLs: they go in order on one
 *   connection, so only another client's command arriving between them differs, and it would have
 *   run just before the kill either way.
 * - Sentinel replies at once (no service time); no scripts, no SENTINEL FAILOVER/RESET/SET, no
 *   master-reboot-down-after-period (default 0: off), no replica-announced.
 */

/** Commands a Sentinel serves, as wire requests. */
export type SentinelCommand =
  | { cmd: 'PING' }
  /** SENTINEL GET-MASTER-ADDR-BY-NAME: the current master's process name, or null for an unknown name. */
  | { cmd: 'SENTINEL_GET_MASTER_ADDR'; name: string }
  /**
   * SENTINEL IS-MASTER-DOWN-BY-ADDR <addr> <current-epoch> <runid>: the master is named by its
   * address, as the asking Sentinel knows it (sentinel.c:3929-3982), not by name, so a Sentinel
   * that already switched to another master answers "not down" and does not vote. `runId` `*`
   * asks for the state only; otherwise it asks for a vote.
   */
  | { cmd: 'SENTINEL_IS_MASTER_DOWN'; addr: string; currentEpoch: number; runId: string }
  /** A hello message (sentinel.c sentinelSendHello's payload, minus the sender's address). */
  | { cmd: 'SENTINEL_HELLO'; runId: string; currentEpoch: number; masterName: string; masterAddr: string; masterConfigEpoch: number }
  /** SUBSCRIBE to a Sentinel event channel (`+switch-master`, `+sdown`, ...); messages come as `RedisPush`. */
  | { cmd: 'SUBSCRIBE'; channel: string };

/** The three-element reply of is-master-down-by-addr: `leader` is `*` when this Sentinel has no vote to report. */
export interface IsMasterDownReply {
  down: boolean;
  leader: string;
  leaderEpoch: number;
}

export interface SentinelOptions {
  /** `sentinel monitor <name> ...`. Default `mymaster`. */
  masterName?: string;
  /** The master's process name at first start (`sentinel monitor <name> <ip> <port> <quorum>`). */
  initialMaster: string;
  /** The other Sentinels' process names (static discovery, see above). Default none. */
  peers?: readonly string[];
  /** Sentinels that must agree the master is down for ODOWN. Default 2. */
  quorum?: number;
  /** `down-after-milliseconds`. Default 30 s (sentinel.c:68); seed 004: 5 s. */
  downAfterUs?: Micros;
  /** `failover-timeout`. Default 180 s (sentinel.c:76); seed 004: 30 s. */
  failoverTimeoutUs?: Micros;
  /** `parallel-syncs`: replicas reconfigured at a time. Default 1 (sentinel.c:80). */
  parallelSyncs?: number;
}

/** What a Sentinel writes to its config file (sentinel.c sentinelFlushConfig/rewriteConfigSentinelOption). */
export interface SentinelConfig {
  currentEpoch: number;
  /** The master's address (the promoted replica's once a failover reached RECONF_SLAVES). */
  master: string;
  configEpoch: number;
  /** The epoch of this Sentinel's last vote: it never votes twice in an epoch, across restarts too. */
  leaderEpoch: number;
  /** `known-replica` lines. */
  knownReplicas: string[];
}

/**
 * What outlives a Sentinel process: its config file, which Sentinel rewrites on every change of
 * epoch, vote, master or replica list, and reads at start (Sentinel refuses to start without a
 * writable one). By default each `redisSentinel` boot function keeps its own, so a restarted
 * Sentinel comes back with its epochs and votes, as with the file on a volume; pass a fresh
 * storage per incarnation to model a file lost with the container.
 */
export class SentinelStorage {
  config: SentinelConfig | null = null;
}

/** sentinel.c top constants (ms there, µs here). */
const ASK_PERIOD_US = 1 * SECOND;
const PUBLISH_PERIOD_US = 2 * SECOND;
const TILT_TRIGGER_US = 2 * SECOND;
const TILT_PERIOD_US = 30 * SECOND;
const SLAVE_RECONF_TIMEOUT_US = 10 * SECOND;
const MIN_LINK_RECONNECT_PERIOD_US = 15 * SECOND;
const MAX_DESYNC_MS = 1000;
const MAX_PENDING_COMMANDS = 100;
/** server.h CONFIG_DEFAULT_HZ: sentinelTimer sets hz to 10 + rand() % 10 after every run (:5462). */
const DEFAULT_HZ = 10;
/** hiredis' asynchronous connect has no timeout of its own: the kernel gives up after tcp_syn_retries=6 (127 s). */
const CONNECT_TIMEOUT_US = 127 * SECOND;
/** hiredis has no reply timeout: Sentinel judges links by its own PING bookkeeping. */
const NO_REPLY_TIMEOUT_US = 1e15;
/** The port in `+switch-master` messages (addresses are process names). */
const PORT = 6379;

/** The failover statechart (sentinel-failover-machine.ts), compiled once: a machine the stepper cannot run fails here, at load time. */
const FAILOVER = compileMachine(sentinelFailoverMachine);
const START_CHECK: SentinelFailoverEvent = { type: 'START_CHECK' };
const STEP: SentinelFailoverEvent = { type: 'STEP' };
const INSTANCES_HANDLED: SentinelFailoverEvent = { type: 'INSTANCES_HANDLED' };

/**
 * The master's entry: an instance plus the failover and configuration state sentinel.c keeps on it.
 * `failoverState` is written by the failover statechart; a failover is in progress
 * (SRI_FAILOVER_IN_PROGRESS) exactly while it is not FAILOVER_NONE.
 */
interface Master extends Instance {
  odown: boolean;
  oDownSinceTime: Micros;
  failoverState: FailoverState;
  failoverStateChangeTime: Micros;
  failoverStartTime: Micros;
  failoverEpoch: number;
  configEpoch: number;
  promotedSlave: Instance | null;
  replicas: Map<string, Instance>;
  sentinels: Map<string, Instance>;
}

/** A Sentinel process (one per Sentinel pod). */
export function redisSentinel(options: SentinelOptions, storage: SentinelStorage = new SentinelStorage()): BootFn {
  const masterName = options.masterName ?? 'mymaster';
  const quorum = options.quorum ?? 2;
  const downAfterUs = options.downAfterUs ?? 30 * SECOND;
  const failoverTimeoutUs = options.failoverTimeoutUs ?? 180 * SECOND;
  const parallelSyncs = options.parallelSyncs ?? 1;
  const peers = options.peers ?? [];
  if (!Number.isInteger(quorum) || quorum < 1) throw new RangeError(`sentinel quorum must be a positive integer, got ${quorum}`);
  if (!Number.isInteger(parallelSyncs) || parallelSyncs < 1) throw new RangeError(`sentinel parallel-syncs must be a positive integer, got ${parallelSyncs}`);
  if (!(downAfterUs > 0)) throw new RangeError(`sentinel down-after must be positive, got ${downAfterUs} µs`);
  if (!(failoverTimeoutUs > 0)) throw new RangeError(`sentinel failover-timeout must be positive, got ${failoverTimeoutUs} µs`);
  return (ctx) => new SentinelProcess(ctx, storage, { masterName, quorum, downAfterUs, failoverTimeoutUs, parallelSyncs, peers, initialMaster: options.initialMaster }).behaviour();
}

interface Settings {
  masterName: string;
  quorum: number;
  downAfterUs: Micros;
  failoverTimeoutUs: Micros;
  parallelSyncs: number;
  peers: readonly string[];
  initialMaster: string;
}

type ReconfReason = 'promote' | 'reconf' | 'reconf-best-effort' | 'convert-to-replica' | 'fix-config';

/**
 * One Sentinel: its instance records and links, with the failover statechart
 * (sentinel-failover-machine.ts) deciding the failover; the public methods are the ones its
 * actions call.
 */
class SentinelProcess implements SentinelFailoverComponent {
  private readonly rng: RandomStream;
  private readonly myid: string;
  private currentEpoch: number;
  readonly master: Master;
  private readonly failover: Statechart<SentinelProcess, SentinelFailoverEvent, TimerHandle>;
  private tilt = false;
  private tiltStartTime: Micros = NEVER;
  private previousTime: Micros;
  private readonly subscribers = new Map<string, Set<ConnectionEnd>>();

  constructor(
    private readonly ctx: ProcessContext,
    private readonly storage: SentinelStorage,
    private readonly s: Settings,
  ) {
    this.rng = ctx.random('sentinel');
    this.myid = ctx.name;
    const now = ctx.now();
    const config = storage.config ?? { currentEpoch: 0, master: s.initialMaster, configEpoch: 0, leaderEpoch: 0, knownReplicas: [] };
    this.currentEpoch = config.currentEpoch;
    this.master = {
      ...createInstance('master', config.master, now),
      odown: false,
      oDownSinceTime: NEVER,
      failoverState: FAILOVER_NONE,
      failoverStateChangeTime: NEVER,
      failoverStartTime: NEVER,
      failoverEpoch: 0,
      configEpoch: config.configEpoch,
      promotedSlave: null,
      replicas: new Map(),
      sentinels: new Map(),
    };
    this.master.leaderEpoch = config.leaderEpoch;
    for (const addr of config.knownReplicas) this.master.replicas.set(addr, createInstance('replica', addr, now));
    for (const peer of s.peers) if (peer !== this.myid) this.master.sentinels.set(peer, createInstance('sentinel', peer, now));
    this.previousTime = now;
    this.failover = new Statechart<SentinelProcess, SentinelFailoverEvent, TimerHandle>(FAILOVER, this, ctx);
    this.failover.start();
    this.flushConfig();
    ctx.record('sentinel.start', { master: this.master.addr, epoch: this.currentEpoch });
    this.scheduleTimer();
  }

  get failoverTimeoutUs(): Micros {
    return this.s.failoverTimeoutUs;
  }

  now(): Micros {
    return this.ctx.now();
  }

  /** SRI_FAILOVER_IN_PROGRESS. */
  private get failoverInProgress(): boolean {
    return this.master.failoverState !== FAILOVER_NONE;
  }

  behaviour() {
    return {
      onAccept: (conn: ConnectionEnd) => {
        serveRpc(conn, (body, reply) => reply(this.serve(body as SentinelCommand, conn)), {
          onClose: () => {
            for (const set of this.subscribers.values()) set.delete(conn);
          },
        });
      },
      onSignal: (signal: string) => {
        if (signal === 'SIGTERM') this.ctx.exit();
      },
    };
  }

  // ------------------------------------------------------------------ served commands

  private serve(command: SentinelCommand, conn: ConnectionEnd): RpcResult<unknown> {
    switch (command.cmd) {
      case 'PING':
        return ok('PONG');
      case 'SENTINEL_GET_MASTER_ADDR':
        // sentinel.c:3987-4001: the promoted replica's address once the failover reached RECONF_SLAVES.
        return ok(command.name === this.s.masterName ? this.currentMasterAddress() : null);
      case 'SENTINEL_IS_MASTER_DOWN': {
        // sentinel.c:3929-3982: down only if known as master, SDOWN here, and not in TILT; a vote
        // (or the vote already given in that epoch) when a run id is sent.
        const known = command.addr === this.master.addr;
        const down = !this.tilt && known && this.master.sdown;
        let vote: { leader: string | null; leaderEpoch: number } = { leader: null, leaderEpoch: 0 };
        if (known && command.runId !== '*') vote = this.voteLeader(command.currentEpoch, command.runId);
        return ok({ down, leader: vote.leader ?? '*', leaderEpoch: vote.leaderEpoch } satisfies IsMasterDownReply);
      }
      case 'SENTINEL_HELLO':
        this.processHello(command);
        return ok(1);
      case 'SUBSCRIBE': {
        let set = this.subscribers.get(command.channel);
        if (set === undefined) this.subscribers.set(command.channel, (set = new Set()));
        set.add(conn);
        return ok(1);
      }
      default:
        return serverError(`ERR unknown command '${(command as { cmd: string }).cmd}'`);
    }
  }

  /** sentinelEvent's Pub/Sub half: every event goes out on the channel named after its type (sentinel.c:684-690). */
  private publish(channel: string, message: string): void {
    const set = this.subscribers.get(channel);
    if (set === undefined) return;
    for (const conn of set) pushRpc(conn, { channel, message } satisfies RedisPush);
  }

  /** sentinelEvent's `%@` rendering of an instance. */
  private event(type: string, ri: Instance, extra = ''): void {
    const m = this.master;
    const self = ri.kind === 'master' ? `master ${this.s.masterName} ${ri.addr} ${PORT}` : `${ri.kind === 'replica' ? 'slave' : 'sentinel'} ${ri.addr}:${PORT} ${ri.addr} ${PORT}`;
    const at = ri.kind === 'master' ? '' : ` @ ${this.s.masterName} ${m.addr} ${PORT}`;
    this.publish(type, `${self}${at}${extra}`);
  }

  // ------------------------------------------------------------------ timer

  private scheduleTimer(): void {
    const hz = DEFAULT_HZ + this.rng.int(0, DEFAULT_HZ - 1);
    this.ctx.setTimer(Math.floor(1000 / hz) * MS, () => this.timer(), 'sentinel.timer');
  }

  /** sentinelTimer + sentinelHandleDictOfRedisInstances (:5449-5463, :5394-5416). */
  private timer(): void {
    this.checkTiltCondition();
    const m = this.master;
    this.handleInstance(m);
    for (const replica of [...m.replicas.values()]) this.handleInstance(replica);
    for (const sentinel of m.sentinels.values()) this.handleInstance(sentinel);
    this.failover.send(INSTANCES_HANDLED);
    this.scheduleTimer();
  }

  /** sentinel.c:5437-5447 (exit :5366-5372): a timer run more than 2 s after the last one (a pause, a clock jump) stops all acting for 30 s. */
  private checkTiltCondition(): void {
    const now = this.ctx.now();
    const delta = now - this.previousTime;
    if (delta < 0 || delta > TILT_TRIGGER_US) {
      this.tilt = true;
      this.tiltStartTime = now;
      this.ctx.record('sentinel.tilt', { on: true });
    }
    this.previousTime = now;
  }

  /** sentinelHandleRedisInstance (:5358-5390). */
  private handleInstance(ri: Instance): void {
    this.reconnectInstance(ri);
    this.sendPeriodicCommands(ri);
    if (this.tilt) {
      if (this.ctx.now() - this.tiltStartTime < TILT_PERIOD_US) return;
      this.tilt = false;
      this.ctx.record('sentinel.tilt', { on: false });
    }
    this.checkSubjectivelyDown(ri);
    if (ri === this.master) {
      this.checkObjectivelyDown();
      this.failover.send(START_CHECK);
      this.failover.send(STEP);
      this.askMasterStateToOtherSentinels(false);
    }
  }

  // ------------------------------------------------------------------ links

  /** sentinelReconnectInstance (:2377-2472): at most one connect a second; a PING goes out at once. */
  private reconnectInstance(ri: Instance): void {
    const link = ri.link;
    if (!link.disconnected) return;
    const now = this.ctx.now();
    if (now - link.lastReconnTime < PING_PERIOD_US) return;
    link.lastReconnTime = now;
    const rpc = new RpcClient(this.ctx, {
      target: ri.addr,
      connectTimeoutUs: CONNECT_TIMEOUT_US,
      requestTimeoutUs: NO_REPLY_TIMEOUT_US,
      onDisconnect: () => {
        if (link.rpc === rpc) this.closeLink(ri);
      },
    });
    link.rpc = rpc;
    link.pending = 0;
    link.ccConnTime = now;
    link.disconnected = false;
    this.sendPing(ri);
  }

  /** instanceLinkCloseConnection (:1021-1032): replies still due are dropped. */
  private closeLink(ri: Instance): void {
    const link = ri.link;
    const rpc = link.rpc;
    link.rpc = null;
    link.pending = 0;
    link.disconnected = true;
    rpc?.close();
  }

  /** Sends on the command link; a reply after the link closed, or a connection error, is dropped (hiredis calls back with no reply). */
  private send<T>(ri: Instance, body: RedisCommand | SentinelCommand, onReply: (r: RpcResult<T>) => void): void {
    const link = ri.link;
    const rpc = link.rpc;
    if (rpc === null) return;
    link.pending++;
    rpc.call<T>(body, (r) => {
      if (link.rpc !== rpc || (!r.ok && r.error !== 'server')) return;
      link.pending--;
      onReply(r);
    }, NO_REPLY_TIMEOUT_US);
  }

  /** sentinelSendPeriodicCommands (:3095-3157). */
  private sendPeriodicCommands(ri: Instance): void {
    const link = ri.link;
    if (link.disconnected) return;
    if (link.pending >= MAX_PENDING_COMMANDS) return;
    const m = this.master;
    const now = this.ctx.now();
    const infoPeriod = ri.kind === 'replica' && (m.odown || this.failoverInProgress || ri.masterLinkDownTime !== 0) ? 1 * SECOND : INFO_PERIOD_US;
    const pingPeriod = Math.min(this.s.downAfterUs, PING_PERIOD_US);
    if (ri.kind !== 'sentinel' && now - ri.infoRefresh > infoPeriod) {
      this.send<ReplicationInfo>(ri, { cmd: 'INFO_REPLICATION' }, (r) => {
        if (r.ok) this.refreshInstanceInfo(ri, r.value);
      });
    }
    if (now - link.lastPongTime > pingPeriod && now - link.lastPingTime > pingPeriod / 2) this.sendPing(ri);
    if (ri.kind === 'sentinel' && now - ri.lastPubTime > PUBLISH_PERIOD_US) this.sendHello(ri);
  }

  /** sentinelSendPing (:3075-3091) and sentinelPingReplyCallback (:2772-2814). */
  private sendPing(ri: Instance): void {
    const link = ri.link;
    this.send<string>(ri, { cmd: 'PING' }, (r) => {
      const now = this.ctx.now();
      const valid = r.ok || r.message.startsWith('LOADING') || r.message.startsWith('MASTERDOWN');
      if (valid) {
        link.lastAvailTime = now;
        link.actPingTime = null;
      }
      link.lastPongTime = now;
    });
    link.lastPingTime = this.ctx.now();
    if (link.actPingTime === null) link.actPingTime = link.lastPingTime;
  }

  /** sentinelSendHello (:2996-3036), to another Sentinel; `last_pub_time` moves only when it is answered. */
  private sendHello(ri: Instance): void {
    const m = this.master;
    this.send<number>(ri, {
      cmd: 'SENTINEL_HELLO',
      runId: this.myid,
      currentEpoch: this.currentEpoch,
      masterName: this.s.masterName,
      masterAddr: this.currentMasterAddress(),
      masterConfigEpoch: m.configEpoch,
    }, (r) => {
      if (r.ok) ri.lastPubTime = this.ctx.now();
    });
  }

  /** sentinelProcessHelloMessage (:2838-2950): a newer epoch is adopted, and a newer master configuration switches this Sentinel too. */
  private processHello(hello: Extract<SentinelCommand, { cmd: 'SENTINEL_HELLO' }>): void {
    const m = this.master;
    if (hello.masterName !== this.s.masterName || !m.sentinels.has(hello.runId)) return;
    if (hello.currentEpoch > this.currentEpoch) {
      this.currentEpoch = hello.currentEpoch;
      this.flushConfig();
    }
    if (m.configEpoch < hello.masterConfigEpoch) {
      m.configEpoch = hello.masterConfigEpoch;
      this.failover.send({ type: 'CONFIG_UPDATE', master: hello.masterAddr });
    }
  }

  // ------------------------------------------------------------------ INFO

  /** sentinelRefreshInstanceInfo (:2490-2745), from the INFO replication section. */
  private refreshInstanceInfo(ri: Instance, info: ReplicationInfo): void {
    const m = this.master;
    const now = this.ctx.now();
    ri.runId = info.runId;
    if (ri === m) {
      for (const replica of info.connectedReplicas) {
        if (m.replicas.has(replica.name)) continue;
        m.replicas.set(replica.name, createInstance('replica', replica.name, now));
        this.event('+slave', m.replicas.get(replica.name)!);
        this.flushConfig();
      }
    }
    // master_link_down_since_seconds appears only while the link is down: whole seconds, -1 if it
    // never came up (replication.c genRedisInfoString); ×1000 in sentinel.c.
    ri.masterLinkDownTime = info.role === 'replica' && info.masterLinkDownForUs !== null ? Math.floor(info.masterLinkDownForUs / SECOND) * SECOND : 0;
    const role = info.role;
    if (role === 'replica') {
      if (info.master !== ri.slaveMasterHost) {
        ri.slaveMasterHost = info.master;
        ri.slaveConfChangeTime = now;
      }
      ri.masterLinkUp = info.masterLinkUp;
      ri.slavePriority = info.replicaPriority;
      ri.slaveReplOffset = info.offset;
    }
    ri.infoRefresh = now;
    if (role !== ri.roleReported) {
      ri.roleReportedTime = now;
      ri.roleReported = role;
      if (role === 'replica') ri.slaveConfChangeTime = now;
    }
    if (this.tilt) return;

    // The promoted replica ends WAIT_PROMOTION; any other is converted (the statechart decides which).
    if (ri.kind === 'replica' && role === 'master') this.failover.send({ type: 'REPLICA_IS_MASTER', replica: ri });
    if (ri.kind === 'replica' && role === 'replica' && ri.slaveMasterHost !== m.addr) {
      const waitTime = this.s.failoverTimeoutUs;
      if (this.masterLooksSane() && this.noDownFor(ri, waitTime) && now - ri.slaveConfChangeTime > waitTime) {
        this.sendSlaveOf(ri, m.addr, 'fix-config');
      }
    }
    if (ri.kind === 'replica' && role === 'replica' && (ri.reconfSent || ri.reconfInprog)) {
      if (ri.reconfSent && ri.slaveMasterHost !== null && ri.slaveMasterHost === m.promotedSlave?.addr) {
        ri.reconfSent = false;
        ri.reconfInprog = true;
      }
      if (ri.reconfInprog && ri.masterLinkUp) {
        ri.reconfInprog = false;
        ri.reconfDone = true;
        this.event('+slave-reconf-done', ri);
      }
    }
  }

  /** The promoted replica reports role:master (:2607-2626): the failover epoch becomes the configuration's. */
  announcePromotion(ri: Instance): void {
    const m = this.master;
    m.configEpoch = m.failoverEpoch;
    this.flushConfig();
    this.event('+promoted-slave', ri);
    this.ctx.record('sentinel.promoted', { replica: ri.addr, epoch: m.failoverEpoch });
    this.forceHelloUpdate();
  }

  /**
   * A replica turned master by someone else (the old master back from the dead, :2628-2660): told
   * to follow the current master once it has said so for 4 hello periods.
   */
  convertToReplicaIfStale(ri: Instance): void {
    const waitTime = PUBLISH_PERIOD_US * 4;
    if (!ri.promoted && this.masterLooksSane() && this.noDownFor(ri, waitTime) && this.ctx.now() - ri.roleReportedTime > waitTime) {
      this.sendSlaveOf(ri, this.master.addr, 'convert-to-replica');
    }
  }

  /** sentinelMasterLooksSane (:2481-2487). */
  private masterLooksSane(): boolean {
    const m = this.master;
    return m.roleReported === 'master' && !m.sdown && !m.odown && this.ctx.now() - m.infoRefresh < INFO_PERIOD_US * 2;
  }

  /** sentinelRedisInstanceNoDownFor (:1633-1640): SDOWN/ODOWN did not start within the last `us`. */
  private noDownFor(ri: Instance, us: Micros): boolean {
    let mostRecent = ri.sDownSinceTime;
    if (ri === this.master && this.master.oDownSinceTime > mostRecent) mostRecent = this.master.oDownSinceTime;
    return mostRecent === NEVER || this.ctx.now() - mostRecent > us;
  }

  // ------------------------------------------------------------------ down detection

  /** sentinelCheckSubjectivelyDown (:4516-4582). */
  private checkSubjectivelyDown(ri: Instance): void {
    const link = ri.link;
    const now = this.ctx.now();
    const downAfter = this.s.downAfterUs;
    let elapsed = 0;
    if (link.actPingTime !== null) elapsed = now - link.actPingTime;
    else if (link.disconnected) elapsed = now - link.lastAvailTime;
    // A connected link whose PING has waited more than half of down-after is closed and redialled.
    if (link.rpc !== null && now - link.ccConnTime > MIN_LINK_RECONNECT_PERIOD_US && link.actPingTime !== null &&
      now - link.actPingTime > downAfter / 2 && now - link.lastPongTime > downAfter / 2) {
      this.closeLink(ri);
    }
    const down = elapsed > downAfter ||
      (ri.kind === 'master' && ri.roleReported === 'replica' && now - ri.roleReportedTime > downAfter + INFO_PERIOD_US * 2);
    if (down) {
      if (!ri.sdown) {
        this.event('+sdown', ri);
        ri.sDownSinceTime = now;
        ri.sdown = true;
        this.ctx.record('sentinel.sdown', { instance: ri.addr, kind: ri.kind, down: true });
      }
    } else if (ri.sdown) {
      this.event('-sdown', ri);
      ri.sdown = false;
      this.ctx.record('sentinel.sdown', { instance: ri.addr, kind: ri.kind, down: false });
    }
  }

  /** sentinelCheckObjectivelyDown (:4590-4623): this Sentinel's SDOWN plus every other Sentinel's last "down" reply. */
  private checkObjectivelyDown(): void {
    const m = this.master;
    let votes = 0;
    let odown = false;
    if (m.sdown) {
      votes = 1;
      for (const s of m.sentinels.values()) if (s.masterDown) votes++;
      if (votes >= this.s.quorum) odown = true;
    }
    if (odown) {
      if (!m.odown) {
        this.event('+odown', m, ` #quorum ${votes}/${this.s.quorum}`);
        m.odown = true;
        m.oDownSinceTime = this.ctx.now();
        this.ctx.record('sentinel.odown', { master: m.addr, down: true, votes });
      }
    } else if (m.odown) {
      this.event('-odown', m);
      m.odown = false;
      this.ctx.record('sentinel.odown', { master: m.addr, down: false, votes });
    }
  }

  /**
   * sentinelAskMasterStateToOtherSentinels (:4670-4712): while the master is SDOWN here, each
   * connected Sentinel is asked once a second (at once when `forced`), with this Sentinel's run id
   * when a failover is in progress (a vote request). Replies older than 5 s are forgotten.
   */
  askMasterStateToOtherSentinels(forced: boolean): void {
    const m = this.master;
    for (const s of m.sentinels.values()) {
      const now = this.ctx.now();
      if (now - s.lastMasterDownReplyTime > ASK_PERIOD_US * 5) {
        s.masterDown = false;
        s.leader = null;
      }
      if (!m.sdown) continue;
      if (s.link.disconnected) continue;
      if (!forced && now - s.lastMasterDownReplyTime < ASK_PERIOD_US) continue;
      this.send<IsMasterDownReply>(s, {
        cmd: 'SENTINEL_IS_MASTER_DOWN',
        addr: m.addr,
        currentEpoch: this.currentEpoch,
        runId: m.failoverState > FAILOVER_NONE ? this.myid : '*',
      }, (r) => {
        if (!r.ok) return;
        s.lastMasterDownReplyTime = this.ctx.now();
        s.masterDown = r.value.down;
        if (r.value.leader !== '*') {
          s.leader = r.value.leader;
          s.leaderEpoch = r.value.leaderEpoch;
        }
      });
    }
  }

  // ------------------------------------------------------------------ election

  /**
   * sentinelVoteLeader (:4728-4753): a larger epoch is adopted; the vote goes to the first
   * requester of an epoch this Sentinel has not voted in. Voting for another Sentinel pushes this
   * one's own failover start forward, so it waits 2 × failover-timeout before trying itself.
   */
  private voteLeader(reqEpoch: number, reqRunId: string): { leader: string | null; leaderEpoch: number } {
    const m = this.master;
    if (reqEpoch > this.currentEpoch) {
      this.currentEpoch = reqEpoch;
      this.flushConfig();
    }
    if (m.leaderEpoch < reqEpoch && this.currentEpoch <= reqEpoch) {
      m.leader = reqRunId;
      m.leaderEpoch = this.currentEpoch;
      this.flushConfig();
      this.ctx.record('sentinel.vote', { master: m.addr, epoch: m.leaderEpoch, leader: reqRunId });
      if (m.leader !== this.myid) m.failoverStartTime = this.ctx.now() + this.rng.int(0, MAX_DESYNC_MS - 1) * MS;
    }
    return { leader: m.leader, leaderEpoch: m.leaderEpoch };
  }

  /**
   * sentinelGetLeader (:4784-4847): the other Sentinels' votes in the current epoch, plus this
   * one's (for the most voted, or itself); the winner needs a majority of all known Sentinels and
   * at least `quorum` votes.
   */
  private getLeader(epoch: number): string | null {
    const m = this.master;
    const voters = m.sentinels.size + 1;
    const counters = new Map<string, number>();
    for (const s of m.sentinels.values()) {
      if (s.leader !== null && s.leaderEpoch === this.currentEpoch) counters.set(s.leader, (counters.get(s.leader) ?? 0) + 1);
    }
    let winner: string | null = null;
    let maxVotes = 0;
    for (const [id, votes] of counters) {
      if (votes > maxVotes) {
        maxVotes = votes;
        winner = id;
      }
    }
    const mine = this.voteLeader(epoch, winner ?? this.myid);
    if (mine.leader !== null && mine.leaderEpoch === epoch) {
      const votes = (counters.get(mine.leader) ?? 0) + 1;
      counters.set(mine.leader, votes);
      if (votes > maxVotes) {
        maxVotes = votes;
        winner = mine.leader;
      }
    }
    const votersQuorum = Math.floor(voters / 2) + 1;
    if (winner !== null && (maxVotes < votersQuorum || maxVotes < this.s.quorum)) winner = null;
    return winner;
  }

  // ------------------------------------------------------------------ failover

  /** sentinelStartFailover (:4927-4938); the statechart checks sentinelStartFailoverIfNeeded and sets the state. */
  startFailover(): void {
    const m = this.master;
    const now = this.ctx.now();
    m.failoverEpoch = ++this.currentEpoch;
    m.failoverStartTime = now + this.rng.int(0, MAX_DESYNC_MS - 1) * MS;
    this.ctx.record('sentinel.failover-start', { master: m.addr, epoch: m.failoverEpoch });
    this.event('+try-failover', m);
  }

  /** sentinelFailoverWaitStart (:5087-5118): the leader of the failover epoch, this Sentinel's vote included. */
  countVotes(): void {
    this.failover.send({ type: 'LEADER', elected: this.getLeader(this.master.failoverEpoch) === this.myid });
  }

  recordElected(): void {
    const m = this.master;
    this.ctx.record('sentinel.elected', { master: m.addr, epoch: m.failoverEpoch });
    this.event('+elected-leader', m);
  }

  /** sentinelFailoverSelectSlave (:5120-5137). */
  selectReplica(): void {
    const m = this.master;
    this.failover.send({ type: 'SELECTED', replica: selectReplica(m.replicas.values(), m, this.s.downAfterUs, this.ctx.now()) });
  }

  promoteCandidate(replica: Instance): void {
    this.event('+selected-slave', replica);
    replica.promoted = true;
    this.master.promotedSlave = replica;
  }

  /** sentinelFailoverSendSlaveOfNoOne (:5139-5163), once the promoted replica's link is up. */
  sendSlaveOfNoOne(): void {
    this.sendSlaveOf(this.master.promotedSlave!, null, 'promote');
  }

  /**
   * sentinelFailoverReconfNextSlave (:5237-5294): REPLICAOF the promoted replica to at most
   * parallel-syncs replicas at a time; one that does not move on within 10 s counts as done.
   */
  reconfigureReplicas(): void {
    const m = this.master;
    const now = this.ctx.now();
    let inProgress = 0;
    for (const r of m.replicas.values()) if (r.reconfSent || r.reconfInprog) inProgress++;
    for (const r of m.replicas.values()) {
      if (inProgress >= this.s.parallelSyncs) break;
      if (r.promoted || r.reconfDone) continue;
      if (r.reconfSent && now - r.slaveReconfSentTime > SLAVE_RECONF_TIMEOUT_US) {
        r.reconfSent = false;
        r.reconfDone = true;
      }
      if (r.reconfSent || r.reconfInprog) continue;
      if (r.link.disconnected) continue;
      if (this.sendSlaveOf(r, m.promotedSlave!.addr, 'reconf')) {
        r.reconfSent = true;
        r.slaveReconfSentTime = now;
        inProgress++;
      }
    }
    this.failoverDetectEnd();
  }

  /**
   * sentinelFailoverDetectEnd (:5176-5235): the failover ends when every reachable replica is
   * reconfigured, or at failover-timeout, when the rest get a best-effort REPLICAOF
   * (`reconfigureRestBestEffort`, after the end).
   */
  private failoverDetectEnd(): void {
    const m = this.master;
    const promoted = m.promotedSlave;
    if (promoted === null || promoted.sdown) return;
    const elapsed = this.ctx.now() - m.failoverStateChangeTime;
    let notReconfigured = 0;
    for (const r of m.replicas.values()) {
      if (r.promoted || r.reconfDone || r.sdown) continue;
      notReconfigured++;
    }
    const timedOut = elapsed > this.s.failoverTimeoutUs;
    if (notReconfigured === 0 || timedOut) this.failover.send({ type: 'FAILOVER_END', timedOut });
  }

  recordFailoverEnd(): void {
    this.event('+failover-end', this.master);
  }

  reconfigureRestBestEffort(): void {
    const m = this.master;
    const promoted = m.promotedSlave!;
    for (const r of m.replicas.values()) {
      if (r.promoted || r.reconfDone || r.reconfSent || r.link.disconnected) continue;
      if (this.sendSlaveOf(r, promoted.addr, 'reconf-best-effort')) r.reconfSent = true;
    }
  }

  /** sentinelAbortFailover (:5339-5350): the start time stays, so the next attempt waits 2 × failover-timeout from it. */
  abortFailover(reason: AbortReason): void {
    const m = this.master;
    this.ctx.record('sentinel.failover-abort', { master: m.addr, epoch: m.failoverEpoch, reason });
    this.event(`-failover-abort-${reason}`, m);
    m.failoverStateChangeTime = this.ctx.now();
    if (m.promotedSlave !== null) {
      m.promotedSlave.promoted = false;
      m.promotedSlave = null;
    }
  }

  /** sentinelFailoverSwitchToPromotedSlave (:5299-5308). */
  switchToPromotedSlave(): void {
    const m = this.master;
    const to = (m.promotedSlave ?? m).addr;
    this.switchMaster(m.addr, to);
    this.resetMasterAndChangeAddress(to);
  }

  /** sentinelProcessHelloMessage (:2908-2918): a newer configuration with another master. */
  adoptAnnouncedMaster(to: string): void {
    this.switchMaster(this.master.addr, to);
    this.resetMasterAndChangeAddress(to);
  }

  /** `+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>`, the message FailoverClients follow. */
  private switchMaster(from: string, to: string): void {
    this.publish('+switch-master', `${this.s.masterName} ${from} ${PORT} ${to} ${PORT}`);
    this.ctx.record('sentinel.switch-master', { name: this.s.masterName, from, to, epoch: this.master.configEpoch });
  }

  /**
   * sentinelResetMasterAndChangeAddress (:1574-1629) with sentinelResetMaster (:1512-1543): the
   * replicas are forgotten and re-created (links closed), the old master among them, so that it is
   * reconfigured when it comes back; the failover state is cleared and may start again at once.
   */
  private resetMasterAndChangeAddress(to: string): void {
    const m = this.master;
    const now = this.ctx.now();
    const addrs: string[] = [];
    for (const r of m.replicas.values()) {
      if (r.addr !== to) addrs.push(r.addr);
      this.closeLink(r);
    }
    if (to !== m.addr) addrs.push(m.addr);
    m.replicas = new Map();
    this.closeLink(m);
    m.sdown = false;
    m.odown = false;
    // The failover state goes back to NONE with the statechart's `monitoring`.
    m.leader = null;
    m.failoverStateChangeTime = NEVER;
    m.failoverStartTime = NEVER;
    m.promotedSlave = null;
    m.runId = null;
    m.slaveMasterHost = null;
    m.link.actPingTime = now;
    m.link.lastPingTime = NEVER;
    m.link.lastAvailTime = now;
    m.link.lastPongTime = now;
    m.roleReportedTime = now;
    m.roleReported = 'master';
    m.addr = to;
    m.oDownSinceTime = NEVER;
    m.sDownSinceTime = NEVER;
    for (const addr of addrs) {
      const replica = createInstance('replica', addr, now);
      m.replicas.set(addr, replica);
      this.event('+slave', replica);
    }
    this.flushConfig();
  }

  /**
   * sentinelSendSlaveOf (:4859-4924): REPLICAOF (null: NO ONE), then CLIENT KILL TYPE normal and
   * TYPE pubsub, so every client of the instance reconnects and asks again. Replies are ignored:
   * the effect is observed in later INFO replies.
   */
  private sendSlaveOf(ri: Instance, master: string | null, reason: ReconfReason): boolean {
    if (ri.link.disconnected || ri.link.rpc === null) return false;
    this.send(ri, { cmd: 'REPLICAOF', master }, () => {});
    this.send(ri, { cmd: 'CLIENT_KILL', type: 'normal' }, () => {});
    this.send(ri, { cmd: 'CLIENT_KILL', type: 'pubsub' }, () => {});
    this.ctx.record('sentinel.reconfigured', { instance: ri.addr, master, reason });
    return true;
  }

  /** sentinelForceHelloUpdateForMaster (:3061-3068): hellos go out at the next timer run. */
  private forceHelloUpdate(): void {
    for (const s of this.master.sentinels.values()) s.lastPubTime -= PUBLISH_PERIOD_US + MS;
  }

  /** sentinelGetCurrentMasterAddress (:1644-1658). */
  private currentMasterAddress(): string {
    const m = this.master;
    if (this.failoverInProgress && m.promotedSlave !== null && m.failoverState >= FAILOVER_RECONF_SLAVES) return m.promotedSlave.addr;
    return m.addr;
  }

  /** sentinelFlushConfig: the file is rewritten on each change; the promoted replica is listed under the old master's address (:2139-2163). */
  private flushConfig(): void {
    const m = this.master;
    const masterAddr = this.currentMasterAddress();
    this.storage.config = {
      currentEpoch: this.currentEpoch,
      master: masterAddr,
      configEpoch: m.configEpoch,
      leaderEpoch: m.leaderEpoch,
      knownReplicas: [...m.replicas.values()].map((r) => (r.addr === masterAddr ? m.addr : r.addr)),
    };
  }
}
