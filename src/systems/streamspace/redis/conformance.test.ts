/**
 * Redis conformance: ONE command script run against three targets, compared step by step.
 *
 *   a. the keyspace model (`keyspace.ts`, its databases in `databases.ts`), on a virtual clock
 *      advanced by the script;
 *   b. ioredis-mock, its clock (`Date`) faked and advanced by the script;
 *   c. real redis-server, on real time:
 *      - a throwaway server this suite starts (it can be crashed and restarted, and FLUSHALL
 *        disturbs nobody), which runs the whole script;
 *      - the server at HASIM_REDIS_URL, which runs the script up to the first step that needs a
 *        server of its own (DBSIZE, FLUSHALL, SAVE, restart), with keys and channels under a unique
 *        prefix so a shared server is left as it was.
 *
 * Real Redis is the authority. Each step records what real Redis 7.0 answers (`expect`); the real
 * targets check those records whenever a server is available, and the model must match them (and
 * the real answers, step by step) everywhere. ioredis-mock must match them except at the steps in
 * MOCK_DIFFERENCES, where it must give exactly the recorded wrong answer: a mock upgrade that fixes
 * or adds a difference fails this suite until the list is updated.
 *
 * Besides the script, maxmemory cases run on a server of the suite's own and check only what real
 * Redis makes testable (its LRU is sampled, on a 1 s clock): the OOM reply under noeviction; under
 * allkeys-lru that every write succeeds, that the database written a second earlier loses keys and
 * the newer one none, and that the model's per-key memory estimate is within 20 % of real usage.
 *
 * Sections cited as §N are from spec/real-world-semantics.md; "SS §N" is
 * spec/streamspace-v2-behavior.md; mock facts are from notes/toolchain.md §4.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { freePort, ping, REDIS_BIN, waitFor } from '../testing/real-redis.ts';
import { Redis } from 'ioredis';
import RedisMock from 'ioredis-mock';
import { MS } from '../../../sim-cluster/time.ts';
import { RedisDatabases, type RedisDatabasesOptions, type RedisSnapshot } from './databases.ts';
import { RedisError, type ExpireOptions, type Keyspace, type SetOptions } from './keyspace.ts';
import { keyMemoryBytes } from './memory.ts';

// ------------------------------------------------------------------ the script

type Reply = string | number | null | { error: string };
/** `a` and the others start in DB 0, as every new connection; `c1` SELECTs 1 (the AgentHub's database). */
type Client = 'a' | 'pub' | 's1' | 's2' | 'c1';
const CLIENTS: readonly Client[] = ['a', 'pub', 's1', 's2', 'c1'];
type RestartMode = 'without-persistence' | 'with-persistence';

type Step =
  /** A command sent by a named client. `toleranceMs`: on real time, the answer may be up to that much lower (a PTTL). */
  | { id: string; client: Client; cmd: [string, ...string[]]; expect: Reply; toleranceMs?: number }
  /** Script time moves on by `ms` (the model's and the mock's clocks jump; the real targets sleep). */
  | { id: string; advanceMs: number }
  /**
   * A full SCAN iteration from cursor 0 with `MATCH scan` (and `COUNT count`), as go-redis's
   * ScanIterator: the set of keys returned, sorted (the order and the grouping into calls are the
   * implementation's).
   */
  | { id: string; client: Client; scan: string; count?: number; expect: string[] }
  /** The messages a client's application received since the last look, as `<channel> <message>`. */
  | { id: string; inbox: Client; expect: string[] }
  /** The client's connection closes (FIN); it reconnects, without subscriptions, when next used. */
  | { id: string; disconnect: Client }
  /** The server crashes and comes back; every connection is gone (§3.2.5). */
  | { id: string; restart: RestartMode };

const ERR_SYNTAX = { error: 'ERR syntax error' };
const ERR_SET_EXPIRE = { error: "ERR invalid expire time in 'set' command" };
const ERR_NOT_INT = { error: 'ERR value is not an integer or out of range' };
const ERR_EXPIRE_FLAGS = { error: 'ERR NX and XX, GT or LT options at the same time are not compatible' };

