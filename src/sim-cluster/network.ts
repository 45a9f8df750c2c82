import type { RandomStream } from './random.ts';
import type { SimNode, SimProcess, TimerHandle } from './process.ts';
import { MS, SECOND, type Micros } from './time.ts';

/**
 * One-way latency of a link: `baseUs + uniform[0, jitterUs] + (with probability tailChance)
 * uniform[0, tailUs]`. Built from uniform draws only (no exp/log) so samples are bit-identical on
 * every engine; the optional tail gives the occasional slow packet that reorders causality.
 */
export interface LatencyModel {
  baseUs: Micros;
  jitterUs: Micros;
  tailChance: number;
  tailUs: Micros;
}

/** Fault and delay knobs of one directed link between two nodes. */
export interface LinkOptions {
  latency: LatencyModel;
  /**
   * Probability that a datagram is lost. On a connection a lost segment is retransmitted by TCP
   * after a retransmission timeout (doubling per consecutive loss, capped), each retry facing the
   * link as it is then; later segments wait behind it, so the application never sees a gap.
   */
  dropRate: number;
  /**
   * Probability that a datagram is delivered twice (the copy with its own latency). TCP discards
   * duplicate segments by sequence number, so connections never see duplicates; duplicated
   * application messages come from the model's own retries, not from the network.
   */
  duplicateRate: number;
}

export interface NetworkOptions {
  /** Link between two different nodes. Default: 200 µs + up to 300 µs jitter, 1% tail up to 5 ms, no loss. */
  link: LinkOptions;
  /** Link between two processes on the same node (loopback). Default: 20 µs + up to 20 µs. */
  loopback: LinkOptions;
  /**
   * How long unacknowledged data may wait on an unreachable peer before the sender's connection
   * fails with `timeout` (Linux tcp_retries2=15: about 924.6 s; spec real-world-semantics §6 fact 5).
   */
  tcpUserTimeoutUs: Micros;
  /** First retransmission timeout for a lost segment (Linux TCP_RTO_MIN, 200 ms); it doubles per loss. */
  tcpRtoUs: Micros;
  /** Largest retransmission timeout (Linux TCP_RTO_MAX, 120 s). */
  tcpRtoMaxUs: Micros;
  /** Consecutive losses of one segment before the connection fails (tcp_retries2 = 15). */
  tcpMaxRetransmits: number;
  /** Default dial timeout when the SYN gets no answer (Linux tcp_syn_retries=6: 127 s). */
  connectTimeoutUs: Micros;
}

export const DEFAULT_NETWORK_OPTIONS: NetworkOptions = {
  link: { latency: { baseUs: 200, jitterUs: 300, tailChance: 0.01, tailUs: 5 * MS }, dropRate: 0, duplicateRate: 0 },
  loopback: { latency: { baseUs: 20, jitterUs: 20, tailChance: 0, tailUs: 0 }, dropRate: 0, duplicateRate: 0 },
  tcpUserTimeoutUs: 924_600 * MS,
  tcpRtoUs: 200 * MS,
  tcpRtoMaxUs: 120 * SECOND,
  tcpMaxRetransmits: 15,
  connectTimeoutUs: 127 * SECOND,
};

/**
 * Why a connection end closed, from that end's point of view:
 * - `closed`: the peer closed it gracefully (FIN);
 * - `reset`: the peer's process died on a live host, or the peer no longer knows the connection (RST);
 * - `refused`: nothing accepted the connect (process down on a live host);
 * - `timeout`: data could not be delivered within the TCP user timeout, or a segment was lost too often;
 * - `connect-timeout`: the dial got no answer in time (partition, dead node);
 * - `keepalive`: TCP keepalive probes went unanswered.
 */
export type CloseReason = 'closed' | 'reset' | 'refused' | 'timeout' | 'connect-timeout' | 'keepalive';

export interface ConnectionHandlers {
  onOpen?: () => void;
  onMessage?: (payload: unknown) => void;
  onClose?: (reason: CloseReason) => void;
}

export interface KeepAliveOptions {
  /** Idle time before the first probe. Go's net.Dialer default: 15 s. */
  idleUs: Micros;
  /** Time between probes. Go default: 15 s. */
  intervalUs: Micros;
  /** Unanswered probes before the connection fails. Go default: 9. */
  probes: number;
}

export interface ConnectOptions {
  /** Dial timeout; default `NetworkOptions.connectTimeoutUs`. */
  timeoutUs?: Micros;
  /** TCP keepalive on the client end; off by default. */
  keepAlive?: KeepAliveOptions;
}

