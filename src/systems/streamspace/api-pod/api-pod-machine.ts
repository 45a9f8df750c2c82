import { setup } from 'xstate';
import type { ProcessContext } from '../../../sim-cluster/index.ts';
import type { ApiPodConfig, FixesConfig } from '../config.ts';

/**
 * The statechart of one API-pod incarnation's lifecycle (spec streamspace-v2-behavior §4, §6;
 * seeds-001-004 §0 item 2; api/cmd/main.go): the definition api-pod.ts runs through the kernel's
 * compiled stepper (sim-cluster/statechart), drawn in docs/machines.md. Start-up goes in main.go's
 * order: the process starts (`booting`: DB connect and migrations), the session store's cache PING
 * and ClearAllSessions (`clearingSessions`), the hub's Redis PING (`pinging`), the hub with its
 * listener and the dispatcher's one pending scan (`scanning`), then the HTTP server (`serving`:
 * ready). SIGTERM at any point ends it (`shutdown`).
 *
 * Single-pod or Redis mode is decided once, when the hub is made, and kept for the process's whole
 * life (§4): it is the `redis` param of `startHub` on the transition that leaves the start-up's
 * Redis step, not a state, since nothing afterwards moves a pod from one to the other.
 *
 * The context is the pod itself (`ApiPodComponent`, implemented by api-pod.ts's ApiPodLifecycle): it
 * keeps the clients, the session store, the hub and the dispatcher; the statechart decides what
 * start-up runs next. The component answers the work an action starts with an event: the start-up
 * delay (`STARTED`), the session store's start (`CACHE_READY`), the PING (`PING_OK`, `PING_FAILED`),
 * the wait before another PING (`RETRY`), the pending scan (`SCANNED`); `SIGTERM` is the kubelet's.
 *
 * No `after` delay: the start-up delay and the wait-for-redis retry are timers the component arms,
 * which SIGTERM's exit ends with the incarnation. The pod records its `api.*` events, and no
 * `actor.state`.
 */

/** The pod's events: the outcome of the work its actions started, and SIGTERM. */
export type ApiPodEvent =
  | { type: 'STARTED' }
  | { type: 'CACHE_READY' }
  | { type: 'PING_OK' }
  | { type: 'PING_FAILED'; message: string }
  | { type: 'RETRY' }
  | { type: 'SCANNED' }
  | { type: 'SIGTERM' };

/** The pod as its statechart sees it. */
export interface ApiPodComponent {
  readonly ctx: ProcessContext;
  readonly config: ApiPodConfig;
  readonly fixes: FixesConfig;
  /** The start-up delay before main.go reaches the cache (DB connect and migrations): answers `STARTED`. */
  armStartup(): void;
  /** cache.NewCache's PING, then ClearAllSessions (session-auth.ts `start`): answers `CACHE_READY`. */
  startCache(): void;
  /** The hub's Redis PING with its 5 s deadline: answers `PING_OK` or `PING_FAILED`. */
  pingRedis(): void;
  /** Design fix `wait-for-redis`: the wait before the next PING: answers `RETRY`. */
  armRedisRetry(): void;
  /** NewAgentHub (with the listener in Redis mode) and the dispatcher (main.go:197-217). */
  startHub(redisMode: boolean): void;
  /** DispatchPendingCommands, one scan: answers `SCANNED`. */
  dispatchPending(): void;
  /** The HTTP server listens: the pod is ready. */
  listen(): void;
  /** Design fix `redeliver-unfinished`: the periodic reconciler. */
  startReconciler(): void;
  /** SIGTERM: not ready, then the process exits. */
  shutdown(): void;
}

/** Leaving the start-up's Redis step: the hub in one mode for life, then the pending scan (or, with the fix, its reconciler). */
const startHub = (redis: boolean) => [
  { guard: 'reconcilerReplacesScan', target: 'serving', actions: { type: 'startHub', params: { redis } } },
  { target: 'scanning', actions: { type: 'startHub', params: { redis } } },
] as const;