const SCRIPT: Step[] = [
  // --- SET / GET / NX / XX / DEL / EXISTS
  { id: 's01', client: 'a', cmd: ['GET', 'k:missing'], expect: null },
  { id: 's02', client: 'a', cmd: ['SET', 'k:a', 'v1'], expect: 'OK' },
  { id: 's03', client: 'a', cmd: ['GET', 'k:a'], expect: 'v1' },
  { id: 's04', client: 'a', cmd: ['SET', 'k:a', 'v2', 'XX'], expect: 'OK' },
  { id: 's05', client: 'a', cmd: ['SET', 'k:b', 'v', 'XX'], expect: null },
  { id: 's06', client: 'a', cmd: ['GET', 'k:b'], expect: null },
  { id: 's07', client: 'a', cmd: ['SET', 'k:a', 'v3', 'NX'], expect: null },
  { id: 's08', client: 'a', cmd: ['GET', 'k:a'], expect: 'v2' },
  { id: 's09', client: 'a', cmd: ['SET', 'k:n', 'v', 'NX'], expect: 'OK' },
  { id: 's10', client: 'a', cmd: ['SET', 'k:e', 'v', 'NX', 'XX'], expect: ERR_SYNTAX },
  { id: 's11', client: 'a', cmd: ['SET', 'k:e', 'v', 'EX', '0'], expect: ERR_SET_EXPIRE },
  { id: 's12', client: 'a', cmd: ['SET', 'k:e', 'v', 'PX', '-5'], expect: ERR_SET_EXPIRE },
  { id: 's13', client: 'a', cmd: ['SET', 'k:e', 'v', 'EX', '1', 'PX', '100'], expect: ERR_SYNTAX },
  { id: 's14', client: 'a', cmd: ['SET', 'k:e', 'v', 'EX', '1.5'], expect: ERR_NOT_INT },
  { id: 's15', client: 'a', cmd: ['EXISTS', 'k:e'], expect: 0 },
  { id: 's15b', client: 'a', cmd: ['DEL', 'k:e'], expect: 0 },
  { id: 's16', client: 'a', cmd: ['EXISTS', 'k:a', 'k:n', 'k:missing', 'k:a'], expect: 3 },
  { id: 's17', client: 'a', cmd: ['DEL', 'k:a', 'k:a', 'k:missing'], expect: 1 },
  { id: 's18', client: 'a', cmd: ['DEL', 'k:missing'], expect: 0 },
  { id: 's19', client: 'a', cmd: ['EXISTS', 'k:a'], expect: 0 },
  // --- TTL / PTTL / EXPIRE basics (§3.2.4; SS §4: EXPIRE never re-creates a key)
  { id: 's20', client: 'a', cmd: ['TTL', 'k:missing'], expect: -2 },
  { id: 's21', client: 'a', cmd: ['PTTL', 'k:missing'], expect: -2 },
  { id: 's22', client: 'a', cmd: ['TTL', 'k:n'], expect: -1 },
  { id: 's23', client: 'a', cmd: ['PTTL', 'k:n'], expect: -1 },
  { id: 's24', client: 'a', cmd: ['EXPIRE', 'k:missing', '10'], expect: 0 },
  { id: 's25', client: 'a', cmd: ['PEXPIRE', 'k:missing', '10000'], expect: 0 },
  { id: 's26', client: 'a', cmd: ['EXISTS', 'k:missing'], expect: 0 },
  { id: 's27', client: 'a', cmd: ['TTL', 'k:missing'], expect: -2 },
  // --- StreamSpace registration (SS §2.2 handleRegister)
  { id: 's28', client: 'a', cmd: ['SET', 'agent:1:pod', 'pod-a', 'EX', '300'], expect: 'OK' },
  { id: 's29', client: 'a', cmd: ['SET', 'agent:1:connected', 'true', 'EX', '300'], expect: 'OK' },
  { id: 's30', client: 'a', cmd: ['TTL', 'agent:1:pod'], expect: 300 },
  { id: 's31', client: 'a', cmd: ['GET', 'agent:1:pod'], expect: 'pod-a' },
  // --- TTL rounding: (ms + 500) / 1000 (expire.c ttlGenericCommand)
  { id: 's32', client: 'a', cmd: ['SET', 'k:r1', 'v', 'PX', '1400'], expect: 'OK' },
  { id: 's33', client: 'a', cmd: ['TTL', 'k:r1'], expect: 1 },
  { id: 's34', client: 'a', cmd: ['SET', 'k:r0', 'v', 'PX', '400'], expect: 'OK' },
  { id: 's35', client: 'a', cmd: ['TTL', 'k:r0'], expect: 0 },
  { id: 's36', client: 'a', cmd: ['EXISTS', 'k:r0'], expect: 1 },
  { id: 's37', client: 'a', cmd: ['DEL', 'k:r1', 'k:r0'], expect: 2 },
  // --- a non-positive TTL deletes the key (expire.c checkAlreadyExpired)
  { id: 's38', client: 'a', cmd: ['SET', 'k:z', 'v'], expect: 'OK' },
  { id: 's39', client: 'a', cmd: ['EXPIRE', 'k:z', '0'], expect: 1 },
  { id: 's40', client: 'a', cmd: ['EXISTS', 'k:z'], expect: 0 },
  { id: 's41', client: 'a', cmd: ['SET', 'k:z', 'v'], expect: 'OK' },
  { id: 's42', client: 'a', cmd: ['PEXPIRE', 'k:z', '-10'], expect: 1 },
  { id: 's43', client: 'a', cmd: ['GET', 'k:z'], expect: null },
  // --- EXPIRE NX / XX / GT / LT (Redis 7.0)
  { id: 's44', client: 'a', cmd: ['SET', 'k:o', 'v'], expect: 'OK' },
  { id: 's45', client: 'a', cmd: ['EXPIRE', 'k:o', '100', 'XX'], expect: 0 },
  { id: 's46', client: 'a', cmd: ['EXPIRE', 'k:o', '100', 'NX'], expect: 1 },
  { id: 's47', client: 'a', cmd: ['EXPIRE', 'k:o', '200', 'NX'], expect: 0 },
  { id: 's48', client: 'a', cmd: ['EXPIRE', 'k:o', '50', 'GT'], expect: 0 },
  { id: 's49', client: 'a', cmd: ['EXPIRE', 'k:o', '200', 'GT'], expect: 1 },
  { id: 's50', client: 'a', cmd: ['TTL', 'k:o'], expect: 200 },
  { id: 's51', client: 'a', cmd: ['EXPIRE', 'k:o', '100', 'LT'], expect: 1 },
  { id: 's52', client: 'a', cmd: ['TTL', 'k:o'], expect: 100 },
  { id: 's53', client: 'a', cmd: ['EXPIRE', 'k:o', '10', 'NX', 'XX'], expect: ERR_EXPIRE_FLAGS },
  { id: 's54', client: 'a', cmd: ['DEL', 'k:o'], expect: 1 },
  // --- KEEPTTL, and SET without it clears the TTL (§3.2.4)
  { id: 's55', client: 'a', cmd: ['SET', 'k:k', 'v1', 'PX', '500'], expect: 'OK' },
  { id: 's56', client: 'a', cmd: ['SET', 'k:k', 'v2', 'KEEPTTL'], expect: 'OK' },
  { id: 's57', client: 'a', cmd: ['PTTL', 'k:k'], expect: 500, toleranceMs: 100 },
  { id: 's58', client: 'a', cmd: ['GET', 'k:k'], expect: 'v2' },
  { id: 's59', client: 'a', cmd: ['SET', 'k:k', 'v3'], expect: 'OK' },
  { id: 's60', client: 'a', cmd: ['PTTL', 'k:k'], expect: -1 },
  { id: 's61', client: 'a', cmd: ['DEL', 'k:k'], expect: 1 },
  // --- expiry on time, refresh by PEXPIRE, NX/XX on an expired key (§3.2.2)
  { id: 's62', client: 'a', cmd: ['SET', 'k:t', 'v', 'PX', '300'], expect: 'OK' },
  { id: 's63', client: 'a', cmd: ['PTTL', 'k:t'], expect: 300, toleranceMs: 100 },
  { id: 't150', advanceMs: 150 },
  { id: 's65', client: 'a', cmd: ['GET', 'k:t'], expect: 'v' },
  { id: 's66', client: 'a', cmd: ['PTTL', 'k:t'], expect: 150, toleranceMs: 100 },
  { id: 's67', client: 'a', cmd: ['PEXPIRE', 'k:t', '400'], expect: 1 }, // deadline now t=550
  { id: 's68', client: 'a', cmd: ['SET', 'k:x', 'v', 'PX', '100'], expect: 'OK' }, // deadline t=250
  { id: 's68b', client: 'a', cmd: ['SET', 'k:y', 'v', 'PX', '100'], expect: 'OK' }, // deadline t=250
  { id: 't400', advanceMs: 250 },
  { id: 's70', client: 'a', cmd: ['GET', 'k:t'], expect: 'v' }, // past its first deadline, not its refreshed one
  { id: 's71', client: 'a', cmd: ['SET', 'k:x', 'v2', 'XX'], expect: null }, // an expired key is missing
  { id: 's72', client: 'a', cmd: ['SET', 'k:x', 'v2', 'NX'], expect: 'OK' },
  { id: 's72b', client: 'a', cmd: ['SET', 'k:y', 'v2', 'PX', '200'], expect: 'OK' }, // a new lease over an expired one
  { id: 's72c', client: 'a', cmd: ['GET', 'k:y'], expect: 'v2' },
  { id: 't650', advanceMs: 250 },
  { id: 's74', client: 'a', cmd: ['GET', 'k:t'], expect: null },
  { id: 's75', client: 'a', cmd: ['EXISTS', 'k:t'], expect: 0 },
  { id: 's76', client: 'a', cmd: ['TTL', 'k:t'], expect: -2 },
  { id: 's77', client: 'a', cmd: ['PEXPIRE', 'k:t', '1000'], expect: 0 }, // cannot resurrect
  { id: 's78', client: 'a', cmd: ['GET', 'k:t'], expect: null },
  { id: 's78b', client: 'a', cmd: ['GET', 'k:y'], expect: null },
  { id: 's79', client: 'a', cmd: ['DEL', 'k:x'], expect: 1 },
  // --- databases, EXISTS and SCAN MATCH (cache.go DeletePattern; SS seeds §2). DB 0 holds k:n and
  // the two agent keys here.
  { id: 'd01', client: 'c1', cmd: ['SELECT', '1'], expect: 'OK' },
  { id: 'd02', client: 'c1', cmd: ['SET', 'agent:9:pod', 'pod-x', 'EX', '300'], expect: 'OK' },
  { id: 'd03', client: 'a', cmd: ['EXISTS', 'agent:9:pod'], expect: 0 }, // another database
  { id: 'd04', client: 'c1', cmd: ['EXISTS', 'agent:9:pod', 'agent:9:pod'], expect: 2 },
  { id: 'd05', client: 'a', cmd: ['SET', 'session:aaa', 's', 'EX', '86400'], expect: 'OK' },
  { id: 'd06', client: 'a', cmd: ['SET', 'session:bbb', 's', 'EX', '86400'], expect: 'OK' },
  { id: 'd07', client: 'a', cmd: ['SET', 'session:user:7:ccc', 's', 'EX', '86400'], expect: 'OK' },
  { id: 'd08', client: 'a', cmd: ['SET', 'response:e3b0', 'r', 'EX', '30'], expect: 'OK' },
  { id: 'd09', client: 'a', cmd: ['SET', 'k:*', 'v'], expect: 'OK' },
  { id: 'd10', client: 'a', cmd: ['SET', 'k:a', 'v'], expect: 'OK' },
  { id: 'd11', client: 'a', scan: 'session:*', expect: ['session:aaa', 'session:bbb', 'session:user:7:ccc'] },
  { id: 'd12', client: 'a', scan: 'session:*', count: 1, expect: ['session:aaa', 'session:bbb', 'session:user:7:ccc'] },
  { id: 'd13', client: 'a', scan: 'session:user:*:*', expect: ['session:user:7:ccc'] },
  { id: 'd14', client: 'a', scan: 'k:\\*', expect: ['k:*'] },
  { id: 'd15', client: 'a', scan: 'k:[^a]', expect: ['k:*', 'k:n'] },
  { id: 'd16', client: 'a', scan: 'k:?', count: 2, expect: ['k:*', 'k:a', 'k:n'] },
  { id: 'd17', client: 'a', scan: 'agent:[0-9]:*', expect: ['agent:1:connected', 'agent:1:pod'] }, // not DB 1's agent:9:pod
  { id: 'd18', client: 'c1', scan: '*', expect: ['agent:9:pod'] },
  { id: 'd19', client: 'a', scan: 'nomatch*', expect: [] },
  { id: 'd20', client: 'a', cmd: ['SCAN', 'abc'], expect: { error: 'ERR invalid cursor' } },
  { id: 'd21', client: 'a', cmd: ['SCAN', '0', 'COUNT', '0'], expect: ERR_SYNTAX },
  { id: 'd22', client: 'a', cmd: ['DEL', 'session:aaa', 'session:bbb', 'session:user:7:ccc', 'response:e3b0', 'k:*', 'k:a'], expect: 6 },
  { id: 'd23', client: 'a', cmd: ['DEL'], expect: { error: "ERR wrong number of arguments for 'del' command" } },
  { id: 'd24', client: 'c1', cmd: ['DEL', 'agent:9:pod'], expect: 1 },
  // --- pub/sub (§3.1)
  { id: 'p01', client: 'pub', cmd: ['PUBLISH', 'ch:pod-a', 'm0'], expect: 0 },
  { id: 'p02', client: 's1', cmd: ['SUBSCRIBE', 'ch:pod-a'], expect: 1 },
  { id: 'p03', client: 'pub', cmd: ['PUBLISH', 'ch:pod-a', 'm1'], expect: 1 },
  { id: 'p04', inbox: 's1', expect: ['ch:pod-a m1'] },
  { id: 'p05', client: 's2', cmd: ['SUBSCRIBE', 'ch:pod-a'], expect: 1 },
  { id: 'p06', client: 'pub', cmd: ['PUBLISH', 'ch:pod-a', 'm2'], expect: 2 },
  { id: 'p07', inbox: 's1', expect: ['ch:pod-a m2'] },
  { id: 'p08', inbox: 's2', expect: ['ch:pod-a m2'] },
  { id: 'p09', client: 's1', cmd: ['SUBSCRIBE', 'ch:pod-a'], expect: 1 }, // twice: no-op
  { id: 'p10', client: 'pub', cmd: ['PUBLISH', 'ch:pod-a', 'm3'], expect: 2 },
  { id: 'p11', inbox: 's2', expect: ['ch:pod-a m3'] },
  { id: 'p12', disconnect: 's2' },
  { id: 'p13', client: 'pub', cmd: ['PUBLISH', 'ch:pod-a', 'm4'], expect: 1 },
  { id: 'p14', inbox: 's1', expect: ['ch:pod-a m3', 'ch:pod-a m4'] },
  { id: 'p15', inbox: 's2', expect: [] },
  { id: 'p16', client: 's1', cmd: ['UNSUBSCRIBE', 'ch:pod-a'], expect: 0 },
  { id: 'p17', client: 'pub', cmd: ['PUBLISH', 'ch:pod-a', 'm5'], expect: 0 },
  { id: 'p18', client: 's2', cmd: ['SUBSCRIBE', 'ch:pod-a'], expect: 1 }, // reconnected: must resubscribe
  { id: 'p19', client: 's1', cmd: ['SUBSCRIBE', 'ch:pod-b'], expect: 1 },
  { id: 'p20', client: 'pub', cmd: ['PUBLISH', 'ch:pod-b', 'm6'], expect: 1 },
  { id: 'p21', client: 'pub', cmd: ['PUBLISH', 'ch:pod-a', 'm7'], expect: 1 },
  { id: 'p22', inbox: 's1', expect: ['ch:pod-b m6'] },
  { id: 'p23', inbox: 's2', expect: ['ch:pod-a m7'] },
  // --- from here on the steps need a server of the suite's own (see needsOwnServer)
  { id: 'o01', client: 'a', cmd: ['DBSIZE'], expect: 3 }, // k:n, agent:1:pod, agent:1:connected
  { id: 'o01b', client: 'c1', cmd: ['SET', 'k:db1', 'v'], expect: 'OK' },
  { id: 'o01c', client: 'c1', cmd: ['DBSIZE'], expect: 1 },
  { id: 'o02', client: 'a', cmd: ['FLUSHALL'], expect: 'OK' },
  { id: 'o03', client: 'a', cmd: ['DBSIZE'], expect: 0 },
  { id: 'o03b', client: 'c1', cmd: ['EXISTS', 'k:db1'], expect: 0 }, // FLUSHALL empties every database
  { id: 'o04', client: 'a', cmd: ['GET', 'agent:1:pod'], expect: null },
  { id: 'o05', client: 'pub', cmd: ['PUBLISH', 'ch:pod-a', 'm8'], expect: 1 }, // FLUSHALL keeps subscriptions
  { id: 'o06', inbox: 's2', expect: ['ch:pod-a m8'] },
  // --- restart from a stale snapshot (§3.2.5)
  { id: 'o07', client: 'a', cmd: ['SET', 'agent:1:pod', 'pod-a', 'EX', '300'], expect: 'OK' },
  { id: 'o08', client: 'a', cmd: ['SET', 'k:n', 'v'], expect: 'OK' },
  { id: 'o09', client: 'a', cmd: ['SET', 'k:short', 'v', 'PX', '300'], expect: 'OK' },
  { id: 'o10', client: 'a', cmd: ['SAVE'], expect: 'OK' },
  { id: 'o11', client: 'a', cmd: ['SET', 'agent:1:pod', 'pod-b', 'EX', '300'], expect: 'OK' }, // moved after the save
  { id: 'o12', client: 'a', cmd: ['SET', 'k:after', 'v'], expect: 'OK' },
  { id: 't1050', advanceMs: 400 },
  { id: 'o14', restart: 'with-persistence' },
  { id: 'o15', client: 'a', cmd: ['GET', 'agent:1:pod'], expect: 'pod-a' }, // the stale mapping is back
  // The absolute deadline survived the restart: 300 s minus the 400 ms since o07 (minus the restart's
  // own duration on real time).
  { id: 'o16', client: 'a', cmd: ['PTTL', 'agent:1:pod'], expect: 299_600, toleranceMs: 2000 },
  { id: 'o17', client: 'a', cmd: ['GET', 'k:after'], expect: null },
  { id: 'o18', client: 'a', cmd: ['GET', 'k:short'], expect: null },
  { id: 'o19', client: 'a', cmd: ['GET', 'k:n'], expect: 'v' },
  { id: 'o20', client: 'a', cmd: ['DBSIZE'], expect: 2 }, // k:short was not loaded
  { id: 'o21', client: 'pub', cmd: ['PUBLISH', 'ch:pod-a', 'm9'], expect: 0 }, // subscriptions died with the server
  { id: 'o22', inbox: 's2', expect: [] },
  { id: 'o23', client: 's1', cmd: ['SUBSCRIBE', 'ch:pod-a'], expect: 1 },
  { id: 'o24', client: 'pub', cmd: ['PUBLISH', 'ch:pod-a', 'm10'], expect: 1 },
  { id: 'o25', inbox: 's1', expect: ['ch:pod-a m10'] },
  // --- restart without persistence: everything is gone (§3.2.5; SS §11 "Redis restarted empty")
  { id: 'o26', restart: 'without-persistence' },
  { id: 'o27', client: 'a', cmd: ['GET', 'agent:1:pod'], expect: null },
  { id: 'o28', client: 'a', cmd: ['EXPIRE', 'agent:1:pod', '300'], expect: 0 }, // the heartbeat cannot re-create it
  { id: 'o29', client: 'a', cmd: ['GET', 'agent:1:pod'], expect: null },
  { id: 'o30', client: 'a', cmd: ['DBSIZE'], expect: 0 },
  { id: 'o31', client: 'pub', cmd: ['PUBLISH', 'ch:pod-a', 'm11'], expect: 0 },
  { id: 'o32', client: 'a', cmd: ['SET', 'agent:1:pod', 'pod-a', 'EX', '300', 'NX'], expect: 'OK' },
  { id: 'o33', client: 'a', cmd: ['GET', 'agent:1:pod'], expect: 'pod-a' },
];

