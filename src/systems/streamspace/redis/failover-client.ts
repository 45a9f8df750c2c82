import type { ProcessContext } from '../../../sim-cluster/index.ts';
import type { Micros } from '../../../sim-cluster/index.ts';
import type { RpcResult } from '../net/rpc.ts';
import { RedisClient, RedisPubSub, type MasterResolver } from './client.ts';
import type { SentinelCommand } from './sentinel.ts';

/**
 * The design fix `sentinel-aware-client`: StreamSpace's Redis clients built as go-redis v9
 * `NewFailoverClient` instead of `NewClient` (seeds-001-004 §2 "Redis Sentinel"). This is the
 * `sentinelFailover` half (go-redis v9.16.0, the version StreamSpace pins, sentinel.go:441-536, 750-1104);
 * `RedisClient` and `RedisPubSub` use it through their `target` (client.ts `MasterResolver`).
 *
 * As go-redis does it:
 * - **Master lookup on every dial** (`masterReplicaDialer` → `MasterAddr`, sentinel.go:505-536,
 *   809-890): ask the Sentinel in use; if that fails, ask it once more, then drop it and ask every
 *   configured Sentinel at once; the first to answer becomes the one in use (moved to the front
 *   of the list) and the client subscribes to its `+switch-master` channel (`setSentinel`,
 *   :1044-1053). No Sentinel answering fails the dial ("all sentinels specified in configuration
 *   are unreachable"), and the next dial asks again.
 * - **Following `+switch-master`** (`listen`, :1081-1104): a message for this master name switches
 *   to `<new-ip>` (the 4th field) at once.
 * - **Closing connections to anything but the new master** (`trySwitchMaster` → `onFailover` →
 *   `connPool.Filter`, :493-499, :1020-1042), on a switch learnt either way.
 * - **No periodic re-check** (go-redis#1446): between dials and switch messages nothing asks the
 *   Sentinels again, so a connection that stays up stays where it is, and a client subscribed to a
 *   Sentinel that missed the switch (partitioned, restarted) keeps its old master.
 *
 * Simplified: a master lookup that finds the whole-list query already running waits for its answer
 * instead of starting another (go-redis serialises them on a mutex, and the second then asks the
 * Sentinel the first one chose); `discoverSentinels` (SENTINEL SENTINELS) adds nothing, the
 * configured list already names every Sentinel; a `+switch-master` subscription is on one
 * channel (go-redis also subscribes to `+replica-reconf-done`, whose messages only call a hook the
 * plain client leaves unset).
 */

export interface SentinelFailoverOptions {
  /** FailoverOptions.MasterName. Default `mymaster`. */
  masterName?: string;
  /** FailoverOptions.SentinelAddrs: the Sentinels' process names. */
  sentinels: readonly string[];
  /**
   * The Sentinel clients' options, copied from FailoverOptions (sentinelOptions, sentinel.go:200-242):
   * DialTimeout 5 s, ReadTimeout 3 s, MaxRetries 3 by default, as for a plain client.
   */
  dialTimeoutUs?: Micros;
  readTimeoutUs?: Micros;
  maxRetries?: number;
}

interface SentinelInUse {
  addr: string;
  client: RedisClient;
  pubsub: RedisPubSub;
}

type Lookup = (r: RpcResult<string>) => void;

export class SentinelFailover implements MasterResolver {
  private readonly masterName: string;
  private readonly addrs: string[];
  private sentinel: SentinelInUse | null = null;
  /** `c.masterAddr`: the master the last lookup or switch message named ('' before any). */
  private current = '';
  private readonly listeners: Array<(master: string) => void> = [];
  /** Lookups waiting for a whole-list query in progress, or null when none runs. */
  private askingAll: Lookup[] | null = null;

  constructor(
    private readonly ctx: ProcessContext,
    private readonly options: SentinelFailoverOptions,
  ) {
    if (options.sentinels.length === 0) throw new RangeError('a Sentinel-aware client needs at least one Sentinel');
    this.masterName = options.masterName ?? 'mymaster';
    // NewFailoverClient shuffles its copy of the list (rand.Shuffle: Fisher-Yates from the end).
    this.addrs = [...options.sentinels];
    const rng = ctx.random('sentinel-failover');
    for (let i = this.addrs.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [this.addrs[i], this.addrs[j]] = [this.addrs[j]!, this.addrs[i]!];
    }
  }

  /** The master last learnt, or null before the first lookup. */
  get master(): string | null {
    return this.current === '' ? null : this.current;
  }

  /** The Sentinel in use (answered last and is subscribed to), or null. */
  get sentinelInUse(): string | null {
    return this.sentinel?.addr ?? null;
  }