/**
 * An egress NetworkPolicy: the processes `from` selects may not open flows (a connection's SYN, a
 * datagram) to the processes named in `to`; the packets are dropped, so a dial retries its SYN and
 * times out. Kubernetes leaves it to the network plugin whether a policy also stops connections
 * established before it (kubernetes/website#43438: "implementation defined"); `existing` says which:
 * - `kept`: established connections keep flowing, as with plugins that judge a connection once, at
 *   its first packet, and let its conntrack entry carry the rest (Calico's iptables dataplane,
 *   projectcalico/calico#2759 and #6399; Antrea, antrea-io/antrea#5381; kube-network-policies by
 *   default, kubernetes-sigs/network-policy-api#305);
 * - `cut`: their packets are dropped too, both ways (the flow is denied), as with plugins that judge
 *   every packet of the original direction (Cilium, cilium/cilium#2700; OVN-Kubernetes, whose ACLs
 *   apply to existing connections, network-policy-api#305). The ends are not told: their data is
 *   held as in a partition, until the rule goes or their own timeouts fire.
 */
export interface EgressRule {
  /**
   * Selects the processes the policy applies to (a pod selector). It is asked at each new flow (and,
   * for `cut`, at each packet), so processes added while the rule is installed match too.
   */
  readonly from: (process: SimProcess) => boolean;
  /** The process names (Services) the selected processes may not reach. */
  readonly to: ReadonlySet<string>;
  /** Whether connections established before the rule keep flowing (`kept`) or are dropped (`cut`). */
  readonly existing: 'kept' | 'cut';
}

/** An installed egress rule, for `Network.removeEgressRule`. */
export interface EgressRuleHandle {
  readonly id: number;
}

type SegmentKind = 'data' | 'fin' | 'rst' | 'synack';

interface Segment {
  kind: SegmentKind;
  seq: number;
  payload: unknown;
  /** When it was first found unreachable (for the user timeout), or -1 if never held. */
  heldSince: Micros;
  /** Consecutive losses of this segment so far. */
  losses: number;
  /** When it was sent (queued by the sender), for the send→receive arrows of a trace with message events. */
  sentAt: Micros;
  /** The end that sent it. */
  readonly from: ConnectionEnd;
}

/**
 * Drops an end's handlers once none of them can run again (it is closed, or its peer's FIN has
 * been taken in). A half-closed end stays in its process's open ends, and through `peer` keeps
 * its closed peer, until the process closes it or dies (an HTTP server end lives as long as its
 * pod): without this, both would keep the handlers' closures and everything they hold (a
 * request's client and its state), a couple of kilobytes per connection for the rest of the run.
 */
function releaseHandlers(end: ConnectionEnd): void {
  end.onOpen = undefined;
  end.onMessage = undefined;
  end.onClose = undefined;
}

/** What the network needs from the simulation that owns it. */
export interface NetworkHost {
  readonly now: Micros;
  /** Schedules kernel work (not owned by any process) at a true time. */
  schedule(time: Micros, run: () => void, label: string): void;
  /** `schedule` of the call `fn(arg)`: `fn` can be shared, so that scheduling makes no closure. */
  scheduleCall<T>(time: Micros, fn: (arg: T) => void, arg: T, label: string): void;
  /** Schedules work owned by a process incarnation after a true delay. */
  scheduleFor(proc: SimProcess, delayUs: Micros, run: () => void, label: string): TimerHandle;
  cancel(handle: TimerHandle | null): void;
  /** Runs `run` in the process if that incarnation is alive (deferred while paused); false if it is gone. */
  deliverTo(proc: SimProcess, incarnation: number, run: () => void, label: string): boolean;
  /** `deliverTo` of the call `fn(a, b)`: no closure is made for it unless the process is paused. */
  deliverCall<A, B>(proc: SimProcess, incarnation: number, fn: (a: A, b: B) => void, a: A, b: B, label: string): boolean;
  findProcess(name: string): SimProcess | undefined;
  readonly rng: RandomStream;
  record(p: string, k: string, d?: Record<string, unknown>): void;
}

/**
 * One side of an ordered, reliable connection (a TCP socket, a WebSocket, a Redis client link).
 * Segments travel in order, each with the link's latency; a direction that becomes unreachable
 * (partition, dead node) holds them, as TCP's retransmissions would, until it heals or the user
 * timeout fails the sender. The receiving side learns nothing: it stays half-open until its own
 * timeouts fire (spec real-world-semantics §6 fact 6).
 */