/**
 * Where ioredis-mock 8.13.1 answers differently from real Redis 7.0.15. The real answer is the
 * step's `expect`. The suite asserts the mock differs at exactly these steps, with exactly these answers.
 */
interface MockDifference {
  step: string;
  /** The mock's answer (a raw SCAN reply where the mock answers instead of failing). */
  mock: Reply | string[] | [string, string[]];
  why: string;
}
const MOCK_DIFFERENCES: MockDifference[] = [
  { step: 's11', mock: 'OK', why: 'SET EX 0 is accepted (and the key is born expired) instead of an error' },
  { step: 's12', mock: 'OK', why: 'SET PX -5 is accepted instead of an error' },
  { step: 's13', mock: 'OK', why: 'SET with both EX and PX is accepted instead of a syntax error' },
  { step: 's14', mock: 'OK', why: 'SET EX 1.5 is accepted instead of "not an integer" (and sets a 1.5 s TTL)' },
  { step: 's15', mock: 1, why: 'so the key written by the invalid SET of s14 exists' },
  { step: 's15b', mock: 1, why: 'and DEL removes it' },
  { step: 's33', mock: 2, why: 'TTL rounds up (ceil) instead of half up: 1.4 s left gives 2' },
  { step: 's35', mock: 1, why: 'TTL rounds up: 0.4 s left gives 1, real Redis gives 0' },
  { step: 's45', mock: 1, why: 'EXPIRE ignores XX (Redis 7 options are not implemented)' },
  { step: 's47', mock: 1, why: 'EXPIRE ignores NX' },
  { step: 's48', mock: 1, why: 'EXPIRE ignores GT' },
  { step: 's53', mock: 1, why: 'EXPIRE NX XX is accepted instead of an error' },
  { step: 's57', mock: -1, why: 'SET KEEPTTL drops the TTL (toolchain.md §4)' },
  { step: 's72c', mock: null, why: 'SET PX over an expired, not yet removed key deletes the new key (the stale deadline is checked before the new one is set)' },
  { step: 'd14', mock: [], why: 'MATCH does not honour a backslash escape: k:\\* does not match the key k:*' },
  { step: 'd15', mock: ['k:a'], why: 'MATCH [^a] is not a negated class: it matches k:a and neither k:* nor k:n' },
  { step: 'd20', mock: { error: 'Cursor must be integer' }, why: 'an invalid SCAN cursor gets its own error text' },
  { step: 'd21', mock: ['0', []], why: 'SCAN COUNT 0 is accepted instead of a syntax error' },
  // One bug from here on: disconnect() removes the client from the mock's subscription map but
  // leaves its listener on the shared channel emitter, so a disconnected client keeps counting in
  // PUBLISH and keeps receiving, on every later step, until the port's state is dropped.
  { step: 'p13', mock: 2, why: 'a disconnected subscriber (p12) still counts in PUBLISH' },
  { step: 'p15', mock: ['ch:pod-a m4'], why: 'and the disconnected client still receives the message' },
  { step: 'p17', mock: 1, why: 'the leaked listener of p12 counts' },
  { step: 'p21', mock: 2, why: 'the resubscribed s2 plus its leaked old listener' },
  { step: 'p23', mock: ['ch:pod-a m5', 'ch:pod-a m7', 'ch:pod-a m7'], why: 'the leaked listener received m5 and a second m7' },
  { step: 'o03b', mock: 1, why: 'FLUSHALL empties only the calling client\'s database' },
  { step: 'o05', mock: 2, why: 'the leaked listener counts' },
  { step: 'o06', mock: ['ch:pod-a m8', 'ch:pod-a m8'], why: 'and receives a second copy' },
  { step: 'o15', mock: 'pod-b', why: 'no persistence model: state outlives the "restart", so writes after SAVE survive' },
  { step: 'o17', mock: 'v', why: 'same: a write after SAVE survives the restart' },
  { step: 'o20', mock: 3, why: 'same: the key written after SAVE is still there' },
  { step: 'o21', mock: 2, why: 'listeners of disconnected clients outlive the restart and still count' },
  { step: 'o22', mock: ['ch:pod-a m9', 'ch:pod-a m9'], why: 'and the disconnected clients still receive the message' },
  { step: 'o24', mock: 3, why: 'the new subscriber plus the two leaked listeners' },
];

