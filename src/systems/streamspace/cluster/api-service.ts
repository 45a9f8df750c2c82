import type { RandomStream } from '../../../sim-cluster/index.ts';
import type { ApiService } from '../agent/k8s-agent.ts';

/**
 * The API Service (kube-proxy in front of the API pods): each new connection goes to a random
 * ready endpoint. A pod joins when its HTTP server listens (standing in for its first successful
 * readiness probe: `/health` always 200, §0) and leaves when it starts terminating or when the
 * control plane notices it is gone (the Deployment controller and node monitor call
 * `setReady(false)`). The kubelet's readiness probe (`kube/kubelet-probes.ts`) can also mark it
 * NotReady (a paused pod) and Ready again: a pod is an endpoint only while both say ready.
 * Established connections are never moved. Endpoint propagation delay is folded into those calls.
 */
export class ApiServiceEndpoints implements ApiService {
  /** Ready pods in the order they became ready: iteration order is deterministic. */
  private readonly ready = new Set<string>();
  /** Pods whose process says it serves (`setReady`). */
  private readonly serving = new Set<string>();
  /** Pods the kubelet's readiness probe has marked NotReady. */
  private readonly probeFailing = new Set<string>();
  /** Told when a pod's readiness changes (the Ready condition's transitions, which the HPA reads). */
  onChange: ((pod: string, ready: boolean) => void) | null = null;

  setReady(pod: string, ready: boolean): void {
    if (ready) this.serving.add(pod);
    else this.serving.delete(pod);
    this.update(pod);
  }

  /** The kubelet's readiness verdict for the pod's container. */
  setProbeReady(pod: string, ready: boolean): void {
    if (ready) this.probeFailing.delete(pod);
    else this.probeFailing.add(pod);
    this.update(pod);
  }

  private update(pod: string): void {
    const was = this.ready.has(pod);
    const now = this.serving.has(pod) && !this.probeFailing.has(pod);
    if (now) this.ready.add(pod);
    else this.ready.delete(pod);
    if (now !== was) this.onChange?.(pod, now);
  }

  isReady(pod: string): boolean {
    return this.ready.has(pod);
  }

  get endpoints(): string[] {
    return [...this.ready];
  }

  pick(rng: RandomStream): string | null {
    if (this.ready.size === 0) return null;
    return rng.pick([...this.ready]);
  }
}