export class ConnectionEnd {
  /**
   * `half-closed`: the peer closed its side (FIN received, TCP CLOSE_WAIT). Reads have ended
   * (onClose('closed') was called) but writes still leave: the peer's host answers them with RST,
   * and only writes after that fail, as on Linux.
   */
  state: 'connecting' | 'open' | 'half-closed' | 'closed' = 'connecting';
  onOpen: (() => void) | undefined;
  onMessage: ((payload: unknown) => void) | undefined;
  onClose: ((reason: CloseReason) => void) | undefined;
  /** Set once both ends exist. */
  peer: ConnectionEnd | null = null;
  /** @internal next sequence number of segments sent from this end */
  sendSeq = 0;
  /** @internal arrival time of the last segment sent from this end: later ones never overtake it */
  arrivalFloor: Micros = 0;
  /**
   * @internal segments sent from this end waiting for the direction to become reachable, in
   * order; null when there are none (most ends never hold one, and a half-closed end stays for the
   * rest of the run, so none of them keeps an empty array)
   */
  held: Segment[] | null = null;
  /** @internal user-timeout timer for held data */
  heldTimer: TimerHandle | null = null;
  /** @internal keepalive probe timer */
  keepAliveTimer: TimerHandle | null = null;
  /** @internal dial timeout, cancelled when the handshake completes */
  dialTimer: TimerHandle | null = null;
  /** @internal a lost segment waiting for its retransmission timeout; later segments queue behind it */
  retransmitting: Segment | null = null;
  /** @internal segments sent while another one awaits retransmission, in order; null when none (as `held`) */
  behindRetransmit: Segment[] | null = null;

  constructor(
    private readonly net: Network,
    readonly id: string,
    readonly side: 'client' | 'server',
    readonly process: SimProcess,
    readonly incarnation: number,
    readonly remote: string,
  ) {}

  get local(): string {
    return this.process.name;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * Writes one message. Returns false, as a failed write would error, when the end is not open.
   * True means only that the local kernel took it: it may still be lost with the connection.
   */
  send(payload: unknown): boolean {
    if (this.state !== 'open' && this.state !== 'half-closed') return false;
    this.net.transmit(this, 'data', payload);
    return true;
  }

  /**
   * Closes gracefully: data already written is delivered, then the peer sees `closed`. A half-closed
   * end sends no FIN: its peer closed first (a FIN is sent only by `close`), so the FIN would reach
   * a socket in FIN_WAIT_2 whose owner has let go of it, where nothing in the model can see it;
   * not sending it keeps a server's close after its client's (`serveRpc`) from drawing a latency.
   */
  close(): void {
    if (this.state === 'closed') return;
    const open = this.state === 'open';
    this.net.closeLocally(this, 'local');
    if (open) this.net.transmit(this, 'fin', undefined);
  }

  /** Turns on TCP keepalive probing for this end (Go enables it on dialed and accepted sockets). */
  enableKeepAlive(options: KeepAliveOptions): void {
    this.net.startKeepAlive(this, options);
  }
}

/**
 * The simulated network: datagrams and ordered connections between processes, per-link latency,
 * loss and duplication, partitions between node groups (symmetric or one-way), and cuts between
 * processes, with heal. Reachability is judged per direction at send and at arrival: a segment in
 * flight when a partition starts is held, not delivered.
 *
 * A process cut stands for a Kubernetes NetworkPolicy that denies traffic between two pods (or a
 * chaos tool's pod partition, which installs the same drop rules in the pods' network namespaces):
 * packets are dropped, not refused, so the effect on a direction is the same as a node partition's,
 * but it hits only the processes named, wherever they run, including two processes on one node,
 * which a node partition never separates. Cuts follow a process's name: a process restarted in
 * place is still cut, a replacement under a new name is not.
 *
 * An egress rule (`addEgressRule`) stands for an egress NetworkPolicy: it selects processes by a
 * predicate rather than by name, so a pod created while it is installed is selected too, and it
 * denies new flows only, or established ones as well, as network plugins differ (`EgressRule`).
 * With no rule installed, nothing about it is consulted or drawn.
 */
export class Network {
  readonly options: NetworkOptions;
  private readonly nodes: SimNode[] = [];
  /** blocked[from * n + to] counts the partitions cutting that direction (overlapping partitions nest). */
  private blocked = new Uint16Array(0);
  private readonly linkOverrides = new Map<number, LinkOptions>();
  /** `from \n to` → how many process cuts block that direction (they nest, like partitions). */
  private readonly processCuts = new Map<string, number>();
  /** Process name → how many isolations cut it off from every other process. */
  private readonly isolatedProcesses = new Map<string, number>();
  /** Installed egress rules by id, in the order they were added. */
  private readonly egressRules = new Map<number, EgressRule>();
  /** How many installed egress rules cut established flows: `canReach` looks at rules only when some do. */
  private cuttingRules = 0;
  private nextEgressRuleId = 0;
  /** Ends holding undelivered segments, re-examined on heal and node recovery. */
  private readonly holding = new Set<ConnectionEnd>();
  private nextConnId = 0;
  /** Record one trace event per delivered message (for timelines); part of the hash either way. */
  readonly traceMessages: boolean;

  constructor(
    private readonly host: NetworkHost,
    options: Partial<NetworkOptions> = {},
    traceMessages = true,
  ) {
    this.options = { ...DEFAULT_NETWORK_OPTIONS, ...options };
    this.traceMessages = traceMessages;
  }

  /** @internal called by the simulation when it adds a node */
  addNode(node: SimNode): void {
    this.nodes.push(node);
    const n = this.nodes.length;
    const next = new Uint16Array(n * n);
    const m = n - 1;
    for (let f = 0; f < m; f++) for (let t = 0; t < m; t++) next[f * n + t] = this.blocked[f * m + t]!;
    this.blocked = next;
  }