// ------------------------------------------------------------------ targets

interface Target {
  readonly name: string;
  exec(client: Client, argv: readonly string[]): Promise<Reply>;
  /** A full SCAN iteration (see the `scan` step): every key returned, sorted, or the first error. */
  scanAll(client: Client, match: string, count: number | undefined): Promise<string[] | { error: string }>;
  /** Messages the client's application received since the last call, as `<channel> <message>`. */
  inbox(client: Client): Promise<string[]>;
  disconnect(client: Client): Promise<void>;
  restart(mode: RestartMode): Promise<void>;
  /** Moves the target's clock to script time `ms`. */
  advanceTo(ms: number): Promise<void>;
  close(): Promise<void>;
}

type Results = Map<string, Reply | string[] | { error: string }>;

function needsOwnServer(step: Step): boolean {
  if ('restart' in step) return true;
  return 'cmd' in step && ['DBSIZE', 'FLUSHALL', 'SAVE'].includes(step.cmd[0]);
}

async function runScript(target: Target, options: { stopAtOwnServerStep?: boolean } = {}): Promise<Results> {
  const results: Results = new Map();
  try {
    await runSteps(target, results, options);
  } finally {
    await target.close();
  }
  return results;
}

async function runSteps(target: Target, results: Results, options: { stopAtOwnServerStep?: boolean }): Promise<void> {
  let now = 0;
  for (const step of SCRIPT) {
    if (options.stopAtOwnServerStep && needsOwnServer(step)) break;
    if ('advanceMs' in step) {
      now += step.advanceMs;
      await target.advanceTo(now);
    } else if ('cmd' in step) {
      results.set(step.id, await target.exec(step.client, step.cmd));
    } else if ('scan' in step) {
      results.set(step.id, await target.scanAll(step.client, step.scan, step.count));
    } else if ('inbox' in step) {
      results.set(step.id, await target.inbox(step.inbox));
    } else if ('disconnect' in step) {
      await target.disconnect(step.disconnect);
    } else {
      await target.restart(step.restart);
    }
  }
}

/**
 * The keyspace model (every database of a server, databases.ts), with a minimal argv dispatcher
 * standing in for the server process. Pub/sub lives in DB 0's keyspace here (it is instance-wide).
 */
