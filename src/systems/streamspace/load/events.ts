import { vocabulary } from '../../../sim-cluster/index.ts';

/**
 * The trace events of the load generator (`load-generator.ts`, process `locust`), which the view
 * and the seed-004 checkers read: recorded through `loadEvents.record`, read through
 * `loadEvents.details`.
 */
export interface LoadEvents {
  'load.start': { mode: 'closed' | 'open'; users: number; spawnRate: number };
  /** Outcomes of the requests completed in one second of true time. */
  'load.second': { second: number; requests: number; ok: number; unauthorized: number; serverErrors: number; noAnswer: number };
  'load.login': { user: number; jti: string };
  /** A token the user held, had not sent a logout with, and whose TTL runs, was refused (401). */
  'load.lost-session': { user: number; jti: string };
  /** A token answered 2xx after its logout was answered 200. */
  'load.revoked-accepted': { user: number; jti: string };
  'load.spike': { users: number; spawnRate: number };
  'load.spike-end': { users: number };
  'load.stop': { users: number };
}

export const loadEvents = vocabulary<LoadEvents>();
