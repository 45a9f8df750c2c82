import type { Platform } from '../agent/k8s-agent.ts';
import type { LeaseStore } from '../kube/lease-store.ts';

/**
 * The platform resources sessions create (Deployment, Service, PVC per session), as the Kubernetes
 * API would hold them. The agent's handlers use plain Create calls, so a second start of the same
 * session fails with AlreadyExists (§7.5): the model keeps only which sessions exist.
 */
export class SessionPlatform implements Platform {
  constructor(private readonly leases: LeaseStore) {}

  private readonly sessions = new Set<string>();
  /** Command ids whose effect happened (the labels a real agent would put on its resources). */
  private readonly effects = new Set<string>();

  createSession(sessionId: string, commandId: string): boolean {
    if (this.sessions.has(sessionId)) return false;
    this.sessions.add(sessionId);
    this.effects.add(commandId);
    return true;
  }

  deleteSession(sessionId: string, commandId: string): void {
    this.sessions.delete(sessionId);
    this.effects.add(commandId);
  }

  hasEffectOf(commandId: string): boolean {
    return this.effects.has(commandId);
  }

  /**
   * The fencing check of the `fenced-effects` fix: the Lease as committed in etcd, read atomically
   * with the write (an etcd transaction, or an admission check in the API server).
   */
  fenceHolds(lease: string, replica: string, transitions: number): boolean {
    const l = this.leases.get(lease);
    return l !== undefined && l.holderIdentity === replica && l.leaseTransitions === transitions;
  }

  has(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }
}
