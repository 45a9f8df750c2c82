import type { BootFn } from '../../../sim-cluster/index.ts';
import { redisServer, RedisStorage, type RedisReplicationOptions, type RedisServerOptions } from '../redis/server.ts';

/** One Redis process of a replicated deployment: what a cluster adds as a process, and its storage. */
export interface RedisNode {
  readonly name: string;
  /** Its own storage: what outlives its restarts (AOF, RDB, rewritten `replicaof`), and its live data for checkers. */
  readonly storage: RedisStorage;
  readonly boot: BootFn;
}

/**
 * The Redis processes of one master/replica deployment (the first name the master, the others
 * starting as its replicas), each with its own storage, as the bitnami chart's or seed 004's
 * `redis-node-N` pods. `options` apply to every node (with `replication` on, default `{}`);
 * `perNode` adds a node's own replication settings (its `replicaPriority`, say).
 */
export function redisReplicaSet(
  names: readonly string[],
  options: RedisServerOptions = {},
  perNode: (name: string, index: number) => RedisReplicationOptions = () => ({}),
): RedisNode[] {
  if (names.length === 0 || new Set(names).size !== names.length) throw new RangeError(`redisReplicaSet needs distinct names, got ${JSON.stringify(names)}`);
  const master = names[0]!;
  return names.map((name, index) => {
    const storage = new RedisStorage();
    const replication: RedisReplicationOptions = { ...options.replication, ...perNode(name, index), replicaOf: index === 0 ? undefined : master };
    return { name, storage, boot: redisServer(storage, { ...options, replication }) };
  });
}
