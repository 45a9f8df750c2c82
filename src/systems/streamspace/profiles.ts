import type { ConfigOverrides, FixesConfig } from './config.ts';

/**
 * A profile is the as-built model plus a set of named design fixes (DESIGN decision 8). Each fix is
 * a change a StreamSpace engineer could make in their code, switched on in the config's `fixes`
 * section; `hardened` turns every fix on.
 */
export interface Profile {
  name: string;
  description: string;
  config: ConfigOverrides;
}

type FixSwitch = { [K in keyof FixesConfig]: FixesConfig[K] extends boolean ? K : never }[keyof FixesConfig];

export interface DesignFix {
  /** Stable name, used by profiles and the CLI. */
  name: string;
  field: FixSwitch;
  /** The change, as a StreamSpace engineer would make it. */
  change: string;
  /** The findings (trace names) it is meant to remove. */
  removes: string[];
}

export const DESIGN_FIXES: DesignFix[] = [
  {
    name: 'heartbeat-rewrites-mapping', field: 'heartbeatRewritesMapping',
    change: 'UpdateAgentHeartbeat writes `SET agent:<id>:pod <pod> EX 300` and `SET agent:<id>:connected true EX 300` instead of EXPIRE, so a lost mapping is restored within one heartbeat',
    removes: ['redis-restart-loses-routing', 'stale-unregister-deletes-live-mapping'],
  },
  {
    name: 'conditional-unregister', field: 'conditionalUnregister',
    change: 'the unregister channel carries the connection, handleUnregister removes the entry only if it is that connection, and the Redis keys are deleted by a compare-and-delete script only if they still name this pod',
    removes: ['stale-unregister-deletes-live-mapping'],
  },
  {
    name: 'agent-async-handlers', field: 'agentAsyncHandlers',
    change: 'the k8s-agent runs each command handler in its own goroutine, so readPump keeps reading pongs (its deadline stays fresh) and the next commands',
    removes: ['lost-command-during-long-execution'],
  },
  {
    name: 'agent-retry-connect', field: 'agentRetryConnect',
    change: 'Run retries its first Connect with the Reconnect backoff instead of returning an error that HA mode only logs',
    removes: ['leader-without-agent-after-node-failure'],
  },
  {
    name: 'guarded-status-writes', field: 'guardedStatusWrites',
    change: 'every agent_commands status UPDATE adds `AND status IN (...)` so rows only move forward: `sent` no longer overwrites `ack` or `completed`',
    removes: ['leadership-lost-mid-command'],
  },
  {
    name: 'redeliver-unfinished', field: 'redeliverUnfinished',
    change: 'a reconciler on every API pod re-dispatches rows left pending, sent or ack for longer than the longest command; its re-dispatches leave a row alone when they cannot deliver instead of marking it failed, and it replaces the one-shot start-up scan of pending rows (which races with first dispatches on other pods)',
    removes: ['lost-command-during-long-execution', 'leadership-lost-mid-command', 'db-write-errors-strand-pending', 'publish-to-pod-that-lost-the-agent'],
  },
  {
    name: 'agent-idempotent', field: 'agentIdempotent',
    change: 'the agent labels what it creates with the command id, skips a command id it is running, and answers `complete` at once for one whose effect already exists',
    removes: ['db-write-errors-strand-pending', 'publish-retry-runs-command-twice'],
  },
  {
    name: 'writer-survives-errors', field: 'writerSurvivesErrors',
    change: 'the k8s-agent writePump logs a write error, drops that message and goes on with the next connection instead of returning for good',
    removes: ['answers-lost-after-writer-death'],
  },
  {
    name: 'wait-for-redis', field: 'waitForRedis',
    change: 'an API pod with the Redis hub enabled keeps retrying its start-up PING and reports ready only once Redis answers, instead of falling back to single-pod mode for its whole life',
    removes: ['replacement-pod-single-mode-after-redis-restart'],
  },
  {
    name: 'frame-per-message', field: 'framePerMessage',
    change: 'the API writePump writes each queued message as its own WebSocket frame instead of joining them with newlines, which the agents cannot parse',
    removes: ['redelivery-burst-dropped-as-one-frame'],
  },
  {
    name: 'ambiguous-send-not-failed', field: 'ambiguousSendNotFailed',
    change: 'the hub tells definite failures (key missing, buffer full) from unknown ones (a Redis error in IsAgentConnected or the pod lookup, a PUBLISH that timed out or lost its connection and may have been delivered); the dispatcher marks only the former failed and leaves the rest to redelivery',
    removes: ['ambiguous-publish-marked-failed'],
  },
  {
    name: 'exit-on-lost-leadership', field: 'exitOnLostLeadership',
    change: 'OnStoppedLeading ends the agent process after stopping the agent, as kube-controller-manager does on a lost lease, so the kubelet restarts it and it campaigns again (Run is never re-entered in-process)',
    removes: ['all-replicas-deposed'],
  },
  {
    name: 'fenced-effects', field: 'fencedEffects',
    change: 'the agent makes its platform writes conditional on its Lease, with leaseTransitions as a fencing token (a transaction or admission check against the Lease): a replica that lost the lease, even one paused across the takeover, cannot start or apply a command, and redelivery gives it to the leader',
    removes: ['deposed-leader-completes-after-release'],
  },
  {
    name: 'redelivery-claims-row', field: 'redeliveryClaimsRow',
    change: 'a redelivery claims its row just before it sends: `UPDATE agent_commands SET status=\'sent\', sent_at=$1 WHERE command_id=$2 AND status=\'pending\'`, and when that matches nothing a re-read of the status; it sends only if the row is still pending, sent or ack, and otherwise drops the redelivery. The first dispatch, queued long before and still running, can then no longer mark the row failed under the redelivery: with guarded-status-writes its `failed` applies only to a row still pending, and a row the first dispatch already failed is not sent again. Relies on guarded-status-writes and redeliver-unfinished',
    removes: ['redelivery-sends-failed-row'],
  },
  {
    name: 'hub-for-replicas', field: 'hubForReplicas',
    change: 'the chart deploys its Redis and sets AGENTHUB_REDIS_ENABLED whenever api.replicaCount is above 1 (or fails the install), instead of shipping 2 API pods whose in-memory hubs share nothing (spec §0, chart/values.yaml:234,449-455): every pod can then reach an agent connected to another',
    removes: ['hub-off-with-replicas-unroutable'],
  },
  {
    name: 'nonblocking-stale-sweep', field: 'nonblockingStaleSweep',
    change: 'checkStaleConnections sends each stale agent id on `unregister` from a goroutine of its own (`go func(id string) { h.unregister <- id }(id)`) instead of from the Run goroutine, the channel\'s only reader, which blocks for good once more than 10 agents go stale in one sweep (agent_hub.go:384-405)',
    removes: ['stale-sweep-deadlocks-hub'],
  },
  {
    name: 'fixed-agent-id', field: 'fixedAgentId',
    change: 'each agent runs as a Deployment of its own with AGENT_ID fixed in its env, as the raw manifest does (deployment.yaml:29-30), instead of `<agentId>-<POD_NAME>` (chart/templates/k8s-agent-deployment.yaml:43-52): a pod replaced after a deletion or an eviction comes back as the same agent, so redelivery brings it the rows its predecessor left unfinished instead of addressing an id no pod will have again',
    removes: ['replaced-agent-pod-strands-commands'],
  },
  {
    name: 'keep-sessions-on-start', field: 'keepSessionsOnStart',
    change: 'the API pod no longer runs ClearAllSessions at start-up (api/cmd/main.go:326-336): a pod start, restart or scale-up no longer logs every user out; logout and the TTL still end sessions',
    removes: ['login-storm-scale-up-logs-everyone-out'],
  },
  {
    name: 'namespaced-cache-keys', field: 'namespacedCacheKeys',
    change: 'the cache keys of the session routes and the pattern their writes invalidate share a namespace of their own (`cache:sessions:*`) instead of `session:*`, which is the auth store\'s',
    removes: ['detached-invalidation-logs-everyone-out'],
  },
  {
    name: 'retry-cache-enable', field: 'retryCacheEnable',
    change: 'a pod whose start-up cache PING failed keeps trying and enables its cache (and session checks) once Redis answers, instead of running without it, accepting every token, for its whole life',
    removes: ['pod-without-cache-accepts-logged-out-token'],
  },
  {
    name: 'detached-invalidate-context', field: 'detachedInvalidateContext',
    change: 'the cache\'s background writes (the response SET, the pattern invalidation) run with a context of their own instead of the request\'s, which net/http cancels as soon as the handler returns',
    removes: [],
  },
  {
    name: 'sessions-noeviction', field: 'sessionsNoEviction',
    change: 'Redis runs `maxmemory-policy noeviction`: under memory pressure writes fail instead of evicting the auth sessions (and the hub\'s keys)',
    removes: ['memory-pressure-evicts-sessions'],
  },
  {
    name: 'fail-login-without-session', field: 'failLoginWithoutSession',
    change: 'a login whose session could not be stored in Redis fails (500) instead of handing out a token that every later request is refused with (jwt.go:496-500 only logs the error)',
    removes: ['memory-pressure-evicts-sessions'],
  },
  {
    name: 'auth-unavailable-not-unauthorized', field: 'authUnavailableNotUnauthorized',
    change: 'AuthMiddleware answers 503 when the session check (Redis EXISTS) or GetUser (PostgreSQL) fails with an error, and 401 only for a session that is missing or a user that does not exist: a datastore that blinks no longer tells every user to log in again (middleware.go:240-270 answers 401 "User not found" for any GetUser error)',
    removes: ['database-blip-logs-users-out'],
  },
  {
    name: 'sentinel-aware-client', field: 'sentinelAwareClient',
    change: 'with Redis Sentinel, every go-redis client is a FailoverClient (redis.NewFailoverClient with the Sentinels\' addresses): it asks the Sentinels for the master before each dial, follows +switch-master and closes its connections to anything else, instead of a plain client on a Service that follows the master late or spreads connections over replicas',
    removes: [],
  },
  {
    name: 'readonly-conn-is-bad', field: 'readonlyConnIsBad',
    change: 'the database layer treats SQLSTATE 25006 (read-only transaction: the connection reached a demoted primary or a standby) as a bad connection (driver.ErrBadConn): it is closed and database/sql runs the statement again on another connection, dialled through the master Service, instead of keeping the connection until ConnMaxLifetime',
    removes: [],
  },
  {
    name: 'strict-synchronous-replication', field: 'strictSynchronousReplication',
    change: 'Patroni runs synchronous_mode with synchronous_mode_strict: a commit is acknowledged only once a synchronous standby has flushed it, and waits while there is none, so no acknowledged commit is lost in a failover (availability traded for it)',
    removes: ['acknowledged-writes-lost-in-async-failover'],
  },
  {
    name: 'sessions-in-postgres', field: 'sessionsInPostgres',
    change: 'the auth SessionStore keeps its sessions as PostgreSQL rows (created at login, checked in AuthMiddleware\'s GetUser query, deleted at logout) instead of session:{jti} keys in Redis: '
      + 'Redis\'s asynchronous replication acknowledges a session before any replica has it and a Sentinel failover can throw it away, and a client still connected to an old master reads sessions the new one has deleted',
    // Also an alternative to the narrower fixes of three session findings (each checked against its
    // trace with the narrower fix left out of hardened).
    removes: ['sentinel-failover-loses-a-fresh-session', 'missed-switch-accepts-a-logged-out-token', 'pod-without-cache-accepts-logged-out-token', 'memory-pressure-evicts-sessions', 'detached-invalidation-logs-everyone-out'],
  },
];

const allFixes = Object.fromEntries(DESIGN_FIXES.map((f) => [f.field, true]));

export const PROFILES: Record<string, Profile> = {
  'streamspace-v2': {
    name: 'streamspace-v2',
    description: 'the as-built system at commit 15f3690, flaws included (the seed-000 deployment: 2 API pods with the Redis hub, 3 HA agents)',
    config: {},
  },
  hardened: {
    name: 'hardened',
    description: `the as-built system with every design fix on: ${DESIGN_FIXES.map((f) => f.name).join(', ')}`,
    config: { fixes: allFixes },
  },
};

export function profile(name: string): Profile {
  const p = PROFILES[name];
  if (p === undefined) throw new Error(`unknown profile '${name}' (known: ${Object.keys(PROFILES).join(', ')})`);
  return p;
}
