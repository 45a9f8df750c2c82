import type { Micros } from '../../../sim-cluster/index.ts';
import type { RpcClient } from '../net/rpc.ts';

/**
 * What a Sentinel knows of one instance it monitors: the master, a replica or another Sentinel.
 * One record for the three kinds, as sentinel.c's `sentinelRedisInstance` (its fields keep their C
 * names in camelCase); the fields of one kind are unused on the others.
 *
 * Times are the Sentinel node's wall clock in µs (`mstime()`, sentinel.c reads the wall clock, which
 * is why it has TILT mode). sentinel.c uses 0 for "never"; the simulated wall clock starts near 0,
 * so "never" is `NEVER`, far in the past, which keeps every `now - t > period` test true.
 */
export const NEVER = Number.NEGATIVE_INFINITY;

export type InstanceKind = 'master' | 'replica' | 'sentinel';

/** The command link (sentinel.c `instanceLink`, its `cc`; the pub/sub link `pc` is not modelled, see sentinel.ts). */
export interface InstanceLink {
  /** The command connection, or null (`cc == NULL`). */
  rpc: RpcClient | null;
  /** `link->disconnected`: set on close, cleared as soon as a connect is started (hiredis is asynchronous). */
  disconnected: boolean;
  /** Commands sent and not answered (`pending_commands`). */
  pending: number;
  ccConnTime: Micros;
  lastReconnTime: Micros;
  /** Time of the oldest PING not answered yet, or null once answered (`act_ping_time == 0`). */
  actPingTime: Micros | null;
  lastPingTime: Micros;
  /** Last valid PING reply (PONG, LOADING, MASTERDOWN). */
  lastAvailTime: Micros;
  /** Last PING reply of any kind. */
  lastPongTime: Micros;
}

export interface Instance {
  kind: InstanceKind;
  /** The instance's process name (its address: sentinel.c keys replicas by ip:port). */
  addr: string;
  link: InstanceLink;
  /** `run_id` from INFO (Redis instances), the Sentinel's id for Sentinels; null until known. */
  runId: string | null;
  sdown: boolean;
  sDownSinceTime: Micros;
  /** When the last INFO reply was processed (`info_refresh`). */
  infoRefresh: Micros;
  roleReported: 'master' | 'replica';
  roleReportedTime: Micros;
  /** When this Sentinel last sent a hello to it (Sentinels only here). */
  lastPubTime: Micros;

  // --- replicas (from their INFO)
  /** The master the replica says it replicates from (`slave_master_host`). */
  slaveMasterHost: string | null;
  slaveConfChangeTime: Micros;
  masterLinkUp: boolean;
  /** `master_link_down_since_seconds` × 1000: 0 while the link is up. */
  masterLinkDownTime: Micros;
  slavePriority: number;
  slaveReplOffset: number;
  promoted: boolean;
  reconfSent: boolean;
  reconfInprog: boolean;
  reconfDone: boolean;
  slaveReconfSentTime: Micros;

  // --- other Sentinels (from their is-master-down-by-addr replies)
  /** `SRI_MASTER_DOWN`: that Sentinel last said the master is down. */
  masterDown: boolean;
  lastMasterDownReplyTime: Micros;
  /** The master's entry: this Sentinel's vote. A Sentinel's entry: the vote it reported. */
  leader: string | null;
  leaderEpoch: number;
}

/** A fresh entry (sentinel.c createSentinelRedisInstance and createInstanceLink). */
export function createInstance(kind: InstanceKind, addr: string, now: Micros): Instance {
  return {
    kind,
    addr,
    // Every instance starts disconnected; act_ping_time is "now" so that an instance never reached
    // goes SDOWN after down-after-period.
    link: {
      rpc: null,
      disconnected: true,
      pending: 0,
      ccConnTime: NEVER,
      lastReconnTime: NEVER,
      actPingTime: now,
      lastPingTime: NEVER,
      lastAvailTime: now,
      lastPongTime: now,
    },
    runId: null,
    sdown: false,
    sDownSinceTime: NEVER,
    infoRefresh: NEVER,
    roleReported: kind === 'replica' ? 'replica' : 'master',
    roleReportedTime: now,
    lastPubTime: now,
    slaveMasterHost: null,
    slaveConfChangeTime: now,
    masterLinkUp: false,
    masterLinkDownTime: 0,
    slavePriority: 100, // SENTINEL_DEFAULT_SLAVE_PRIORITY until INFO says otherwise
    slaveReplOffset: 0,
    promoted: false,
    reconfSent: false,
    reconfInprog: false,
    reconfDone: false,
    slaveReconfSentTime: NEVER,
    masterDown: false,
    lastMasterDownReplyTime: now,
    leader: null,
    leaderEpoch: 0,
  };
}
