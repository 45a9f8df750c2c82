import { SECOND, type Micros, type Simulation } from '../../../sim-cluster/index.ts';
import type { ScaledPod, ScaleTarget } from './types.ts';

/**
 * A stand-in Deployment for exercising the HPA without the rest of the cluster: its pods share a
 * total CPU demand equally among the Ready ones, each capped at the container's limit; a pod
 * that is not Ready yet burns `idleMilli`. New pods start `startDelayUs` after the scale and
 * become Ready `readyDelayUs` after starting; a scale-down removes the newest pods at once (the
 * ReplicaSet controller prefers deleting the youngest; termination is not modelled).
 *
 * Counters are integrated exactly: rates are piecewise constant and every change of demand, pod
 * set or readiness first integrates up to its instant.
 */
export interface LoadDrivenDeploymentOptions {
  replicas: number;
  /** Container CPU limit (millicores). Default 1000 (StreamSpace chart/values.yaml:236-242). */
  limitMilli?: number;
  /** CPU of a started pod that is not Ready yet. Default 0. */
  idleMilli?: number;
  /** From the scale to the container start. Default 5 s. */
  startDelayUs?: Micros;
  /** From the container start to Ready. Default 10 s. */
  readyDelayUs?: Micros;
}

interface LoadPod extends ScaledPod {
  /** CPU used, in millicore·µs (1000 of them are one µs of CPU). */
  usedMilliUs: number;
}

export class LoadDrivenDeployment implements ScaleTarget {
  private specReplicas: number;
  private readonly live: LoadPod[] = [];
  private demandMilli = 0;
  private integratedTo: Micros;
  private created = 0;
  private readonly limitMilli: number;
  private readonly idleMilli: number;
  private readonly startDelayUs: Micros;
  private readonly readyDelayUs: Micros;

  constructor(private readonly sim: Simulation, options: LoadDrivenDeploymentOptions) {
    this.limitMilli = options.limitMilli ?? 1000;
    this.idleMilli = options.idleMilli ?? 0;
    this.startDelayUs = options.startDelayUs ?? 5 * SECOND;
    this.readyDelayUs = options.readyDelayUs ?? 10 * SECOND;
    this.integratedTo = sim.now;
    this.specReplicas = options.replicas;
    // The initial pods are running and Ready from the start.
    for (let i = 0; i < options.replicas; i++) this.addPod(sim.now, true);
  }

  replicas(): number {
    return this.specReplicas;
  }

  pods(): ScaledPod[] {
    return this.live.slice();
  }

  /** Sets the total CPU demand (millicores) from now on. */
  setDemand(milli: number): void {
    this.integrate(this.sim.now);
    this.demandMilli = milli;
  }

  scale(replicas: number): void {
    this.integrate(this.sim.now);
    this.specReplicas = replicas;
    while (this.live.length > replicas) this.live.pop();
    while (this.live.length < replicas) this.addPod(null, false);
  }

  private addPod(startedAt: Micros | null, ready: boolean): void {
    const pod: LoadPod = {
      name: `api-${this.created++}`, startedAt, ready, readyChangedAt: this.sim.now, deleting: false, usedMilliUs: 0,
      cpu: { cpuUsageUs: (now) => this.used(pod, now) },
    };
    this.live.push(pod);
    if (startedAt !== null) return;
    this.sim.after(this.startDelayUs, () => {
      if (!this.live.includes(pod)) return;
      this.integrate(this.sim.now);
      pod.startedAt = this.sim.now;
      pod.readyChangedAt = this.sim.now;
      this.sim.after(this.readyDelayUs, () => {
        if (!this.live.includes(pod)) return;
        this.integrate(this.sim.now);
        pod.ready = true;
        pod.readyChangedAt = this.sim.now;
      }, 'test pod ready');
    }, 'test pod start');
  }

  private used(pod: LoadPod, now: Micros): number {
    this.integrate(now);
    return Math.floor(pod.usedMilliUs / 1000);
  }

  private integrate(now: Micros): void {
    const dt = now - this.integratedTo;
    if (dt <= 0) return;
    this.integratedTo = now;
    const ready = this.live.filter((p) => p.ready).length;
    const share = ready === 0 ? 0 : Math.min(this.limitMilli, Math.floor(this.demandMilli / ready));
    for (const pod of this.live) {
      if (pod.startedAt === null) continue;
      pod.usedMilliUs += dt * (pod.ready ? share : this.idleMilli);
    }
  }
}