class ModelTarget implements Target {
  readonly name = 'keyspace model';
  /** Wall clock of the Redis node at script time 0: not on a ms boundary, to exercise ms rounding. */
  private static readonly BASE = 1_700_000_000_000 * MS + 371;
  private dbs: RedisDatabases;
  private nowUs = ModelTarget.BASE;
  private saved: RedisSnapshot | undefined;
  /** Each logical client's current connection number: a reconnect is a new connection id. */
  private conn = new Map<Client, number>();
  /** The database each connection SELECTed; a new connection starts in DB 0. */
  private selected = new Map<string, number>();
  private inboxes = new Map<Client, string[]>();

  /** `options`: the server's maxmemory settings, for the eviction cases (default: none, as the script). */
  constructor(private readonly options: RedisDatabasesOptions = {}) {
    this.dbs = new RedisDatabases(options);
  }

  /** The model's databases, for the eviction cases' checks. */
  get databases(): RedisDatabases {
    return this.dbs;
  }

  private connId(client: Client): string {
    return `${client}#${this.conn.get(client) ?? 0}`;
  }

  private keyspaceOf(client: Client): Keyspace {
    return this.dbs.db(this.selected.get(this.connId(client)) ?? 0);
  }

  async scanAll(client: Client, match: string, count: number | undefined): Promise<string[] | { error: string }> {
    const keys: string[] = [];
    let cursor = 0;
    do {
      const [next, found] = this.keyspaceOf(client).scan(this.nowUs, cursor, { match, count });
      keys.push(...found);
      cursor = next;
    } while (cursor !== 0);
    return keys.sort();
  }

  async exec(client: Client, argv: readonly string[]): Promise<Reply> {
    try {
      return this.dispatch(client, argv);
    } catch (e) {
      if (e instanceof RedisError) return { error: e.message };
      throw e;
    }
  }

  private dispatch(client: Client, argv: readonly string[]): Reply {
    const [name, ...args] = argv;
    const now = this.nowUs;
    const ks = this.keyspaceOf(client);
    const pubsub = this.dbs.db(0);
    const arg = (i: number): string => args[i] ?? fail(`${name}: missing argument ${i}`);
    const upper = name!.toUpperCase();
    if ((upper === 'DEL' || upper === 'EXISTS') && args.length === 0) {
      throw new RedisError(`ERR wrong number of arguments for '${upper.toLowerCase()}' command`);
    }
    this.dbs.beforeCommand(upper);
    switch (upper) {
      case 'SELECT': {
        const db = parseInteger(arg(0));
        this.dbs.db(db);
        this.selected.set(this.connId(client), db);
        return 'OK';
      }
      case 'SCAN': {
        // Only a SCAN's errors are compared step by step; a full iteration is a `scan` step.
        if (!/^\d+$/.test(arg(0))) throw new RedisError('ERR invalid cursor');
        const options = parseScanOptions(args.slice(1));
        ks.scan(now, Number(arg(0)), options);
        return fail('a successful SCAN belongs in a `scan` step');
      }
      case 'GET':
        return ks.get(now, arg(0));
      case 'SET':
        return ks.set(now, arg(0), arg(1), parseSetOptions(args.slice(2)));
      case 'DEL':
        return ks.del(now, ...args);
      case 'EXISTS':
        return ks.exists(now, ...args);
      case 'EXPIRE':
        return ks.expire(now, arg(0), parseInteger(arg(1)), parseExpireOptions(args.slice(2)));
      case 'PEXPIRE':
        return ks.pexpire(now, arg(0), parseInteger(arg(1)), parseExpireOptions(args.slice(2)));
      case 'TTL':
        return ks.ttl(now, arg(0));
      case 'PTTL':
        return ks.pttl(now, arg(0));
      case 'DBSIZE':
        return ks.dbsize(now);
      case 'FLUSHALL':
        return this.dbs.flushAll();
      case 'SAVE':
        this.saved = this.dbs.snapshot();
        return 'OK';
      case 'PUBLISH': {
        const receivers = pubsub.publish(arg(0), arg(1));
        for (const id of receivers) this.inboxOf(id.split('#')[0] as Client).push(`${arg(0)} ${arg(1)}`);
        return receivers.length;
      }
      case 'SUBSCRIBE':
        return pubsub.subscribe(this.connId(client), arg(0));
      case 'UNSUBSCRIBE':
        return pubsub.unsubscribe(this.connId(client), arg(0));
      default:
        return fail(`the model dispatcher has no ${name}`);
    }
  }

  private inboxOf(client: Client): string[] {
    let box = this.inboxes.get(client);
    if (!box) this.inboxes.set(client, (box = []));
    return box;
  }

  async inbox(client: Client): Promise<string[]> {
    return this.inboxOf(client).splice(0);
  }

  async disconnect(client: Client): Promise<void> {
    this.dbs.db(0).dropClient(this.connId(client));
    this.conn.set(client, (this.conn.get(client) ?? 0) + 1);
  }

  async restart(mode: RestartMode): Promise<void> {
    // Every connection dies with the server; clients come back on new connections.
    for (const c of CLIENTS) this.conn.set(c, (this.conn.get(c) ?? 0) + 1);
    if (mode === 'with-persistence' && this.saved) {
      this.dbs = RedisDatabases.fromSnapshot(this.saved, this.nowUs, this.options);
    } else {
      // No persistence: the data directory is empty too (no volume, §3.2.6).
      this.dbs = new RedisDatabases(this.options);
      this.saved = undefined;
    }
  }

  async advanceTo(ms: number): Promise<void> {
    this.nowUs = ModelTarget.BASE + ms * MS;
  }

  async close(): Promise<void> {}
}

function fail(message: string): never {
  throw new Error(message);
}

/** Redis's string-to-integer rule for arguments (util.c string2ll): a decimal integer or an error. */
function parseInteger(s: string): number {
  if (!/^-?\d+$/.test(s)) throw new RedisError('ERR value is not an integer or out of range');
  return Number(s);
}

function parseSetOptions(tokens: readonly string[]): SetOptions {
  const opts: SetOptions = {};
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!.toUpperCase();
    if (t === 'NX') opts.nx = true;
    else if (t === 'XX') opts.xx = true;
    else if (t === 'KEEPTTL') opts.keepTtl = true;
    else if ((t === 'EX' || t === 'PX') && i + 1 < tokens.length) {
      if (opts.ex !== undefined || opts.px !== undefined) throw new RedisError('ERR syntax error');
      const n = parseInteger(tokens[++i]!);
      if (t === 'EX') opts.ex = n;
      else opts.px = n;
    } else throw new RedisError('ERR syntax error');
  }
  return opts;
}

/** SCAN's options after the cursor (db.c scanGenericCommand step 1). */
function parseScanOptions(tokens: readonly string[]): { match?: string; count?: number } {
  const opts: { match?: string; count?: number } = {};
  for (let i = 0; i < tokens.length; i += 2) {
    const t = tokens[i]!.toUpperCase();
    if (i + 1 >= tokens.length) throw new RedisError('ERR syntax error');
    if (t === 'COUNT') opts.count = parseInteger(tokens[i + 1]!);
    else if (t === 'MATCH') opts.match = tokens[i + 1]!;
    else throw new RedisError('ERR syntax error');
  }
  return opts;
}

function parseExpireOptions(tokens: readonly string[]): ExpireOptions {
  const opts: ExpireOptions = {};
  for (const raw of tokens) {
    const t = raw.toLowerCase();
    if (t !== 'nx' && t !== 'xx' && t !== 'gt' && t !== 'lt') throw new RedisError(`ERR Unsupported option ${raw}`);
    opts[t] = true;
  }
  return opts;
}

/** ioredis-mock, driven by a faked `Date`. State is module-global per host:port, so each run gets fresh ports. */
let mockPort = 20_000 + (process.pid % 10_000) * 4;

