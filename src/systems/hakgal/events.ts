import { vocabulary } from '../../index.ts';
import type { PodRequest } from './pod.ts';

/**
 * The HAK_GAL trace events its view, checkers and scenario measures read, with their details.
 * Producers record them through `hakgalEvents.record`, readers get them back through
 * `hakgalEvents.details` (the kernel's typed vocabulary): the map is the contract between the two.
 */
export interface HakgalEvents {
  /** A pod is up (pod.ts): the key it computes ids with and the session TTL it writes. */
  'pod.ready': { secret: 'shared' | 'per-process'; ttlSeconds: number };
  /** A user's request leaves for a pod (users.ts). */
  'user.request': { req: string; tenant: string; user: string; pod: string; op: PodRequest['op']; micro: boolean };
  /** A request answered 200: the session and state the user was told about. */
  'user.ack': { req: string; sid: string; tx: number; trajectory: number; executed: boolean; blocked: boolean };
  /**
   * A pod acts on a session for a request, as loaded (pod.ts): `owner` is the (tenant, user) the
   * session was created for (`identityKey`), `fresh` whether it was just created empty.
   */
  'hk.serve': { req: string; tenant: string; user: string; sid: string; owner: string; tx: number; trajectory: number; fresh: boolean };
  /** The effect: a pod executed a transfer for a request. */
  'hk.transfer': { req: string; tenant: string; user: string; micro: boolean; sid: string };
}

export const hakgalEvents = vocabulary<HakgalEvents>();
