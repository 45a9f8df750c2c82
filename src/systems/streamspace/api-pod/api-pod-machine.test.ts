import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { ProcessContext } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart, type StatechartHost } from '../../../sim-cluster/statechart/index.ts';
import { checkDifferential, stepsArbitrary } from '../../../sim-cluster/statechart/testing/differential.ts';
import type { ApiPodConfig, FixesConfig } from '../config.ts';
import { apiPodMachine, type ApiPodComponent, type ApiPodEvent } from './api-pod-machine.ts';

interface Settings {
  cacheEnabled?: boolean;
  redisEnabled?: boolean;
  waitForRedis?: boolean;
  redeliverUnfinished?: boolean;
}

/** A pod whose start-up steps are a log: what the statechart starts, and in which order. */
class FakePod implements ApiPodComponent {
  readonly log: string[] = [];
  readonly config: ApiPodConfig;
  readonly fixes: FixesConfig;
  chart!: Statechart<FakePod, ApiPodEvent, number>;
  readonly ctx = { record: (kind: string, d?: Record<string, unknown>) => void this.log.push(d === undefined ? kind : `${kind} ${JSON.stringify(d)}`) } as unknown as ProcessContext;
  constructor(s: Settings) {
    this.config = { cacheEnabled: s.cacheEnabled ?? true, redisEnabled: s.redisEnabled ?? true } as ApiPodConfig;
    this.fixes = { waitForRedis: s.waitForRedis ?? false, redeliverUnfinished: s.redeliverUnfinished ?? false } as FixesConfig;
  }
  armStartup(): void {
    this.log.push('startup timer');
  }
  startCache(): void {
    this.log.push('cache ping, ClearAllSessions');
  }
  pingRedis(): void {
    this.log.push('hub ping');
  }
  armRedisRetry(): void {
    this.log.push('retry timer');
  }
  startHub(redisMode: boolean): void {
    this.log.push(`hub ${redisMode ? 'redis' : 'single-pod'}`);
  }
  dispatchPending(): void {
    this.log.push('pending scan');
  }
  listen(): void {
    this.log.push('listen');
  }
  startReconciler(): void {
    this.log.push('reconciler');
  }
  shutdown(): void {
    this.log.push('exit');
  }
}

function startFake(settings: Settings = {}): FakePod {
  const pod = new FakePod(settings);
  const host: StatechartHost<number> = {
    setTimer: () => {
      throw new Error('the API pod statechart arms no timer of its own');
    },
    cancelTimer: () => undefined,
    record: () => undefined,
    fail: (error) => {
      throw error;
    },
  };
  pod.chart = new Statechart(compileMachine(apiPodMachine), pod, host);
  pod.chart.start();
  return pod;
}

const send = (pod: FakePod, ...types: Array<ApiPodEvent['type']>): void => {
  for (const type of types) pod.chart.send(type === 'PING_FAILED' ? { type, message: 'PING deadline exceeded' } : { type } as ApiPodEvent);
};

describe('the API pod statechart', () => {
  test('the compiled stepper agrees with xstate on random event sequences (start-up paths, retries, SIGTERM)', () => {
    fc.assert(fc.property(stepsArbitrary(apiPodMachine, 40), (steps) => checkDifferential(apiPodMachine, steps)), { numRuns: 400 });
  });

  test('it compiles to the states of the module comment, with no timer', () => {
    const compiled = compileMachine(apiPodMachine);
    expect(compiled.states.map((s) => s.id)).toEqual([
      'api.booting', 'api.clearingSessions', 'api.pinging', 'api.waitingForRedis', 'api.scanning', 'api.serving', 'api.shutdown',
    ]);
    expect(compiled.timers).toEqual([]);
    expect(compiled.events).toEqual(['SIGTERM', 'STARTED', 'CACHE_READY', 'PING_OK', 'PING_FAILED', 'RETRY', 'SCANNED']);
  });

  test("as built, start-up goes in main.go's order: cache and ClearAllSessions, the hub's PING, the hub, one pending scan, then ready", () => {
    const pod = startFake();
    send(pod, 'STARTED', 'CACHE_READY', 'PING_OK');
    expect(pod.chart.state.id).toBe('api.scanning');
    send(pod, 'SCANNED');
    expect(pod.chart.state.id).toBe('api.serving');
    expect(pod.log).toEqual(['startup timer', 'cache ping, ClearAllSessions', 'hub ping', 'hub redis', 'pending scan', 'listen']);
  });

  test('§4: a failed PING means single-pod mode for life: nothing pings again', () => {
    const pod = startFake({ cacheEnabled: false });
    send(pod, 'STARTED', 'PING_FAILED', 'RETRY', 'PING_OK', 'SCANNED');
    expect(pod.chart.state.id).toBe('api.serving');
    expect(pod.log).toEqual(['startup timer', 'hub ping', 'hub single-pod', 'pending scan', 'listen']);
  });

  test('without AGENTHUB_REDIS_ENABLED the hub is single-pod at once, after the session store', () => {
    const pod = startFake({ redisEnabled: false });
    send(pod, 'STARTED', 'CACHE_READY', 'SCANNED');
    expect(pod.log).toEqual(['startup timer', 'cache ping, ClearAllSessions', 'hub single-pod', 'pending scan', 'listen']);
  });

  test('fix wait-for-redis: a failed PING is logged and retried, the pod staying unready, until Redis answers', () => {
    const pod = startFake({ cacheEnabled: false, waitForRedis: true });
    send(pod, 'STARTED', 'PING_FAILED');
    expect(pod.chart.state.id).toBe('api.waitingForRedis');
    send(pod, 'RETRY', 'PING_FAILED', 'RETRY', 'PING_OK');
    expect(pod.log).toEqual([
      'startup timer', 'hub ping',
      'api.redis-wait {"error":"PING deadline exceeded"}', 'retry timer', 'hub ping',
      'api.redis-wait {"error":"PING deadline exceeded"}', 'retry timer', 'hub ping',
      'hub redis', 'pending scan',
    ]);
  });

  test('fix redeliver-unfinished: no one-shot scan; the reconciler starts once the pod listens', () => {
    const pod = startFake({ cacheEnabled: false, redeliverUnfinished: true });
    send(pod, 'STARTED', 'PING_OK');
    expect(pod.chart.state.id).toBe('api.serving');
    expect(pod.log).toEqual(['startup timer', 'hub ping', 'hub redis', 'listen', 'reconciler']);
  });

  test('§6: SIGTERM at any point ends the incarnation once; what start-up was waiting for finds it gone', () => {
    const during = startFake();
    send(during, 'STARTED', 'SIGTERM', 'CACHE_READY', 'PING_OK', 'SIGTERM');
    expect(during.chart.status).toBe('done');
    expect(during.log).toEqual(['startup timer', 'cache ping, ClearAllSessions', 'exit']);
    const serving = startFake({ cacheEnabled: false, redisEnabled: false });
    send(serving, 'STARTED', 'SCANNED', 'SIGTERM', 'SIGTERM');
    expect(serving.log).toEqual(['startup timer', 'hub single-pod', 'pending scan', 'listen', 'exit']);
  });
});
