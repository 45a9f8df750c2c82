import { MS, Simulation, type Micros, type ProcessBehaviour, type ProcessContext, type SimulationOptions, type TimerHandle } from '../../src/index.ts';
import type { LeaseConfig } from './config.ts';

/**
 * Two replicas and a lease store on three nodes. The store keeps one lease record (holder, epoch,
 * expiry) and the data the replicas write; each replica acquires the lease by request/response,
 * renews it, and writes while it believes it holds it. Messages are datagrams: a lost request or
 * answer is not retried, the next renewal is the retry (as with a UDP or fire-and-forget RPC client).
 */
export const STORE = 'store';
export const REPLICAS = ['replica-0', 'replica-1'] as const;

type ToStore = { type: 'acquire'; req: string } | { type: 'write'; epoch: number; seq: number };
type ToReplica = { type: 'granted'; req: string; epoch: number } | { type: 'denied'; req: string; holder: string; epoch: number };

/** The store's durable state: it survives a crash of the store process (the store fsyncs before it answers). */
export interface StoreDisk {
  holder: string | null;
  epoch: number;
  /** On the store's wall clock. */
  expiresAt: Micros;
}

export class LeaseCluster {
  readonly sim: Simulation;
  readonly disk: StoreDisk = { holder: null, epoch: 0, expiresAt: 0 };
  /** Set by the `store-slow` fault: every answer of the store leaves this much later. */
  readonly storeFaults = { replyDelayUs: 0 };

  constructor(readonly config: LeaseConfig, seed: number, simulation: Omit<SimulationOptions, 'seed'>) {
    // The components trace what the view needs (grants, applied writes, beliefs); a `net.datagram`
    // event per message would double the trace. A run that asks for `traceMessages` still gets them.
    this.sim = new Simulation({ seed, traceMessages: false, ...simulation });
    // NTP-disciplined wall clocks, a few ms apart, differently for every seed. No standing drift:
    // the harness's heal sets every node's drift back to 0, so drift exists only as a fault.
    const clocks = this.sim.stream('clocks');
    const clock = () => ({ offsetUs: clocks.int(-5 * MS, 5 * MS) });
    this.sim.addNode('node-s', clock());
    this.sim.addProcess({ name: STORE, node: 'node-s', boot: (ctx) => store(ctx, this) });
    REPLICAS.forEach((name, i) => {
      this.sim.addNode(`node-${i}`, clock());
      this.sim.addProcess({ name, node: `node-${i}`, boot: (ctx) => replica(ctx, config) });
    });
  }
}

/**
 * The store. As built, its lease record is a row with a wall-clock expiry, as in
 * `UPDATE lease SET holder = $me, expires_at = now() + ttl WHERE holder = $me OR expires_at < now()`:
 * a step of the store's wall clock expires or extends every lease at once. It applies every write it
 * receives; with `fencedWrites` it rejects a write made under an epoch older than its record's.
 */
function store(ctx: ProcessContext, cluster: LeaseCluster): ProcessBehaviour {
  const { disk, storeFaults, config } = cluster;
  const reply = (to: string, message: ToReplica): void => {
    if (storeFaults.replyDelayUs === 0) return ctx.sendDatagram(to, message);
    ctx.setTimer(storeFaults.replyDelayUs, () => ctx.sendDatagram(to, message), 'slow-reply');
  };
  return {
    onDatagram(from, payload) {
      const m = payload as ToStore;
      if (m.type === 'acquire') {
        const now = ctx.now();
        if (disk.holder !== from && disk.holder !== null && now < disk.expiresAt) {
          return reply(from, { type: 'denied', req: m.req, holder: disk.holder, epoch: disk.epoch });
        }
        // A new holder gets a new epoch; the holder renewing (or re-acquiring after a restart) keeps its own.
        if (disk.holder !== from) {
          disk.holder = from;
          disk.epoch++;
        }
        disk.expiresAt = now + config.lease.ttlUs;
        ctx.record('store.grant', { replica: from, epoch: disk.epoch });
        return reply(from, { type: 'granted', req: m.req, epoch: disk.epoch });
      }
      if (config.fixes.fencedWrites && m.epoch < disk.epoch) {
        return ctx.record('store.write-rejected', { replica: from, epoch: m.epoch, current: disk.epoch });
      }
      ctx.record('store.write', { replica: from, epoch: m.epoch, seq: m.seq });
    },
  };
}

/**
 * A replica. It measures its lease on its monotonic clock from when it sent the request (as Go's
 * time.Since does), shortened by the drift tolerance, and ends it with a timer. It writes on its
 * own timer while it believes it holds the lease, without asking the store: after a stop-the-world
 * pause its overdue write timer runs before its overdue expiry timer, so it writes once more.
 */
function replica(ctx: ProcessContext, config: LeaseConfig): ProcessBehaviour {
  const { ttlUs, renewEveryUs, driftTolerancePpm } = config.lease;
  const leaseUs = ttlUs - Math.ceil((ttlUs * driftTolerancePpm) / 1_000_000);
  // Request ids name the incarnation: a late answer to a crashed incarnation's request matches nothing.
  const sentAt = new Map<string, Micros>();
  let req = 0;
  let seq = 0;
  let held: { epoch: number; until: Micros; timer: TimerHandle } | null = null;

  const drop = (kind: 'replica.expired' | 'replica.lost', details: Record<string, unknown>): void => {
    if (held === null) return;
    ctx.cancelTimer(held.timer);
    ctx.record(kind, { epoch: held.epoch, ...details });
    held = null;
  };
  const acquire = (): void => {
    for (const [r, t] of sentAt) if (ctx.monotonic() - t >= leaseUs) sentAt.delete(r);
    const id = `${ctx.incarnation}/${++req}`;
    sentAt.set(id, ctx.monotonic());
    ctx.sendDatagram(STORE, { type: 'acquire', req: id } satisfies ToStore);
    ctx.setTimer(renewEveryUs, acquire, 'renew');
  };
  // A write names the epoch the replica believes it holds, as a fencing token; the as-built store ignores it.
  const write = (): void => {
    if (held !== null) ctx.sendDatagram(STORE, { type: 'write', epoch: held.epoch, seq: ++seq } satisfies ToStore);
    ctx.setTimer(config.replica.writeEveryUs, write, 'write');
  };
  acquire();
  write();
  return {
    onDatagram(_from, payload) {
      const m = payload as ToReplica;
      const sent = sentAt.get(m.req);
      if (sent === undefined) return; // answers a request of an earlier incarnation, or one too old to grant anything
      sentAt.delete(m.req);
      // A denial reordered behind a later grant only makes the replica give up early: safe.
      if (m.type === 'denied') return drop('replica.lost', { holder: m.holder });
      const until = sent + leaseUs;
      const now = ctx.monotonic();
      if (until <= now || (held !== null && held.epoch === m.epoch && until <= held.until)) return;
      if (held === null || held.epoch !== m.epoch) ctx.record('replica.acquired', { epoch: m.epoch });
      if (held !== null) ctx.cancelTimer(held.timer);
      held = { epoch: m.epoch, until, timer: ctx.setTimer(until - now, () => drop('replica.expired', {}), 'lease-expiry') };
    },
  };
}
