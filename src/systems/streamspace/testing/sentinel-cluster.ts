import { SECOND, Simulation, type Micros, type ProcessContext, type TraceEvent } from '../../../sim-cluster/index.ts';
import { redisSentinel, SentinelStorage, type SentinelOptions } from '../redis/sentinel.ts';
import { redisServer, RedisStorage, type RedisServerOptions } from '../redis/server.ts';

/**
 * A Sentinel-managed Redis for tests: `redis-0` the master, `redis-1`... its replicas, Sentinels
 * `sentinel-0`... and a client process `app`, each process on a node of its own (as pods spread
 * over nodes), so node partitions separate single processes.
 */
export interface SentinelClusterOptions {
  seed?: number;
  /** One entry per replica: its `replica-priority` (default 100). Default two replicas. */
  replicas?: ReadonlyArray<{ priority?: number }>;
  /** Number of Sentinels. Default 3. */
  sentinels?: number;
  sentinel?: Omit<SentinelOptions, 'initialMaster' | 'peers'>;
  /** Extra server options for every Redis node (replication options are set per node). */
  server?: Omit<RedisServerOptions, 'replication'>;
}

export interface SentinelCluster {
  sim: Simulation;
  redis: string[];
  sentinels: string[];
  storages: Map<string, RedisStorage>;
  /** Each Sentinel's config file. */
  sentinelStorages: Map<string, SentinelStorage>;
  /** The `app` process's context (for clients the test drives). */
  app(): ProcessContext;
  events(kind: string, process?: string): TraceEvent[];
  /** Time of the first event of `kind` at or after `from`, or undefined. */
  first(kind: string, from?: Micros, where?: (e: TraceEvent) => boolean): Micros | undefined;
}

export function sentinelCluster(options: SentinelClusterOptions = {}): SentinelCluster {
  const sim = new Simulation({ seed: options.seed ?? 1, trace: { keepEvents: true } });
  const replicas = options.replicas ?? [{}, {}];
  const redis = ['redis-0', ...replicas.map((_, i) => `redis-${i + 1}`)];
  const sentinels = Array.from({ length: options.sentinels ?? 3 }, (_, i) => `sentinel-${i}`);
  const storages = new Map<string, RedisStorage>();
  redis.forEach((name, i) => {
    sim.addNode(`node-${name}`);
    const storage = new RedisStorage();
    storages.set(name, storage);
    const replication = i === 0 ? {} : { replicaOf: 'redis-0', replicaPriority: replicas[i - 1]!.priority ?? 100 };
    sim.addProcess({ name, node: `node-${name}`, boot: redisServer(storage, { ...options.server, replication }) });
  });
  const sentinelStorages = new Map<string, SentinelStorage>();
  for (const name of sentinels) {
    sim.addNode(`node-${name}`);
    const storage = new SentinelStorage();
    sentinelStorages.set(name, storage);
    sim.addProcess({ name, node: `node-${name}`, boot: redisSentinel({ ...options.sentinel, initialMaster: 'redis-0', peers: sentinels }, storage) });
  }
  sim.addNode('node-app');
  let ctx!: ProcessContext;
  sim.addProcess({ name: 'app', node: 'node-app', boot: (c) => ((ctx = c), {}) });
  sim.run({ until: 0 });
  const events = (kind: string, process?: string) =>
    sim.trace.events.filter((e) => e.k === kind && (process === undefined || e.p === process));
  return {
    sim,
    redis,
    sentinels,
    storages,
    sentinelStorages,
    app: () => ctx,
    events,
    first: (kind, from = 0, where = () => true) => events(kind).find((e) => e.t >= from && where(e))?.t,
  };
}

/** Seconds, for readable failure messages. */
export function secondsOf(us: Micros | undefined): number | undefined {
  return us === undefined ? undefined : us / SECOND;
}
