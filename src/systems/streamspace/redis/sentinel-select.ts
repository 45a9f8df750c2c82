import type { Micros } from '../../../sim-cluster/index.ts';
import { SECOND } from '../../../sim-cluster/index.ts';
import type { Instance } from './sentinel-instance.ts';

/** sentinel.c `sentinel_ping_period` and `sentinel_info_period`. */
export const PING_PERIOD_US: Micros = 1 * SECOND;
export const INFO_PERIOD_US: Micros = 10 * SECOND;

/**
 * The order replicas are preferred for promotion (sentinel.c compareSlavesForPromotion): lower
 * `replica-priority` first, then the larger replication offset, then the lexicographically smaller
 * run id (`strcasecmp`; an unknown run id sorts last).
 */
export function compareForPromotion(a: Instance, b: Instance): number {
  if (a.slavePriority !== b.slavePriority) return a.slavePriority - b.slavePriority;
  if (a.slaveReplOffset !== b.slaveReplOffset) return a.slaveReplOffset > b.slaveReplOffset ? -1 : 1;
  if (a.runId === null || b.runId === null) return a.runId === b.runId ? 0 : a.runId === null ? 1 : -1;
  const x = a.runId.toLowerCase();
  const y = b.runId.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * sentinel.c sentinelSelectSlave: the replica to promote, or null. A replica is excluded when it is
 * SDOWN, its link is disconnected, its last valid PING reply is older than 5 ping periods, its INFO
 * is older than 5 ping periods (the master SDOWN: INFO comes every second then) or 3 INFO periods,
 * its master link has been down longer than the master's SDOWN time plus 10 × down-after, or its
 * priority is 0. The rest are sorted by `compareForPromotion` and the first wins.
 */
export function selectReplica(
  replicas: Iterable<Instance>,
  master: { sdown: boolean; sDownSinceTime: Micros },
  downAfterUs: Micros,
  now: Micros,
): Instance | null {
  let maxMasterDownTime = 0;
  if (master.sdown) maxMasterDownTime += now - master.sDownSinceTime;
  maxMasterDownTime += downAfterUs * 10;
  const infoValidityTime = master.sdown ? PING_PERIOD_US * 5 : INFO_PERIOD_US * 3;
  const candidates: Instance[] = [];
  for (const replica of replicas) {
    if (replica.sdown) continue;
    if (replica.link.disconnected) continue;
    if (now - replica.link.lastAvailTime > PING_PERIOD_US * 5) continue;
    if (replica.slavePriority === 0) continue;
    if (now - replica.infoRefresh > infoValidityTime) continue;
    if (replica.masterLinkDownTime > maxMasterDownTime) continue;
    candidates.push(replica);
  }
  if (candidates.length === 0) return null;
  candidates.sort(compareForPromotion);
  return candidates[0]!;
}