class MockTarget implements Target {
  readonly name = 'ioredis-mock';
  private static readonly EPOCH_MS = 1_700_000_000_000;
  private port = mockPort++;
  private clients = new Map<Client, InstanceType<typeof RedisMock>>();
  private inboxes = new Map<Client, string[]>();

  constructor() {
    // Only Date is faked: the mock delivers pub/sub through process.nextTick and the suite drains
    // with setImmediate, both left real (toolchain.md §4).
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(MockTarget.EPOCH_MS);
  }

  private client(name: Client, db?: number): InstanceType<typeof RedisMock> {
    let c = this.clients.get(name);
    if (!c || db !== undefined) {
      c?.disconnect();
      // The mock has no SELECT: a client of another database is a new one with the `db` option.
      c = new RedisMock({ port: this.port, db: db ?? 0 });
      c.on('message', (channel: string, message: string) => this.inboxOf(name).push(`${channel} ${message}`));
      this.clients.set(name, c);
    }
    return c;
  }

  async scanAll(client: Client, match: string, count: number | undefined): Promise<string[] | { error: string }> {
    const c = this.client(client);
    const keys: string[] = [];
    let cursor = '0';
    try {
      do {
        const [next, found] = (await (count === undefined ? c.scan(cursor, 'MATCH', match) : c.scan(cursor, 'MATCH', match, 'COUNT', count))) as [string, string[]];
        keys.push(...found);
        cursor = next;
      } while (cursor !== '0');
    } catch (e) {
      return { error: (e as Error).message };
    }
    return keys.sort();
  }

  private inboxOf(client: Client): string[] {
    let box = this.inboxes.get(client);
    if (!box) this.inboxes.set(client, (box = []));
    return box;
  }

  async exec(client: Client, argv: readonly string[]): Promise<Reply> {
    const [name, ...args] = argv;
    if (name!.toUpperCase() === 'SELECT') {
      this.client(client, Number(args[0]));
      return 'OK';
    }
    const c = this.client(client) as unknown as Record<string, (...a: string[]) => Promise<unknown>>;
    const method = c[name!.toLowerCase()];
    if (typeof method !== 'function') throw new Error(`ioredis-mock has no ${name}`);
    try {
      return (await method.apply(c, args)) as Reply;
    } catch (e) {
      return { error: (e as Error).message };
    }
  }

  async inbox(client: Client): Promise<string[]> {
    await drain();
    return this.inboxOf(client).splice(0);
  }

  async disconnect(client: Client): Promise<void> {
    this.clients.get(client)?.disconnect();
    this.clients.delete(client);
    await drain();
  }

  async restart(mode: RestartMode): Promise<void> {
    // The mock has no server to restart: every client disconnects, and without persistence the
    // suite moves to a fresh port (an empty dataset). "With persistence" keeps the port, whose
    // module-global state is all the mock has to stand for an RDB file.
    for (const c of this.clients.values()) c.disconnect();
    this.clients.clear();
    if (mode === 'without-persistence') this.port = mockPort++;
    await drain();
  }

  async advanceTo(ms: number): Promise<void> {
    vi.setSystemTime(MockTarget.EPOCH_MS + ms);
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) c.disconnect();
    vi.useRealTimers();
  }
}

