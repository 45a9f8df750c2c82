import type { RandomStream } from '../../sim-cluster/index.ts';
import type { ApiService } from '../agent/k8s-agent.ts';

/**
 * The API Service (kube-proxy in front of the API pods): each new connection goes to a random
 * ready endpoint. A pod joins when its HTTP server listens (readiness: `/health` always 200, §0)
 * and leaves when it starts terminating or when the control plane notices it is gone (the
 * Deployment controller and node monitor call `setReady(false)`). Established connections are
 * never moved. Endpoint propagation delay is folded into those calls.
 */
export class ApiServiceEndpoints implements ApiService {
  /** Ready pods in the order they became ready: iteration order is deterministic. */
  private readonly ready = new Set<string>();

  setReady(pod: string, ready: boolean): void {
    if (ready) this.ready.add(pod);
    else this.ready.delete(pod);
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
