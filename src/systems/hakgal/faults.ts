import {
  clockDrift, clockJump, crash, deletion, fc, isolate, linkBurst, MAX_FAULT_TIME_US, MINUTE, nodeFailure, partition, pause, SECOND, targetArbitrary,
  type FaultKind, type Micros, type Platform, type Target, type TargetRoles,
} from '../../index.ts';
import { HakgalCluster, REDIS } from './cluster.ts';
import { DAY } from './config.ts';
import type { HakgalView } from './view.ts';

/** A pod's clock steps across its local midnight, landing `overshootUs` past it (spec §3 `date-rollover`). */
export type DateRollover = { kind: 'date-rollover'; at: Micros; target: Target; overshootUs: Micros };
/** Redis answers late (a slow command, a fork for a save, a busy host): past redis-py's socket_timeout. */
export type RedisReadTimeout = { kind: 'redis-read-timeout'; at: Micros; delayUs: Micros; durationUs: Micros };
/** Other data fills Redis's maxmemory (spec §0.2: allkeys-lru, sessions evictable; §3 `redis-memory-pressure`). */
export type RedisMemoryPressure = { kind: 'redis-memory-pressure'; at: Micros; evictKeys: number; durationUs: Micros };

type Kind<F extends { kind: string; at: Micros }> = FaultKind<F, HakgalCluster, HakgalView>;
const duration = { type: 'integer', min: 0, max: MAX_FAULT_TIME_US, doc: 'how long the window lasts (µs)' } as const;

/** The largest step `date-rollover` makes: an NTP step or a timezone fix, not a day's error. */
export const MAX_ROLLOVER_STEP_US: Micros = 60 * MINUTE;

export const dateRollover: Kind<DateRollover> = {
  kind: 'date-rollover',
  summary: 'a pod\'s wall clock steps across its local midnight (when that is at most an hour ahead): its daily salt changes',
  params: {
    target: { type: 'target', of: 'process', doc: 'the pod whose clock steps' },
    overshootUs: { type: 'integer', min: 0, max: 10 * SECOND, doc: 'how far past midnight the clock lands (µs)' },
  },
  arbitrary: (ctx) => fc.record({
    kind: fc.constant('date-rollover' as const),
    target: targetArbitrary(['pod'], ctx.roles),
    overshootUs: fc.integer({ min: 0, max: 2 * SECOND }),
  }),
  end: (f) => f.at,
  apply(f, { instance, view, sim, platform, record }) {
    const pod = platform.resolveProcess(instance, view, f.target);
    const node = pod === null ? null : sim.process(pod).node;
    if (node === null) return record({ pod, stepUs: null });
    const local = node.clock.wall(sim.now) + instance.config.clock.startTimeOfDayUs;
    const stepUs = DAY - (((local % DAY) + DAY) % DAY) + f.overshootUs;
    if (stepUs > MAX_ROLLOVER_STEP_US) return record({ pod, stepUs: null });
    record({ pod, stepUs });
    sim.jumpClock(node.name, stepUs);
  },
};

export const redisReadTimeout: Kind<RedisReadTimeout> = {
  kind: 'redis-read-timeout',
  summary: 'Redis answers every command late for a while (commands still apply): reads and writes time out at the pods',
  params: {
    delayUs: { type: 'integer', min: 0, max: 60 * SECOND, doc: 'added delay before each reply (µs)' },
    durationUs: duration,
  },
  arbitrary: (ctx) => fc.record({
    kind: fc.constant('redis-read-timeout' as const),
    delayUs: fc.constantFrom(6 * SECOND, 30 * SECOND),
    durationUs: fc.integer({ min: 1 * SECOND, max: ctx.maxDurationUs }),
  }),
  end: (f) => f.at + f.durationUs,
  apply(f, { instance, record, until }) {
    record({ delayUs: f.delayUs, durationUs: f.durationUs });
    instance.redis.replyDelayUs = f.delayUs;
    until(REDIS, () => void (instance.redis.replyDelayUs = 0));
  },
  heal({ instance }) {
    instance.redis.replyDelayUs = 0;
  },
};

export const redisMemoryPressure: Kind<RedisMemoryPressure> = {
  kind: 'redis-memory-pressure',
  summary: 'other data fills Redis: allkeys-lru evicts the least recently used sessions; under noeviction writes fail (OOM) for a while',
  params: {
    evictKeys: { type: 'integer', min: 0, max: 1000, doc: 'sessions evicted at once under allkeys-lru' },
    durationUs: duration,
  },
  arbitrary: (ctx) => fc.record({
    kind: fc.constant('redis-memory-pressure' as const),
    evictKeys: fc.integer({ min: 1, max: 5 }),
    durationUs: fc.integer({ min: 1 * SECOND, max: ctx.maxDurationUs }),
  }),
  end: (f) => f.at + f.durationUs,
  apply(f, { instance, record, until }) {
    if (instance.config.fixes.noEviction) {
      record({ oom: true, evicted: [] });
      instance.redis.oom = true;
      return until(REDIS, () => void (instance.redis.oom = false));
    }
    const evicted: string[] = [];
    for (let i = 0; i < f.evictKeys; i++) {
      const key = instance.redis.live?.evictOne();
      if (key !== undefined) evicted.push(key);
    }
    record({ oom: false, evicted });
  },
  heal({ instance }) {
    instance.redis.oom = false;
  },
};

/**
 * The generic kinds that make sense here, then the system's own. The order is part of the seed →
 * schedule mapping. Pods have nodes of their own, so the pod-level network kinds would repeat
 * `isolate` and `partition`.
 */
export const HAKGAL_FAULT_KINDS = [
  crash, deletion, pause, isolate, partition, linkBurst, clockJump, clockDrift, nodeFailure, dateRollover, redisReadTimeout, redisMemoryPressure,
] as const;

/** `pod` is the index-th live pod (modulo the live ones), `redis` the Redis process. */
export const HAKGAL_ROLES: TargetRoles = { process: ['pod', 'redis'], node: [], infrastructure: [], indexed: ['pod'], maxIndex: 3 };

function resolveProcess(cluster: HakgalCluster, view: HakgalView, target: Target): string | null {
  if (target.role === 'redis') return REDIS;
  if (target.role !== 'pod') return null;
  const live = cluster.pods.filter((p) => view.alive.has(p));
  return live.length === 0 ? null : live[(target.index ?? 0) % live.length]!;
}

/**
 * Kubernetes semantics: a crashed container restarts in place after `pod.restartUs`; a deleted
 * pod is replaced after `pod.replaceUs` (the same for Redis: a Deployment without a volume); a
 * failed node takes its pods out of the Service and brings them back with it.
 */
export const HAKGAL_PLATFORM: Platform<HakgalCluster, HakgalView> = {
  sim: (cluster) => cluster.sim,
  resolveProcess,
  resolveNode(cluster, view, target) {
    const process = resolveProcess(cluster, view, target);
    return process === null ? null : cluster.sim.process(process).node.name;
  },
  crashProcess: (cluster, process) => cluster.sim.restart(process, cluster.config.pod.restartUs),
  deleteProcess: (cluster, process) => cluster.sim.restart(process, cluster.config.pod.replaceUs),
  failNode: (cluster, node) => cluster.failNode(node),
  recoverNode: (cluster, node) => cluster.recoverNode(node),
};