async function drain(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

let realTargets = 0;

/** A real server, reached with ioredis. `prefix` namespaces keys and channels on a shared server. */
class RealTarget implements Target {
  private clients = new Map<Client, Redis>();
  private inboxes = new Map<Client, string[]>();
  private admin: Redis;
  private scriptMs = 0;
  private readonly tag = `hasim-conf-${process.pid}-${++realTargets}`;

  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly prefix: string,
    private readonly server?: OwnServer,
  ) {
    this.admin = this.connect('admin');
  }

  private connect(name: string): Redis {
    const c = new Redis(this.url, {
      connectionName: `${this.tag}-${name}`,
      // The script decides when clients reconnect and resubscribe, not the library.
      autoResubscribe: false,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    c.on('error', () => {}); // a killed server makes every connection error; the script expects it
    return c;
  }

  private client(name: Client): Redis {
    let c = this.clients.get(name);
    if (!c) {
      c = this.connect(name);
      c.on('message', (channel: string, message: string) =>
        this.inboxOf(name).push(`${channel.slice(this.prefix.length)} ${message}`),
      );
      this.clients.set(name, c);
    }
    return c;
  }

  private inboxOf(client: Client): string[] {
    let box = this.inboxes.get(client);
    if (!box) this.inboxes.set(client, (box = []));
    return box;
  }

  async exec(client: Client, argv: readonly string[]): Promise<Reply> {
    const [name, ...args] = argv;
    const upper = name!.toUpperCase();
    const c = this.client(client);
    const p = (s: string): string => this.prefix + s;
    try {
      switch (upper) {
        case 'SUBSCRIBE':
          return (await c.subscribe(...args.map(p))) as number;
        case 'UNSUBSCRIBE':
          return (await c.unsubscribe(...args.map(p))) as number;
        case 'DEL':
        case 'EXISTS':
          return (await c.call(upper, ...args.map(p))) as Reply;
        case 'FLUSHALL':
        case 'DBSIZE':
        case 'SAVE':
        case 'SELECT':
        case 'SCAN': // only its errors are steps; MATCH patterns go through `scanAll`
          return (await c.call(upper, ...args)) as Reply;
        default: // the first argument is the key or channel
          return (await c.call(upper, p(args[0]!), ...args.slice(1))) as Reply;
      }
    } catch (e) {
      return { error: (e as Error).message };
    }
  }

  async scanAll(client: Client, match: string, count: number | undefined): Promise<string[] | { error: string }> {
    const c = this.client(client);
    const keys: string[] = [];
    let cursor = '0';
    try {
      do {
        const args = ['MATCH', this.prefix + match, ...(count === undefined ? [] : ['COUNT', String(count)])];
        const [next, found] = (await c.call('SCAN', cursor, ...args)) as [string, string[]];
        keys.push(...found.map((k) => k.slice(this.prefix.length)));
        cursor = next;
      } while (cursor !== '0');
    } catch (e) {
      return { error: (e as Error).message };
    }
    return keys.sort();
  }

  async inbox(client: Client): Promise<string[]> {
    // The server writes a published message to the subscriber's socket before any later reply, so
    // once a PING on the subscriber's own connection has come back, every earlier message is in.
    const c = this.clients.get(client);
    if (c) await c.ping();
    return this.inboxOf(client).splice(0);
  }

  async disconnect(client: Client): Promise<void> {
    const c = this.clients.get(client);
    if (!c) return;
    this.clients.delete(client);
    c.disconnect();
    // Wait until the server itself has freed the connection (networking.c freeClient), so the next
    // PUBLISH sees it gone rather than racing the FIN.
    await waitFor(async () => !String(await this.admin.call('CLIENT', 'LIST')).includes(`name=${this.tag}-${client} `), 2000, 5);
  }

  async restart(mode: RestartMode): Promise<void> {
    if (!this.server) throw new Error(`${this.name} cannot restart a server it does not own`);
    await this.server.crash();
    for (const c of [...this.clients.values(), this.admin]) c.disconnect();
    this.clients.clear();
    if (mode === 'without-persistence') this.server.wipeData();
    await this.server.boot();
    this.admin = this.connect('admin');
  }

  /**
   * Sleeps for the script's step from the previous advance. Relative, not against a fixed schedule:
   * the real clock then runs ahead of script time only by the commands' own latency, so a real PTTL
   * is never above the model's (see `sameReply`) and a key is never read before its script time.
   */
  async advanceTo(ms: number): Promise<void> {
    const until = performance.now() + (ms - this.scriptMs);
    this.scriptMs = ms;
    for (let left = until - performance.now(); left > 0; left = until - performance.now()) await sleep(left);
  }

  async close(): Promise<void> {
    if (this.prefix) {
      // Leave a shared server as it was, in both databases the script writes.
      for (const db of [0, 1]) {
        await this.admin.select(db);
        const keys = await this.admin.keys(`${this.prefix}*`);
        if (keys.length > 0) await this.admin.del(...keys);
      }
    }
    for (const c of [...this.clients.values(), this.admin]) c.disconnect();
  }
}


// ------------------------------------------------------------------ real servers

const REDIS_URL = process.env.HASIM_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A throwaway redis-server on a free loopback port: no save points, no AOF (SS §0), a private data dir. */
class OwnServer {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'hasim-redis-'));
  private constructor(readonly port: number) {}

  static async start(): Promise<OwnServer> {
    const server = new OwnServer(await freePort());
    await server.boot();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async boot(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    args.push('--dir', this.dir, '--dbfilename', 'dump.rdb', '--daemonize', 'no', '--loglevel', 'warning');
    const child = spawn(REDIS_BIN, args, { stdio: 'ignore' });
    this.child = child;
    await waitFor(() => ping(this.port), 5000, 5);
  }

  /** SIGKILL: a crash, so nothing is saved on the way down; the next boot loads the last SAVE, if any. */
  async crash(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** The data directory is empty at the next boot, as a container restart without a volume (§3.2.6). */
  wipeData(): void {
    rmSync(join(this.dir, 'dump.rdb'), { force: true });
  }

  async stop(): Promise<void> {
    await this.crash();
    rmSync(this.dir, { recursive: true, force: true });
  }
}



/** Whether the server at HASIM_REDIS_URL answers, and its version; the reason when not. */
async function probeUrl(url: string): Promise<{ ok: true; version: string } | { ok: false; reason: string }> {
  const c = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000 });
  let cause: Error | undefined; // the socket error (e.g. ECONNREFUSED) says more than the rejection
  c.on('error', (e: Error) => (cause ??= e));
  try {
    await c.connect();
    const info = await c.info('server');
    return { ok: true, version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown' };
  } catch (e) {
    return { ok: false, reason: `no Redis reachable at ${url} (${(cause ?? (e as Error)).message || 'connection failed'})` };
  } finally {
    c.disconnect();
  }
}

function probeBinary(): { ok: true; version: string } | { ok: false; reason: string } {
  const r = spawnSync(REDIS_BIN, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, reason: `cannot run ${REDIS_BIN} (${r.error?.message ?? `exit ${r.status}`}); set HASIM_REDIS_SERVER or install redis-server` };
  return { ok: true, version: /v=(\S+)/.exec(r.stdout)?.[1] ?? 'unknown' };
}

// ------------------------------------------------------------------ comparisons

function sameReply(step: Step, actual: Reply | string[] | undefined, reference: Reply | string[] | undefined): boolean {
  const tol = 'toleranceMs' in step ? (step.toleranceMs ?? 0) : 0;
  if (tol > 0 && typeof actual === 'number' && typeof reference === 'number') {
    // On real time the clock has run a little further than the script says, never less.
    return actual <= reference && actual >= reference - tol;
  }
  return JSON.stringify(actual) === JSON.stringify(reference);
}

function expectedOf(step: Step): Reply | string[] | undefined {
  return 'expect' in step ? step.expect : undefined;
}

/** Every step with an answer whose `actual` differs from `reference(step)`. */
function mismatches(results: Results, reference: (step: Step) => Reply | string[] | undefined, exact = false) {
  const out: Array<{ step: string; expected: unknown; actual: unknown }> = [];
  for (const step of SCRIPT) {
    if (!results.has(step.id)) continue;
    const actual = results.get(step.id);
    const ref = reference(step);
    const ok = exact ? JSON.stringify(actual) === JSON.stringify(ref) : sameReply(step, actual, ref);
    if (!ok) out.push({ step: step.id, expected: ref, actual });
  }
  return out;
}

function show(v: unknown): string {
  return v === undefined ? '—' : JSON.stringify(v);
}

// ------------------------------------------------------------------ the suite

const urlProbe = await probeUrl(REDIS_URL);
const binProbe = probeBinary();
// Say it where the default reporter shows it, not only in the skipped tests' names.
if (!binProbe.ok) console.warn(`Redis conformance: real redis-server tests SKIPPED: ${binProbe.reason}`);
if (!urlProbe.ok) console.warn(`Redis conformance: HASIM_REDIS_URL tests SKIPPED: ${urlProbe.reason}`);
const mockVersion = (
  JSON.parse(readFileSync(join(dirname(createRequire(import.meta.url).resolve('ioredis-mock')), '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

let modelResults: Results | undefined;
async function model(): Promise<Results> {
  return (modelResults ??= await runScript(new ModelTarget()));
}

describe('Redis conformance script', () => {
  test('the script covers every modelled command and every kind of step', () => {
    const commands = new Set(SCRIPT.flatMap((s) => ('cmd' in s ? [s.cmd[0]] : [])));
    for (const c of ['SET', 'GET', 'DEL', 'EXISTS', 'EXPIRE', 'PEXPIRE', 'TTL', 'PTTL', 'FLUSHALL', 'DBSIZE', 'SAVE', 'PUBLISH', 'SUBSCRIBE', 'UNSUBSCRIBE', 'SELECT', 'SCAN']) {
      expect(commands, c).toContain(c);
    }
    expect(SCRIPT.some((s) => 'scan' in s)).toBe(true);
    expect(SCRIPT.some((s) => 'disconnect' in s)).toBe(true);
    expect(SCRIPT.filter((s) => 'restart' in s).map((s) => ('restart' in s ? s.restart : ''))).toEqual(['with-persistence', 'without-persistence']);
    expect(new Set(SCRIPT.map((s) => s.id)).size).toBe(SCRIPT.length);
    for (const d of MOCK_DIFFERENCES) expect(SCRIPT.map((s) => s.id), d.step).toContain(d.step);
  });

  test('the keyspace model gives the recorded real-Redis answer at every step', async () => {
    // The model runs on exact virtual time, so it must hit the recorded answer exactly.
    expect(mismatches(await model(), expectedOf, true)).toEqual([]);
  });

  test(`ioredis-mock ${mockVersion} differs from real Redis exactly at the recorded steps`, async () => {
    const mock = await runScript(new MockTarget());
    const recorded = new Map(MOCK_DIFFERENCES.map((d) => [d.step, d]));
    const found = mismatches(mock, expectedOf, true);
    const rows = MOCK_DIFFERENCES.map((d) => {
      const step = SCRIPT.find((s) => s.id === d.step)!;
      const cmd = 'cmd' in step
        ? `${step.client}: ${step.cmd.join(' ')}`
        : 'scan' in step ? `${step.client}: SCAN ... MATCH ${step.scan}` : 'inbox' in step ? `inbox ${step.inbox}` : '';
      return `  ${d.step.padEnd(5)} ${cmd.padEnd(44)} real ${show(expectedOf(step)).padEnd(52)} mock ${show(mock.get(d.step)).padEnd(16)} ${d.why}`;
    });
    console.log(`ioredis-mock ${mockVersion} vs real Redis 7.0 (${MOCK_DIFFERENCES.length} differences):\n${rows.join('\n')}`);
    // Any step where the mock differs must be a recorded difference, with the recorded answer...
    const unrecorded = found.filter((m) => !recorded.has(m.step));
    expect(unrecorded, 'mock differences not in MOCK_DIFFERENCES').toEqual([]);
    // ...and every recorded difference must still be there.
    const vanished = MOCK_DIFFERENCES.filter((d) => JSON.stringify(mock.get(d.step)) !== JSON.stringify(d.mock)).map((d) => ({
      step: d.step,
      recordedMock: d.mock,
      actualMock: mock.get(d.step),
    }));
    expect(vanished, 'recorded mock differences that changed').toEqual([]);
  });

  const serverTitle = binProbe.ok
    ? `real redis-server ${binProbe.version} started by the suite (whole script, with restarts)`
    : `real redis-server started by the suite — SKIPPED: ${binProbe.reason}`;
  describe.skipIf(!binProbe.ok)(serverTitle, () => {
    let server: OwnServer | undefined;
    afterAll(async () => server?.stop());

    test('answers as recorded, and the model agrees with it step by step', async () => {
      server = await OwnServer.start();
      const t0 = performance.now();
      const real = await runScript(new RealTarget('own redis-server', server.url, '', server));
      console.log(`whole script on a real redis-server: ${Math.round(performance.now() - t0)} ms`);
      expect(real.size).toBe(SCRIPT.filter((s) => 'expect' in s).length);
      expect(mismatches(real, expectedOf), 'real Redis vs the recorded answers').toEqual([]);
      const m = await model();
      expect(mismatches(real, (s) => m.get(s.id)), 'real Redis vs the model').toEqual([]);
    });
  });

  const urlTitle = urlProbe.ok
    ? `real Redis ${urlProbe.version} at HASIM_REDIS_URL=${REDIS_URL} (steps before the first own-server step)`
    : `real Redis at HASIM_REDIS_URL — SKIPPED: ${urlProbe.reason}`;
  describe.skipIf(!urlProbe.ok)(urlTitle, () => {
    test('answers as recorded, and the model agrees with it step by step', async () => {
      const prefix = `hasim-conformance:${process.pid}:${Math.floor(performance.now())}:`;
      const real = await runScript(new RealTarget('HASIM_REDIS_URL', REDIS_URL, prefix), { stopAtOwnServerStep: true });
      const ran = SCRIPT.slice(0, SCRIPT.findIndex(needsOwnServer)).filter((s) => 'expect' in s).length;
      expect(real.size).toBe(ran);
      expect(mismatches(real, expectedOf), 'real Redis vs the recorded answers').toEqual([]);
      const m = await model();
      expect(mismatches(real, (s) => m.get(s.id)), 'real Redis vs the model').toEqual([]);
    });
  });

  const evictionTitle = binProbe.ok
    ? `maxmemory on a real redis-server ${binProbe.version} (what is testable: Redis's LRU is sampled on a 1 s clock)`
    : `maxmemory on a real redis-server — SKIPPED: ${binProbe.reason}`;
  describe.skipIf(!binProbe.ok)(evictionTitle, () => {
    let server: OwnServer | undefined;
    const clients: Redis[] = [];
    afterAll(async () => {
      for (const c of clients) c.disconnect();
      await server?.stop();
    });
    const connect = async (db: number): Promise<Redis> => {
      server ??= await OwnServer.start();
      const c = new Redis(server.url, { db, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      clients.push(c);
      return c;
    };
    const info = async (c: Redis, field: string): Promise<number> => Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(await c.info())![1]);
    const reply = async (p: Promise<unknown>): Promise<Reply> => {
      try {
        return (await p) as Reply;
      } catch (e) {
        return { error: (e as Error).message };
      }
    };

    test('noeviction: over maxmemory, SET is refused with the OOM text while GET, EXISTS and DEL run; the model agrees', async () => {
      const c = await connect(0);
      await c.flushall();
      await c.config('SET', 'maxmemory-policy', 'noeviction');
      // The server's own memory (about 0.9 MB) is over 1 byte: what the model counts as pressure (memory.ts).
      await c.config('SET', 'maxmemory', '1');
      const script: string[][] = [['SET', 'session:a', 's', 'EX', '86400'], ['GET', 'session:a'], ['EXISTS', 'session:a'], ['DEL', 'session:a'], ['EXPIRE', 'session:a', '10']];
      const real: Reply[] = [];
      for (const argv of script) real.push(await reply(c.call(argv[0]!, ...argv.slice(1))));
      await c.config('SET', 'maxmemory', '0');
      const model = new ModelTarget({ maxmemoryBytes: 1, evictionPolicy: 'noeviction', pressureBytes: 900_000 });
      const modelled: Reply[] = [];
      for (const argv of script) modelled.push(await model.exec('a', argv));
      expect(real).toEqual([{ error: "OOM command not allowed when used memory > 'maxmemory'." }, null, 0, 0, 0]);
      expect(modelled).toEqual(real);
    });

    test('allkeys-lru across databases: every write succeeds, the older database loses keys and the newer one none; the per-key estimate is within 20 %', async () => {
      const hubKeys = 3000;
      const sessions = 1000;
      const headroom = 100_000;
      const hubKey = (i: number) => `agent:${i}:pod`;
      const sessionKey = (i: number) => `session:${i.toString(16).padStart(36, '0')}`;
      const hubValue = 'x'.repeat(200);
      const sessionValue = 'y'.repeat(100);

      const c0 = await connect(0);
      const c1 = await connect(1);
      await c0.flushall();
      await c0.config('SET', 'maxmemory', '0');
      await c0.config('SET', 'maxmemory-policy', 'allkeys-lru');
      await c0.config('RESETSTAT');
      const before = await info(c0, 'used_memory');
      for (let i = 0; i < hubKeys; i += 100) {
        const p = c1.pipeline();
        for (let j = i; j < i + 100; j++) p.set(hubKey(j), hubValue, 'EX', 300);
        await p.exec();
      }
      const afterHub = await info(c0, 'used_memory');
      // Redis's LRU clock ticks once a second: the sessions must be written in a later tick than the
      // hub keys for "older" to mean anything to real Redis.
      await sleep(1500);
      await c0.config('SET', 'maxmemory', String(afterHub + headroom));
      const setReplies = new Set<unknown>();
      for (let i = 0; i < sessions; i += 50) {
        const p = c0.pipeline();
        for (let j = i; j < i + 50; j++) p.set(sessionKey(j), sessionValue, 'EX', 86400);
        for (const [err, r] of (await p.exec())!) setReplies.add(err ? err.message : r);
      }
      const real = { setReplies: [...setReplies], db0: await c0.dbsize(), db1: await c1.dbsize(), evicted: await info(c0, 'evicted_keys') };
      await c0.config('SET', 'maxmemory', '0');

      // The model, with its own estimate of what the hub keys take plus the same headroom.
      const hubBytes = Array.from({ length: hubKeys }, (_, i) => keyMemoryBytes(hubKey(i), hubValue.length, true)).reduce((a, b) => a + b, 0);
      const model = new ModelTarget({ maxmemoryBytes: hubBytes + headroom });
      await model.exec('c1', ['SELECT', '1']);
      for (let i = 0; i < hubKeys; i++) await model.exec('c1', ['SET', hubKey(i), hubValue, 'EX', '300']);
      const modelReplies = new Set<unknown>();
      for (let i = 0; i < sessions; i++) modelReplies.add(await model.exec('a', ['SET', sessionKey(i), sessionValue, 'EX', '86400']));
      const hub = model.databases.db(1);
      const modelled = { setReplies: [...modelReplies], db0: model.databases.db(0).storedKeys, db1: hub.storedKeys, evicted: hub.stats.evictedKeys };
      console.log(`allkeys-lru across databases: real ${JSON.stringify(real)}, model ${JSON.stringify(modelled)}; bytes per hub key: real ${((afterHub - before) / hubKeys).toFixed(1)}, estimate ${(hubBytes / hubKeys).toFixed(1)}`);

      for (const r of [real, modelled]) {
        expect(r.setReplies).toEqual(['OK']);
        expect(r.db0).toBe(sessions);
        expect(r.db1).toBeLessThan(hubKeys);
        expect(r.evicted).toBe(hubKeys - r.db1);
      }
      // The model's LRU is exact: the hub keys gone are exactly the first ones written.
      expect(hub.lastAccess(hubKey(modelled.evicted - 1))).toBeUndefined();
      expect(hub.lastAccess(hubKey(modelled.evicted))).toBeDefined();
      expect(Math.abs((afterHub - before) / hubBytes - 1)).toBeLessThan(0.2);
    });
  });
});