  onFailover(listener: (master: string) => void): void {
    this.listeners.push(listener);
  }

  /** What the dialer does before each dial: MasterAddr, then trySwitchMaster with its answer. */
  masterAddr(cb: Lookup): void {
    this.lookup((r) => {
      if (r.ok) this.trySwitchMaster(r.value);
      cb(r);
    });
  }

  close(): void {
    this.closeSentinel();
  }

  /** sentinelFailover.MasterAddr (sentinel.go:809-890). */
  private lookup(cb: Lookup): void {
    const first = this.sentinel;
    if (first === null) return this.askAll(cb);
    this.getMasterAddr(first.client, (r) => {
      if (r.ok) return cb(r);
      // Under the lock: the Sentinel in use (maybe another by now) is asked again, and dropped if it fails too.
      const again = this.sentinel;
      if (again === null) return this.askAll(cb);
      this.getMasterAddr(again.client, (r2) => {
        if (r2.ok) return cb(r2);
        if (this.sentinel === again) this.closeSentinel();
        this.askAll(cb);
      });
    });
  }

  /** SENTINEL GET-MASTER-ADDR-BY-NAME; an unknown name is a nil reply, which go-redis returns as an error. */
  private getMasterAddr(client: RedisClient, cb: Lookup): void {
    client.sentinel<string | null>({ cmd: 'SENTINEL_GET_MASTER_ADDR', name: this.masterName } satisfies SentinelCommand, (r) => {
      if (!r.ok) return cb(r);
      if (r.value === null) return cb({ ok: false, error: 'server', message: 'redis: nil' });
      cb({ ok: true, value: r.value });
    });
  }

  /** Every Sentinel asked at once; the first answer wins and the rest are cancelled (sentinel.go:855-890). */
  private askAll(cb: Lookup): void {
    if (this.askingAll !== null) {
      this.askingAll.push(cb);
      return;
    }
    const waiting: Lookup[] = [cb];
    this.askingAll = waiting;
    const clients = this.addrs.map((addr) => this.sentinelClient(addr));
    let done = false;
    let failures = 0;
    const finish = (r: RpcResult<string>): void => {
      done = true;
      this.askingAll = null;
      for (const waiter of waiting) waiter(r);
    };
    clients.forEach((client, i) => {
      const addr = this.addrs[i]!;
      this.getMasterAddr(client, (r) => {
        if (done) return;
        if (!r.ok) {
          client.close();
          failures++;
          if (failures === clients.length) {
            finish({ ok: false, error: 'connection', message: 'redis: all sentinels specified in configuration are unreachable' });
          }
          return;
        }
        // Push the working Sentinel to the front; cancel the others.
        const index = this.addrs.indexOf(addr);
        [this.addrs[0], this.addrs[index]] = [this.addrs[index]!, this.addrs[0]!];
        clients.forEach((other) => {
          if (other !== client) other.close();
        });
        this.setSentinel(addr, client);
        finish(r);
      });
    });
  }

  private sentinelClient(addr: string): RedisClient {
    return new RedisClient(this.ctx, {
      target: addr,
      dialTimeoutUs: this.options.dialTimeoutUs,
      readTimeoutUs: this.options.readTimeoutUs,
      maxRetries: this.options.maxRetries,
    });
  }

  /** setSentinel (sentinel.go:1044-1053): subscribe to the Sentinel's `+switch-master`. */
  private setSentinel(addr: string, client: RedisClient): void {
    this.closeSentinel();
    const pubsub = new RedisPubSub(this.ctx, '+switch-master', {
      onConfirm: () => {},
      onMessage: (payload) => this.switchMessage(payload),
    }, { target: addr, dialTimeoutUs: this.options.dialTimeoutUs });
    this.sentinel = { addr, client, pubsub };
  }

  /** listen (sentinel.go:1081-1104): `<name> <old-ip> <old-port> <new-ip> <new-port>`. */
  private switchMessage(payload: string): void {
    const parts = payload.split(' ');
    if (parts[0] !== this.masterName || parts.length < 5) return;
    this.trySwitchMaster(parts[3]!);
  }

  /** trySwitchMaster (sentinel.go:1020-1042): a new address runs every onFailover hook. */
  private trySwitchMaster(addr: string): void {
    if (addr === this.current) return;
    this.ctx.record('failover-client.switch', { name: this.masterName, from: this.current === '' ? null : this.current, to: addr });
    this.current = addr;
    for (const listener of this.listeners) listener(addr);
  }

  /** closeSentinel (sentinel.go:773-784). */
  private closeSentinel(): void {
    const s = this.sentinel;
    if (s === null) return;
    this.sentinel = null;
    s.pubsub.close();
    s.client.close();
  }
}
