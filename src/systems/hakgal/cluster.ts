import { KubeletProbes, SECOND, ServiceEndpoints, Simulation, type ContainerProbes, type SimulationOptions } from '../../index.ts';
import type { HakgalConfig } from './config.ts';
import { hakgalPod, type ManagerHandle } from './pod.ts';
import { sessionRedis, SessionRedisStorage } from './redis.ts';
import { users } from './users.ts';

export const REDIS = 'redis';
const USERS = 'users';
const CONTROL_PLANE = 'control-plane';

/**
 * The pods' probes [I: the seed shows no chart]: `httpGet /health` (answered while the process
 * runs), Kubernetes' defaults otherwise: liveness after 10 s every 10 s, readiness after 5 s every
 * 5 s, 1 s timeout, 3 failures. A paused pod leaves the Service after 3 readiness failures and is
 * restarted after 3 liveness failures, losing its cache and, as built, its secret.
 */
const POD_PROBES: ContainerProbes = {
  liveness: { check: 'answers', initialDelayUs: 10 * SECOND, periodUs: 10 * SECOND, timeoutUs: 1 * SECOND, failureThreshold: 3, successThreshold: 1 },
  readiness: { check: 'answers', initialDelayUs: 5 * SECOND, periodUs: 5 * SECOND, timeoutUs: 1 * SECOND, failureThreshold: 3, successThreshold: 1 },
};

/**
 * The deployment: N HAK_GAL pods on nodes of their own behind a Service, one Redis, the users'
 * load generator, and a control-plane node the kubelets report readiness to. Kubernetes plays its
 * part here: a crashed container restarts in place, a deleted pod is replaced (under the same
 * name: what matters is that its memory and, as built, its secret are new), the Service routes
 * new connections to ready pods only.
 */
export class HakgalCluster {
  readonly sim: Simulation;
  readonly pods: string[];
  readonly service = new ServiceEndpoints();
  readonly redis = new SessionRedisStorage();
  readonly kubelet: KubeletProbes;
  /** Each running pod's manager, for a scenario's scripted `clear_cache()`. */
  readonly managers = new Map<string, ManagerHandle>();

  constructor(readonly config: HakgalConfig, seed: number, simulation: Omit<SimulationOptions, 'seed'>) {
    // The components trace what the checkers need (reads, writes, serves, acks); per-message
    // network events would only lengthen the trace.
    this.sim = new Simulation({ seed, traceMessages: false, ...simulation });
    const clocks = this.sim.stream('clocks');
    const clock = () => ({ offsetUs: clocks.int(-config.clock.ntpOffsetUs, config.clock.ntpOffsetUs) });
    this.pods = Array.from({ length: config.topology.pods }, (_, i) => `hakgal-${i}`);
    this.sim.addNode(CONTROL_PLANE, clock());
    this.sim.addNode('redis-node', clock());
    this.sim.addProcess({ name: REDIS, node: 'redis-node', boot: sessionRedis(this.redis, { maxKeys: config.redis.maxKeys, noEviction: config.fixes.noEviction, aof: config.fixes.redisAof }) });
    this.pods.forEach((pod, i) => {
      this.sim.addNode(`node-${i}`, clock());
      this.sim.addProcess({ name: pod, node: `node-${i}`, boot: (ctx) => hakgalPod(ctx, config, (h) => this.managers.set(pod, h)) });
    });
    this.sim.addNode('users-node', clock());
    this.sim.addProcess({ name: USERS, node: 'users-node', boot: (ctx) => users(ctx, config, this.service) });
    this.kubelet = new KubeletProbes({
      sim: this.sim,
      controlPlaneNode: CONTROL_PLANE,
      probesOf: (pod) => (this.pods.includes(pod) ? POD_PROBES : null),
      setProbeReady: (pod, ready) => this.service.setProbeReady(pod, ready),
      killContainer: (pod) => this.sim.restart(pod, config.pod.restartUs),
    });
    // The endpoints controller: a pod serves from its start until it dies (its node failing with it).
    this.sim.trace.subscribe((e) => {
      if (!this.pods.includes(e.p)) return;
      if (e.k === 'proc.start') this.service.setReady(e.p, true);
      else if (e.k === 'proc.crash' || e.k === 'proc.exit') this.service.setReady(e.p, false);
    });
  }

  failNode(node: string): void {
    for (const p of this.pods) if (this.sim.process(p).node.name === node) this.service.setReady(p, false);
    this.sim.failNode(node);
  }

  recoverNode(node: string): void {
    this.sim.recoverNode(node, true);
  }
}
