import type { Platform } from '../agent/k8s-agent.ts';

/**
 * The platform resources sessions create (Deployment, Service, PVC per session), as the Kubernetes
 * API would hold them. The agent's handlers use plain Create calls, so a second start of the same
 * session fails with AlreadyExists (§7.5): the model keeps only which sessions exist.
 */
export class SessionPlatform implements Platform {
  private readonly sessions = new Set<string>();

  createSession(sessionId: string): boolean {
    if (this.sessions.has(sessionId)) return false;
    this.sessions.add(sessionId);
    return true;
  }

  deleteSession(sessionId: string): void {
    this.sessions.delete(sessionId);
  }

  has(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }
}