  // ---- partitions ---------------------------------------------------------------------------

  /**
   * Cuts traffic between two groups of nodes. `oneWay` cuts only from `a` to `b` (asymmetric
   * partition: b still reaches a). Partitions nest: a direction is open again only when every
   * partition that cut it has healed.
   */
  partition(a: readonly string[], b: readonly string[], oneWay = false): void {
    for (const from of a) for (const to of b) {
      this.cut(from, to, +1);
      if (!oneWay) this.cut(to, from, +1);
    }
    this.host.record('net', 'net.partition', { a: [...a], b: [...b], oneWay });
  }

  /** Undoes one `partition(a, b, oneWay)` call with the same arguments. */
  heal(a: readonly string[], b: readonly string[], oneWay = false): void {
    for (const from of a) for (const to of b) {
      this.cut(from, to, -1);
      if (!oneWay) this.cut(to, from, -1);
    }
    this.host.record('net', 'net.heal', { a: [...a], b: [...b], oneWay });
    this.flushHeld();
  }

  /** Cuts one node off from every other node, both ways. */
  isolate(node: string): void {
    this.partition([node], this.otherNodes(node));
  }

  /** Undoes `isolate(node)`. */
  rejoin(node: string): void {
    this.heal([node], this.otherNodes(node));
  }

  /** Removes every partition, between nodes and between processes, and every egress rule. */
  healAll(): void {
    this.blocked.fill(0);
    this.processCuts.clear();
    this.isolatedProcesses.clear();
    this.egressRules.clear();
    this.cuttingRules = 0;
    this.host.record('net', 'net.heal-all');
    this.flushHeld();
  }

  /**
   * Cuts traffic between two groups of processes (by name), wherever they run; `oneWay` cuts only
   * from `a` to `b`. Cuts nest: a direction is open again only when every cut of it has healed.
   */
  cutProcesses(a: readonly string[], b: readonly string[], oneWay = false): void {
    for (const from of a) for (const to of b) {
      this.cutProcess(from, to, +1);
      if (!oneWay) this.cutProcess(to, from, +1);
    }
    this.host.record('net', 'net.process-cut', { a: [...a], b: [...b], oneWay });
  }

  /** Undoes one `cutProcesses(a, b, oneWay)` call with the same arguments. */
  healProcesses(a: readonly string[], b: readonly string[], oneWay = false): void {
    for (const from of a) for (const to of b) {
      this.cutProcess(from, to, -1);
      if (!oneWay) this.cutProcess(to, from, -1);
    }
    this.host.record('net', 'net.process-heal', { a: [...a], b: [...b], oneWay });
    this.flushHeld();
  }

  /**
   * Cuts one process off from every other process, both ways, including processes added later
   * (a deny-all NetworkPolicy on its pod). Its node and the node's other processes are unaffected.
   */
  isolateProcess(name: string): void {
    this.isolatedProcesses.set(name, (this.isolatedProcesses.get(name) ?? 0) + 1);
    this.host.record('net', 'net.process-isolate', { p: name });
  }

  /** Undoes one `isolateProcess(name)`. */
  rejoinProcess(name: string): void {
    const n = this.isolatedProcesses.get(name) ?? 0;
    if (n === 0) throw new Error(`rejoin of ${name}, which no isolation cuts`);
    if (n === 1) this.isolatedProcesses.delete(name);
    else this.isolatedProcesses.set(name, n - 1);
    this.host.record('net', 'net.process-rejoin', { p: name });
    this.flushHeld();
  }

  /**
   * Installs an egress rule (see `EgressRule`): from now on the processes it selects cannot open
   * flows to its targets, and with `existing: 'cut'` the flows they have with them stop too.
   */
  addEgressRule(rule: EgressRule): EgressRuleHandle {
    const id = this.nextEgressRuleId++;
    this.egressRules.set(id, rule);
    if (rule.existing === 'cut') this.cuttingRules++;
    this.host.record('net', 'net.egress-deny', { rule: id, to: [...rule.to], existing: rule.existing });
    return { id };
  }

  /**
   * Removes an egress rule: held segments of the flows it cut are sent again, and SYNs it dropped
   * get through at their next retry. Nothing happens for a rule already removed (`healAll` removes
   * every rule).
   */
  removeEgressRule(handle: EgressRuleHandle): void {
    const rule = this.egressRules.get(handle.id);
    if (rule === undefined) return;
    this.egressRules.delete(handle.id);
    if (rule.existing === 'cut') this.cuttingRules--;
    this.host.record('net', 'net.egress-allow', { rule: handle.id });
    this.flushHeld();
  }

  /** Whether a segment from node `from` to node `to` would get through right now (process cuts aside). */
  reachable(from: SimNode, to: SimNode): boolean {
    return to.up && this.blocked[from.index * this.nodes.length + to.index] === 0;
  }

