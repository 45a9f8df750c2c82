import { MINUTE, MS, SECOND, type Micros } from '../../index.ts';

/** One user of one tenant, and how many browser tabs (concurrent connections) it keeps. */
export interface Identity {
  tenant: string;
  user: string;
  tabs: number;
}

/**
 * Everything a run of the HAK_GAL session manager depends on besides the seed and the fault
 * schedule (spec seeds-001-004 §1). Plain JSON data in sections; a trace file records it resolved.
 */
export interface HakgalConfig {
  topology: {
    /** Pods running RedisSessionManager behind one Service. Default 2 (the seed's Pod-1 and Pod-2). */
    pods: number;
  };
  clock: {
    /**
     * Local wall-clock time of day on every pod at the start of the run (µs after midnight).
     * Default 23:55:00: runs longer than five minutes cross the local midnight at which the daily
     * salt changes (spec §1: `daily_salt = HMAC(secret, date.today())`).
     */
    startTimeOfDayUs: Micros;
    /** NTP-disciplined clocks: each node's offset is drawn in ±this. Default 5 ms. */
    ntpOffsetUs: Micros;
  };
  pod: {
    /**
     * The HMAC key (spec §0.1): `per-process` (default, as built: `CryptoUtils()` without a key
     * draws `secrets.token_bytes(32)` at process start) or `configured` (every pod is given one
     * key, as the seed's own test shares one CryptoUtils instance between its two managers).
     */
    secret: 'per-process' | 'configured';
    /**
     * How the guard's session update is written (spec §1 "sync variants use asyncio.create_task"):
     * `create-task` (default, as built) schedules the SETEX and answers at once; `await` answers after it.
     * Either way an error is swallowed unless the `write-through` fix is on.
     */
    writes: 'create-task' | 'await';
    /** A crashed container is restarted in place after this long. Default 1 s. */
    restartUs: Micros;
    /** A deleted pod's replacement serves after this long (scheduling, image, start-up). Default 10 s. */
    replaceUs: Micros;
  };
  redis: {
    /** redis-py `socket_timeout` (spec §1: 5 s): a reply later than this is an error. Default 5 s. */
    readTimeoutUs: Micros;
    /** Stand-in for `maxmemory`: keys Redis holds before it evicts (allkeys-lru). Default 100,000. */
    maxKeys: number;
  };
  session: {
    /** `SETEX` seconds (spec §1: 3600); the TTL slides on writes only. */
    ttlSeconds: number;
    /** FinancialToolGuard blocks a micro-transfer (amount < 1.0) once `tx_count_1h` exceeds this (spec §1: 50). */
    microLimit: number;
    /** Trajectory vectors a session keeps (the oldest drop out). Default 50. */
    trajectoryMax: number;
  };
  workload: {
    /** The users, per tenant (spec §1 workload: N users × T tenants, closed loop). */
    identities: Identity[];
    /** Mean think time between a tab's requests (exponential). Default 1 s. */
    thinkUs: Micros;
    /** Percent of requests that are micro-transfers (amount < 1.0). Default 60. */
    microPercent: number;
    /** Percent that are ordinary transfers; the rest are chat turns (a trajectory vector). Default 10. */
    transferPercent: number;
    /** Requests per tab; 0: no limit (the loop runs to the end of the run). Default 0. */
    requestsPerTab: number;
    /** `service`: a tab's connection goes to a random ready pod; `pinned`: tab i to pod i while it is ready. Default `service`. */
    routing: 'service' | 'pinned';
    /** Tab k of an identity starts k × this after its first tab (a tab opened later). Default 0. */
    tabStaggerUs: Micros;
    /** A user gives up on a request after this long. Default 30 s. */
    requestTimeoutUs: Micros;
  };
  fixes: {
    sharedSecret: boolean;
    versionCheckedCache: boolean;
    atomicCounter: boolean;
    failClosedOnReadError: boolean;
    writeThrough: boolean;
    utcSaltWithOverlap: boolean;
    tenantIdValidation: boolean;
    noEviction: boolean;
    redisAof: boolean;
  };
}

export const DAY: Micros = 24 * 60 * MINUTE;

/**
 * The default users: three tenants, one of whose ids holds a ':' (spec §1: tenant "a" + user "b:c"
 * and tenant "a:b" + user "c" hash alike), and one user with two tabs (concurrent requests for one
 * session, which the Service may send to two pods).
 */
const DEFAULT_IDENTITIES: Identity[] = [
  { tenant: 'acme', user: 'alice', tabs: 1 },
  { tenant: 'acme', user: 'eu:bob', tabs: 1 },
  { tenant: 'acme:eu', user: 'bob', tabs: 1 },
  { tenant: 'globex', user: 'carol', tabs: 2 },
];

export const DEFAULT_CONFIG: HakgalConfig = {
  topology: { pods: 2 },
  clock: { startTimeOfDayUs: DAY - 5 * MINUTE, ntpOffsetUs: 5 * MS },
  pod: { secret: 'per-process', writes: 'create-task', restartUs: 1 * SECOND, replaceUs: 10 * SECOND },
  redis: { readTimeoutUs: 5 * SECOND, maxKeys: 100_000 },
  session: { ttlSeconds: 3600, microLimit: 50, trajectoryMax: 50 },
  workload: {
    identities: DEFAULT_IDENTITIES, thinkUs: 1 * SECOND, microPercent: 60, transferPercent: 10,
    requestsPerTab: 0, routing: 'service', tabStaggerUs: 0, requestTimeoutUs: 30 * SECOND,
  },
  fixes: {
    sharedSecret: false, versionCheckedCache: false, atomicCounter: false, failClosedOnReadError: false,
    writeThrough: false, utcSaltWithOverlap: false, tenantIdValidation: false, noEviction: false, redisAof: false,
  },
};
