import type { BootFn, RandomStream, TimerHandle } from '../../../sim-cluster/index.ts';
import type { Micros } from '../../../sim-cluster/index.ts';
import type { DialTarget } from '../net/rpc.ts';
import { RedisPubSub } from './client.ts';

/**
 * The two ways StreamSpace as built could reach a Sentinel-managed Redis with its plain
 * `redis.NewClient` (seeds-001-004 §2 "Redis Sentinel": the chart has no Sentinel, its docs point
 * to bitnami/redis with `sentinel.enabled`), both as Kubernetes Services a client dials by name:
 *
 * (a) a **master-tracking Service**: one endpoint, the pod labelled master, relabelled by a
 *     controller when Sentinel switches masters (`masterLabelController`), some time after the
 *     switch. Until then new connections go to the old master: refused if it is dead, accepted if
 *     it is isolated (its writes are lost when it rejoins), READONLY once it is a replica.
 * (b) a **Service over every Redis pod**: each new connection goes to a pod kube-proxy picks at
 *     random, so a write lands on a replica as often as there are replicas (READONLY, which go-redis
 *     retries on a new connection, client.ts) and a PUBLISH on a replica reaches only that
 *     replica's subscribers (replicas do not pass PUBLISH up to the master).
 */

/** A Service's ready endpoints (pod process names) as kube-proxy has programmed them. */
export class ServiceEndpoints {
  private list: string[];

  constructor(
    readonly name: string,
    endpoints: readonly string[],
  ) {
    this.list = [...endpoints];
  }

  get endpoints(): readonly string[] {
    return this.list;
  }

  set(endpoints: readonly string[]): void {
    this.list = [...endpoints];
  }
}

/**
 * The process name of no process: a Service without endpoints, whose connections kube-proxy
 * rejects (an ICMP reject rule), so the dial is refused at once (net/rpc.ts `DialTarget`).
 */
export function noEndpoints(service: ServiceEndpoints): string {
  return `(service ${service.name}: no endpoints)`;
}

/**
 * kube-proxy in iptables mode: each new connection to the Service is DNATed to one endpoint, rule
 * i of n matching with probability 1/(n-i) (kubernetes pkg/proxy/iptables/proxier.go,
 * writeServiceToEndpointRules: `--mode random --probability proxier.probability(n-i)`), which is
 * a uniform choice; drawn here in one step from `rng`. Connections already open stay where they
 * are. One endpoint draws nothing (no statistic rule).
 */
export function serviceTarget(service: ServiceEndpoints, rng: RandomStream): DialTarget {
  return () => {
    const endpoints = service.endpoints;
    if (endpoints.length === 0) return noEndpoints(service);
    if (endpoints.length === 1) return endpoints[0]!;
    return rng.pick(endpoints);
  };
}

export interface MasterLabelControllerOptions {
  /** The master-tracking Service whose single endpoint the controller moves. */
  service: ServiceEndpoints;
  /** The Sentinels it subscribes to (every one of them: any may announce the switch first). */
  sentinels: readonly string[];
  /** The monitored master's name. Default `mymaster`. */
  masterName?: string;
  /**
   * From a `+switch-master` to the Service's endpoint change: the relabelling (a
   * client-reconfig-script or sidecar running kubectl, or an operator's reconcile) plus the
   * endpoints controller and kube-proxy's sync. A parameter: the seeds name no figure.
   */
  lagUs: Micros;
}

/**
 * Variant (a)'s relabelling, as one small process: it stands for the label-updating sidecar or
 * operator such a setup needs (a Service selects pods by label; Sentinel changes no label). It
 * subscribes to `+switch-master` on every Sentinel and, `lagUs` after a switch to a new master,
 * makes that master the Service's only endpoint. A later switch supersedes one still pending.
 * It acts on switch messages only: one it misses (down, partitioned) is never applied, as a
 * reconfiguration script that did not run would not be.
 *
 * Trace: `service.endpoint-switched` {service, from, to}.
 */
export function masterLabelController(options: MasterLabelControllerOptions): BootFn {
  const masterName = options.masterName ?? 'mymaster';
  const { service, lagUs } = options;
  if (!(lagUs >= 0)) throw new RangeError(`master-tracking Service lag must be ≥ 0, got ${lagUs} µs`);
  return (ctx) => {
    let pending: { to: string; timer: TimerHandle } | null = null;
    const onSwitch = (payload: string): void => {
      const parts = payload.split(' ');
      if (parts[0] !== masterName || parts.length < 5) return;
      const to = parts[3]!;
      if (pending !== null) {
        if (pending.to === to) return;
        ctx.cancelTimer(pending.timer);
        pending = null;
      }
      const current = service.endpoints;
      if (current.length === 1 && current[0] === to) return;
      pending = {
        to,
        timer: ctx.setTimer(lagUs, () => {
          pending = null;
          const from = service.endpoints.join(',');
          service.set([to]);
          ctx.record('service.endpoint-switched', { service: service.name, from, to });
        }, 'service.relabel'),
      };
    };
    for (const sentinel of options.sentinels) {
      new RedisPubSub(ctx, '+switch-master', { onConfirm: () => {}, onMessage: onSwitch }, { target: sentinel });
    }
    return {};
  };
}