  /** Whether a segment from process `from` to process `to` would get through right now: their nodes, then process cuts. */
  canReach(from: SimProcess, to: SimProcess): boolean {
    if (!this.reachable(from.node, to.node)) return false;
    if (this.processCuts.size === 0 && this.isolatedProcesses.size === 0 && this.cuttingRules === 0) return true;
    if (from.name === to.name) return true;
    if (this.isolatedProcesses.has(from.name) || this.isolatedProcesses.has(to.name)) return false;
    if (this.processCuts.has(`${from.name}\n${to.name}`)) return false;
    return this.cuttingRules === 0 || !this.flowCut(from, to);
  }

  /**
   * Whether a new flow from `from` to `to` (a SYN, a datagram) gets through right now: reachable,
   * and no egress rule denies it.
   */
  private canOpen(from: SimProcess, to: SimProcess): boolean {
    return this.canReach(from, to) && (this.egressRules.size === 0 || !this.egressDenies(from, to));
  }

  /** Whether an egress rule keeps `from` from opening flows to `to`. */
  private egressDenies(from: SimProcess, to: SimProcess): boolean {
    for (const rule of this.egressRules.values()) if (rule.to.has(to.name) && rule.from(from)) return true;
    return false;
  }

  /** Whether a `cut` egress rule denies the flow between `a` and `b`, whichever of them sends. */
  private flowCut(a: SimProcess, b: SimProcess): boolean {
    for (const rule of this.egressRules.values()) {
      if (rule.existing !== 'cut') continue;
      if ((rule.to.has(b.name) && rule.from(a)) || (rule.to.has(a.name) && rule.from(b))) return true;
    }
    return false;
  }

  /** Overrides the options of the directed link from → to (bursts of loss, delay or duplication). */
  setLink(from: string, to: string, options: LinkOptions): void {
    this.linkOverrides.set(this.key(from, to), options);
    this.host.record('net', 'net.link', { from, to, options: options as unknown as Record<string, unknown> });
  }

  /** Restores the default options of the directed link from → to. */
  resetLink(from: string, to: string): void {
    this.linkOverrides.delete(this.key(from, to));
    this.host.record('net', 'net.link-reset', { from, to });
  }

  private otherNodes(node: string): string[] {
    return this.nodes.filter((n) => n.name !== node).map((n) => n.name);
  }

  private nodeIndex(name: string): number {
    const node = this.nodes.find((n) => n.name === name);
    if (node === undefined) throw new Error(`unknown node '${name}'`);
    return node.index;
  }

  private key(from: string, to: string): number {
    return this.nodeIndex(from) * this.nodes.length + this.nodeIndex(to);
  }

  private cutProcess(from: string, to: string, delta: 1 | -1): void {
    if (from === to) return;
    const k = `${from}\n${to}`;
    const v = (this.processCuts.get(k) ?? 0) + delta;
    if (v < 0) throw new Error(`heal of ${from} -> ${to}, which no process cut blocks`);
    if (v === 0) this.processCuts.delete(k);
    else this.processCuts.set(k, v);
  }

  private cut(from: string, to: string, delta: 1 | -1): void {
    if (from === to) return;
    const k = this.key(from, to);
    const v = this.blocked[k]! + delta;
    if (v < 0) throw new Error(`heal of ${from} -> ${to}, which no partition cuts`);
    this.blocked[k] = v;
  }

  private link(from: SimNode, to: SimNode): LinkOptions {
    if (this.linkOverrides.size > 0) {
      const o = this.linkOverrides.get(from.index * this.nodes.length + to.index);
      if (o !== undefined) return o;
    }
    return from === to ? this.options.loopback : this.options.link;
  }

  private latency(model: LatencyModel): Micros {
    const rng = this.host.rng;
    let d = model.baseUs;
    if (model.jitterUs > 0) d += rng.int(0, model.jitterUs);
    if (model.tailChance > 0 && rng.chance(model.tailChance)) d += rng.int(0, model.tailUs);
    return d;
  }

  // ---- datagrams ----------------------------------------------------------------------------

  sendDatagram(from: SimProcess, target: string, payload: unknown): void {
    const to = this.host.findProcess(target);
    if (to === undefined) {
      this.host.record(from.name, 'net.drop', { to: target, why: 'no-such-process' });
      return;
    }
    const link = this.link(from.node, to.node);
    const rng = this.host.rng;
    if (rng.chance(link.dropRate)) {
      this.host.record(from.name, 'net.drop', { to: target, why: 'loss' });
      return;
    }
    const copies = rng.chance(link.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const at = this.host.now + this.latency(link.latency);
      const sent = this.host.now;
      this.host.schedule(at, () => this.arriveDatagram(from, to, payload, sent), 'datagram');
    }
  }