export const apiPodMachine = setup({
  types: {
    context: {} as ApiPodComponent,
    input: {} as ApiPodComponent,
    events: {} as ApiPodEvent,
  },
  guards: {
    /** The session store runs (cache enabled in the config): NewCache and ClearAllSessions come first (main.go:91-113, 326-336). */
    cacheEnabled: ({ context }) => context.config.cacheEnabled,
    /** AGENTHUB_REDIS_ENABLED: the hub's Redis is PINGed; without it the hub is single-pod at once (main.go:167-195, §4). */
    hubRedisEnabled: ({ context }) => context.config.redisEnabled,
    /** Design fix `wait-for-redis`: a failed PING is retried, the pod staying unready, never single-pod. */
    waitForRedis: ({ context }) => context.fixes.waitForRedis,
    /**
     * Design fix `redeliver-unfinished`: the reconciler, which takes only rows stale for longer than
     * the longest command, replaces the one-shot scan, which also re-dispatches rows another pod is
     * dispatching for the first time right now.
     */
    reconcilerReplacesScan: ({ context }) => context.fixes.redeliverUnfinished,
  },
  actions: {
    /** The container starts, connects to the DB and migrates (main.go:60-77): config.startupUs. */
    armStartup: ({ context }) => context.armStartup(),
    /** NewCache's 5 s PING, then ClearAllSessions: every user of every pod logged out (seeds §0 item 2). */
    startCache: ({ context }) => context.startCache(),
    /** The hub's Redis: a 5 s PING (§4, main.go:170-195). */
    pingRedis: ({ context }) => context.pingRedis(),
    /** Design fix `wait-for-redis`: the failed PING is logged and the pod stays unready. */
    recordRedisWait: ({ context, event }) => {
      if (event.type === 'PING_FAILED') context.ctx.record('api.redis-wait', { error: event.message });
    },
    /** Design fix `wait-for-redis`: the next PING after the PING's own timeout. */
    armRedisRetry: ({ context }) => context.armRedisRetry(),
    /** The hub in Redis or single-pod mode for the process's whole life (§4: a failed PING is never retried). */
    startHub: ({ context }, params: { redis: boolean }) => context.startHub(params.redis),
    /** DispatchPendingCommands (main.go:209-217, §5.3): every `pending` row queued once. */
    dispatchPending: ({ context }) => context.dispatchPending(),
    /** The HTTP server listens (main.go:445-484): the pod becomes an endpoint of the API Service. */
    listen: ({ context }) => context.listen(),
    /** Design fix `redeliver-unfinished`: every replica's reconciler starts once it serves; as built there is none. */
    startReconciler: ({ context }) => {
      if (context.fixes.redeliverUnfinished) context.startReconciler();
    },
    /** SIGTERM (§6 shutdown): srv.Shutdown, then the process exits; the hub, the dispatcher and the Redis keys are left as they are. */
    shutdown: ({ context }) => context.shutdown(),
  },
}).createMachine({
  id: 'api',
  description: "an API pod's lifecycle (api/cmd/main.go, §6): start-up in main.go's order, single-pod or Redis mode for life, serving until SIGTERM",
  context: ({ input }) => input,
  initial: 'booting',
  on: { SIGTERM: '.shutdown' },
  states: {
    booting: {
      description: 'the process starting: DB connect and migrations (§6 step 1)',
      entry: 'armStartup',
      on: {
        STARTED: [
          { guard: 'cacheEnabled', target: 'clearingSessions' },
          { guard: 'hubRedisEnabled', target: 'pinging' },
          ...startHub(false),
        ],
      },
    },
    clearingSessions: {
      description: "the session store: NewCache's 5 s PING (a failure disables the cache for life), then ClearAllSessions (§6 step 2, seeds §0 item 2)",
      entry: 'startCache',
      on: {
        CACHE_READY: [
          { guard: 'hubRedisEnabled', target: 'pinging' },
          ...startHub(false),
        ],
      },
    },
    pinging: {
      description: "the hub's Redis: a 5 s PING; a failure means single-pod mode for the process's whole life (§4, §6 step 3)",
      entry: 'pingRedis',
      on: {
        PING_OK: [...startHub(true)],
        PING_FAILED: [
          { guard: 'waitForRedis', target: 'waitingForRedis', actions: 'recordRedisWait' },
          ...startHub(false),
        ],
      },
    },
    waitingForRedis: {
      description: 'design fix wait-for-redis: unready, the next PING after the PING timeout',
      entry: 'armRedisRetry',
      on: { RETRY: 'pinging' },
    },
    scanning: {
      description: 'the hub runs; DispatchPendingCommands scans the pending rows once before the HTTP server starts (§6 steps 4-5)',
      entry: 'dispatchPending',
      on: { SCANNED: 'serving' },
    },
    serving: {
      description: 'the HTTP server listens: ready, accepting connections (§6 step 7)',
      entry: ['listen', 'startReconciler'],
    },
    shutdown: {
      description: 'SIGTERM: not ready any more; srv.Shutdown lets the requests being handled finish, then the process exits and the OS closes every socket (§6 shutdown)',
      type: 'final',
      entry: 'shutdown',
    },
  },
});
