import { SECOND, type Micros } from '../../../sim-cluster/index.ts';

/**
 * Replication's timeouts and lags compare whole seconds of the wall clock (`server.unixtime`,
 * `time(NULL)` in replication.c), so a replica whose last ACK was at 3.9 s has lag 7 at 10.0 s, and
 * a jump of the node's clock moves every one of them. The model compares the same way.
 */
export function wallSeconds(now: Micros): number {
  return Math.floor(now / SECOND);
}