  private arriveDatagram(from: SimProcess, to: SimProcess, payload: unknown, sent: Micros): void {
    if (!this.canReach(from, to)) {
      this.host.record(from.name, 'net.drop', { to: to.name, why: 'unreachable' });
      return;
    }
    // A datagram is judged as a flow of its own: an egress rule drops it whatever `existing` says.
    if (this.egressRules.size > 0 && this.egressDenies(from, to)) {
      this.host.record(from.name, 'net.drop', { to: to.name, why: 'egress-policy' });
      return;
    }
    const incarnation = to.incarnation;
    const delivered = this.host.deliverTo(to, incarnation, () => {
      if (this.traceMessages) this.host.record(to.name, 'net.datagram', { from: from.name, sent });
      to.behaviour?.onDatagram?.(from.name, payload);
    }, 'datagram');
    if (!delivered) this.host.record(from.name, 'net.drop', { to: to.name, why: 'process-down' });
  }

  // ---- connections --------------------------------------------------------------------------

  connect(from: SimProcess, target: string, handlers: ConnectionHandlers, options: ConnectOptions = {}): ConnectionEnd {
    const id = `c${this.nextConnId++}`;
    const client = new ConnectionEnd(this, id, 'client', from, from.incarnation, target);
    client.onOpen = handlers.onOpen;
    client.onMessage = handlers.onMessage;
    client.onClose = handlers.onClose;
    from.ends.add(client);
    this.host.record(from.name, 'conn.dial', { c: id, to: target });
    const timeoutUs = options.timeoutUs ?? this.options.connectTimeoutUs;
    const deadline = this.host.now + timeoutUs;
    client.dialTimer = this.host.scheduleFor(from, timeoutUs, () => {
      client.dialTimer = null;
      this.closeRemotely(client, 'connect-timeout');
    }, 'connect-timeout');
    this.sendSyn(client, target, deadline, 1 * SECOND, options.keepAlive);
    return client;
  }

  /**
   * Sends a SYN. If the target node is unreachable, retries with Linux's SYN backoff (1 s, 2 s,
   * 4 s, …) until the dial deadline.
   */
  private sendSyn(client: ConnectionEnd, target: string, deadline: Micros, retryUs: Micros, keepAlive: KeepAliveOptions | undefined): void {
    if (client.state !== 'connecting') return;
    const from = client.process;
    const to = this.host.findProcess(target);
    if (to === undefined) {
      // No such host name: the dial fails at once, as a DNS or routing failure would.
      this.host.schedule(this.host.now, () => this.refuse(client), 'refused');
      return;
    }
    // A SYN an egress rule denies is dropped like one lost in a partition: retried, then timed out.
    if (!this.canOpen(from, to)) return this.retrySyn(client, target, deadline, retryUs, keepAlive);
    const at = this.host.now + this.latency(this.link(from.node, to.node).latency);
    this.host.schedule(at, () => {
      if (client.state !== 'connecting') return;
      if (!this.canOpen(from, to)) return this.retrySyn(client, target, deadline, retryUs, keepAlive);
      if (!to.alive || to.behaviour === null || to.behaviour.onAccept === undefined) {
        // The host is up but nothing listens: RST comes back.
        this.sendControlBack(to, from, () => this.refuse(client));
        return;
      }
      const server = new ConnectionEnd(this, client.id, 'server', to, to.incarnation, from.name);
      server.peer = client;
      client.peer = server;
      server.state = 'open';
      to.ends.add(server);
      // The listen backlog completes the handshake even if the process is paused; accept runs when it resumes.
      this.host.deliverTo(to, to.incarnation, () => {
        if (server.state !== 'open') return;
        this.host.record(to.name, 'conn.accept', { c: server.id, from: from.name });
        to.behaviour?.onAccept?.(server);
      }, 'accept');
      this.transmit(server, 'synack', undefined);
      if (keepAlive !== undefined) this.startKeepAlive(client, keepAlive);
    }, 'syn');
  }

  /** Linux's SYN backoff: the next SYN after `retryUs`, unless that passes the dial deadline. */
  private retrySyn(client: ConnectionEnd, target: string, deadline: Micros, retryUs: Micros, keepAlive: KeepAliveOptions | undefined): void {
    if (this.host.now + retryUs < deadline) {
      this.host.scheduleFor(client.process, retryUs, () => this.sendSyn(client, target, deadline, retryUs * 2, keepAlive), 'syn-retry');
    }
  }

  private refuse(client: ConnectionEnd): void {
    if (client.state === 'connecting') this.closeRemotely(client, 'refused');
  }

  /** A control packet (RST) from one process's host to another's: delivered after latency if reachable, else lost. */
  private sendControlBack(from: SimProcess, to: SimProcess, run: () => void): void {
    if (!this.canReach(from, to)) return;
    this.host.schedule(this.host.now + this.latency(this.link(from.node, to.node).latency), () => {
      if (this.canReach(from, to)) run();
    }, 'rst');
  }

  /** @internal queues a segment from `end` towards its peer, in order. */
  transmit(end: ConnectionEnd, kind: SegmentKind, payload: unknown): void {
    const segment: Segment = { kind, seq: end.sendSeq++, payload, heldSince: -1, losses: 0, sentAt: this.host.now, from: end };
    if (end.held !== null) {
      this.hold(end, segment);
      return;
    }
    if (end.retransmitting !== null) {
      (end.behindRetransmit ??= []).push(segment);
      return;
    }
    this.launch(end, segment);
  }

  private launch(end: ConnectionEnd, segment: Segment): void {
    const peer = end.peer!;
    const from = end.process.node;
    const to = peer.process.node;
    if (!this.canReach(end.process, peer.process)) {
      this.hold(end, segment);
      return;
    }
    const link = this.link(from, to);
    if (link.dropRate > 0 && this.host.rng.chance(link.dropRate)) {
      if (++segment.losses > this.options.tcpMaxRetransmits) {
        this.closeRemotely(end, 'timeout');
        return;
      }
      const rto = Math.min(this.options.tcpRtoUs * 2 ** (segment.losses - 1), this.options.tcpRtoMaxUs);
      end.retransmitting = segment;
      this.host.scheduleCall(this.host.now + rto, this.retransmitSegment, segment, 'retransmit');
      return;
    }
    const at = Math.max(this.host.now + this.latency(link.latency), end.arrivalFloor);
    end.arrivalFloor = at;
    this.host.scheduleCall(at, this.arriveSegment, segment, 'segment');
  }

  private closed(end: ConnectionEnd): boolean {
    return end.state === 'closed';
  }

  /**
   * A lost segment's retransmission timeout (a field, as `arriveSegment`: a closure made in `launch`
   * would make V8 allocate a context for its variables on every segment sent, lost or not).
   */
  private readonly retransmitSegment = (segment: Segment): void => this.retransmit(segment.from, segment);

  /** The retransmission timeout of a lost segment fired: send it again, then release what waited behind it. */
  private retransmit(end: ConnectionEnd, segment: Segment): void {
    if (end.retransmitting !== segment || end.state === 'closed') return;
    end.retransmitting = null;
    this.launch(end, segment);
    const waiting = end.behindRetransmit;
    if (waiting === null) return;
    end.behindRetransmit = null;
    for (let i = 0; i < waiting.length; i++) {
      const next = waiting[i]!;
      if (this.closed(end)) return; // launching may have failed the connection
      if (end.held !== null) this.hold(end, next);
      else if (end.retransmitting !== null) (end.behindRetransmit ??= []).push(next);
      else this.launch(end, next);
    }
  }

  /** A segment reaches its peer's host (a field: each send schedules it, rather than a closure). */
  private readonly arriveSegment = (segment: Segment): void => this.arrive(segment.from, segment);

  private arrive(end: ConnectionEnd, segment: Segment): void {
    const peer = end.peer!;
    if (!this.canReach(end.process, peer.process)) {
      this.hold(end, segment);
      return;
    }
    const peerGone = peer.process.incarnation !== peer.incarnation || !peer.process.alive;
    if (peerGone || peer.state === 'closed') {
      // The peer's host no longer knows this connection: it answers with RST (never to an RST).
      if (segment.kind !== 'rst' && end.state !== 'closed') this.resetFrom(peer.process, end);
      return;
    }
    this.host.deliverCall(peer.process, peer.incarnation, this.receiveSegment, peer, segment, 'recv');
  }

  /**
   * RST from `from`'s host to `end`, which sent to a connection that host no longer knows. Apart
   * from `arrive` for the reason `retransmitSegment` is: its closure would cost every arrival.
   */
  private resetFrom(from: SimProcess, end: ConnectionEnd): void {
    this.sendControlBack(from, end.process, () => this.closeRemotely(end, 'reset'));
  }

  /** Takes in a segment at the end it reached (a field: each delivery passes it on, rather than a closure). */
  private readonly receiveSegment = (end: ConnectionEnd, segment: Segment): void => {
    if (end.state === 'closed') return;
    switch (segment.kind) {
      case 'synack':
        this.host.cancel(end.dialTimer);
        end.dialTimer = null;
        end.state = 'open';
        this.host.record(end.local, 'conn.open', { c: end.id, to: end.remote });
        end.onOpen?.();
        return;
      case 'data':
        if (this.traceMessages) this.host.record(end.local, 'net.recv', { c: end.id, n: segment.seq, sent: segment.sentAt });
        end.onMessage?.(segment.payload);
        return;
      case 'fin':
        if (end.state !== 'open') return;
        end.state = 'half-closed';
        this.host.record(end.local, 'conn.peer-closed', { c: end.id });
        end.onClose?.('closed');
        // Nothing follows a FIN and onClose has run, so no handler of this end runs again.
        releaseHandlers(end);
        return;
      case 'rst':
        this.closeRemotely(end, 'reset');
        return;
    }
  };

  private hold(end: ConnectionEnd, segment: Segment): void {
    if (segment.kind === 'rst') return; // RST is never retransmitted
    if (segment.heldSince < 0) segment.heldSince = this.host.now;
    const held = (end.held ??= []);
    let i = held.length;
    while (i > 0 && held[i - 1]!.seq > segment.seq) i--;
    held.splice(i, 0, segment);
    this.holding.add(end);
    if (end.heldTimer === null && end.process.alive && end.process.incarnation === end.incarnation) {
      const oldest = held[0]!.heldSince;
      const delay = Math.max(0, oldest + this.options.tcpUserTimeoutUs - this.host.now);
      end.heldTimer = this.host.scheduleFor(end.process, delay, () => {
        end.heldTimer = null;
        if (end.held !== null) this.closeRemotely(end, 'timeout');
      }, 'tcp-user-timeout');
    }
  }

  /** Re-sends held segments on every direction that became reachable. */
  private flushHeld(): void {
    for (const end of [...this.holding]) {
      const peer = end.peer!;
      if (!this.canReach(end.process, peer.process)) continue;
      const segments = end.held!;
      end.held = null;
      this.holding.delete(end);
      this.host.cancel(end.heldTimer);
      end.heldTimer = null;
      for (const s of segments) this.launch(end, s);
    }
  }

  /** @internal the simulation calls this when a node comes back up */
  nodeRecovered(): void {
    this.flushHeld();
  }

  // ---- keepalive ----------------------------------------------------------------------------

  /** @internal */
  startKeepAlive(end: ConnectionEnd, options: KeepAliveOptions): void {
    let unanswered = 0;
    const probe = (): void => {
      end.keepAliveTimer = null;
      if (end.state !== 'open' || end.peer === null) return;
      const peer = end.peer;
      const there = this.canReach(end.process, peer.process);
      const back = this.canReach(peer.process, end.process);
      const peerKnowsUs = peer.process.incarnation === peer.incarnation && peer.process.alive && peer.state !== 'closed';
      if (there && back && !peerKnowsUs) {
        this.closeRemotely(end, 'reset');
        return;
      }
      // A paused peer's kernel still answers probes (spec real-world-semantics §6 fact 6).
      unanswered = there && back ? 0 : unanswered + 1;
      if (unanswered >= options.probes) {
        this.closeRemotely(end, 'keepalive');
        return;
      }
      end.keepAliveTimer = this.host.scheduleFor(end.process, unanswered === 0 ? options.idleUs : options.intervalUs, probe, 'keepalive');
    };
    this.host.cancel(end.keepAliveTimer);
    end.keepAliveTimer = this.host.scheduleFor(end.process, options.idleUs, probe, 'keepalive');
  }

  // ---- closing ------------------------------------------------------------------------------

  /** @internal closes an end because of something the network did; the owner's onClose runs. */
  closeRemotely(end: ConnectionEnd, reason: CloseReason): void {
    if (end.state === 'closed') return;
    const notified = end.state === 'half-closed'; // onClose already told the owner at FIN
    const onClose = end.onClose; // closeLocally releases it
    this.closeLocally(end, reason);
    if (!notified) onClose?.(reason);
  }

  /** @internal marks an end closed and releases its timers, without notifying its owner. */
  closeLocally(end: ConnectionEnd, reason: CloseReason | 'local'): void {
    if (end.state === 'closed') return;
    end.state = 'closed';
    releaseHandlers(end);
    end.process.ends.delete(end);
    this.host.cancel(end.keepAliveTimer);
    end.keepAliveTimer = null;
    this.host.cancel(end.dialTimer);
    end.dialTimer = null;
    end.retransmitting = null;
    end.behindRetransmit = null;
    if (reason !== 'local') {
      end.held = null;
      this.holding.delete(end);
      this.host.cancel(end.heldTimer);
      end.heldTimer = null;
    }
    this.host.record(end.local, 'conn.close', { c: end.id, reason });
  }

  /**
   * @internal the process owning these ends died. With `reset` (a process crash on a live host)
   * the kernel sends RST to each peer; without (node death) nothing is sent and peers stay half-open.
   */
  processDied(proc: SimProcess, reset: boolean): void {
    for (const end of [...proc.ends]) {
      end.state = 'closed';
      releaseHandlers(end);
      end.held = null;
      end.retransmitting = null;
      end.behindRetransmit = null;
      this.holding.delete(end);
      end.heldTimer = null;
      end.keepAliveTimer = null;
      end.dialTimer = null;
      this.host.record(proc.name, 'conn.close', { c: end.id, reason: reset ? 'crash' : 'node-down' });
      const peer = end.peer;
      if (reset && peer !== null) {
        this.sendControlBack(proc, peer.process, () => {
          if (peer.process.incarnation === peer.incarnation) this.host.deliverTo(peer.process, peer.incarnation, () => this.closeRemotely(peer, 'reset'), 'rst');
        });
      }
    }
    proc.ends.clear();
  }
}
