import { RpcClient, serveRpc, type ProcessContext, type ProcessBehaviour, type RpcResult } from '../../index.ts';
import type { HakgalConfig } from './config.ts';
import { hakgalEvents } from './events.ts';
import type { CasReply, GuardReply, SessionCommand } from './redis.ts';
import { formatBlob, hashedId, parseBlob, saltDays, sessionKey, type SessionBlob } from './session.ts';

/** A user's request to a pod: a chat turn (a trajectory vector) or a transfer through FinancialToolGuard. */
export interface PodRequest {
  req: string;
  tenant: string;
  user: string;
  op: 'chat' | 'transfer';
  /** amount < 1.0: the guard's micro-transfer rule applies. */
  micro: boolean;
}

export type PodReply =
  | { status: 200; sid: string; tx: number; trajectory: number; executed: boolean; blocked: boolean }
  | { status: 400 | 503; reason: string };

/** What a scenario's scripted `clear_cache()` reaches (the seed's "pod death", spec §0.1). */
export interface ManagerHandle {
  clearCache(): void;
}

/** The one HMAC key of a `configured` deployment or the `shared-secret` fix (a mounted Secret). */
const SHARED_SECRET = 'secret/hakgal-session-hmac';
/** How often a version-checked update re-reads and redoes itself before giving up (503). */
const CAS_ATTEMPTS = 5;

/**
 * One HAK_GAL pod: an HTTP handler in front of `RedisSessionManager` (spec seeds-001-004 §1), and
 * FinancialToolGuard. Everything in this closure is the process's memory, lost with it: the
 * session cache and, as built, the HMAC secret itself (`CryptoUtils()` without a key draws
 * `secrets.token_bytes(32)` per process, spec §0.1).
 */
export function hakgalPod(ctx: ProcessContext, config: HakgalConfig, register: (handle: ManagerHandle) => void): ProcessBehaviour {
  const { fixes, session, clock } = config;
  const shared = fixes.sharedSecret || config.pod.secret === 'configured';
  const secret = shared ? SHARED_SECRET : `token-${ctx.random('secret').int(0, 2 ** 31 - 1)}-${ctx.random('secret').int(0, 2 ** 31 - 1)}`;
  // `_sessions`: hashed_id → SessionState; no TTL, no bound, never invalidated (spec §1). Keyed by
  // the hashed id alone, not by tenant.
  const cache = new Map<string, SessionBlob>();
  register({ clearCache: () => cache.clear() });
  // redis-py: one connection, socket_timeout 5 s (the connect timeout falls back to it [I]), no retry on timeout (its default).
  const redis = new RpcClient(ctx, { target: 'redis', connectTimeoutUs: config.redis.readTimeoutUs, requestTimeoutUs: config.redis.readTimeoutUs });
  const command = <T>(c: SessionCommand, cb: (r: RpcResult<T>) => void): void => redis.call<T>(c, cb);
  let created = 0;
  hakgalEvents.record(ctx, 'pod.ready', { secret: shared ? 'shared' : 'per-process', ttlSeconds: session.ttlSeconds });

  const handle = (r: PodRequest, reply: (x: PodReply) => void): void => {
    // tenant-id-validation: "a"+"b:c" and "a:b"+"c" would hash alike and share an ACL glob.
    if (fixes.tenantIdValidation && (r.tenant.includes(':') || r.user.includes(':'))) return reply({ status: 400, reason: 'invalid tenant or user id' });
    const ids = saltDays(ctx.now(), clock.startTimeOfDayUs, fixes.utcSaltWithOverlap).map((day) => hashedId(secret, r.tenant, r.user, day));
    const fresh = (): SessionBlob => ({ sid: `${ctx.name}/${ctx.incarnation}/${++created}`, tenant: r.tenant, user: r.user, tx: 0, trajectory: 0, createdAt: ctx.now(), version: 0 });

    /** Acts on the session as loaded: records what the decision rests on (the checkers judge it). */
    const serve = (hid: string, blob: SessionBlob, isFresh: boolean, attempt: number): void => {
      const key = sessionKey(r.tenant, hid);
      const served = (b: SessionBlob, fromFresh: boolean): void => hakgalEvents.record(ctx, 'hk.serve', {
        req: r.req, tenant: r.tenant, user: r.user, sid: b.sid, owner: JSON.stringify([b.tenant, b.user]), tx: b.tx, trajectory: b.trajectory, fresh: fromFresh,
      });
      const executed = (b: SessionBlob): void => hakgalEvents.record(ctx, 'hk.transfer', { req: r.req, tenant: r.tenant, user: r.user, micro: r.micro, sid: b.sid });
      const ok = (b: SessionBlob, didExecute: boolean, blocked: boolean): void => reply({ status: 200, sid: b.sid, tx: b.tx, trajectory: b.trajectory, executed: didExecute, blocked });
      const fail = (reason: string): void => reply({ status: 503, reason });
      const retry = (): void => {
        if (attempt + 1 >= CAS_ATTEMPTS) return fail('too many conflicting updates');
        load(attempt + 1);
      };

      // atomic-counter: the guard's check and increment in one script; the transfer runs only once it is counted.
      if (r.op === 'transfer' && fixes.atomicCounter) {
        const guard = (): void => command<GuardReply>({ cmd: 'GUARD', acl: r.tenant, key, seconds: session.ttlSeconds, limit: session.microLimit, micro: r.micro }, (g) => {
          if (!g.ok) return fail(`guard: ${g.message}`);
          if (g.value.outcome === 'absent') return fail('guard: session vanished');
          const after = parseBlob(g.value.value);
          const before = g.value.outcome === 'allowed' ? { ...after, tx: after.tx - 1 } : after;
          served(before, isFresh);
          cache.set(hid, after);
          if (g.value.outcome === 'blocked') return ok(after, false, true);
          executed(after);
          ok(after, true, false);
        });
        // A new session is stored before the script can count on it.
        if (!isFresh) return guard();
        return persist(key, { ...blob, version: blob.version + 1 }, (stored) => (stored === true ? guard() : stored === false ? retry() : fail(stored)));
      }

      // FinancialToolGuard (spec §1): blocks when amount < 1.0 AND tx_count_1h > 50, a check on
      // the state just loaded, then the act: not atomic, no fencing.
      const blocked = r.op === 'transfer' && r.micro && blob.tx > session.microLimit;
      const next: SessionBlob = r.op === 'chat'
        ? { ...blob, trajectory: Math.min(session.trajectoryMax, blob.trajectory + 1), version: blob.version + 1 }
        : blocked ? { ...blob, version: blob.version + 1 } : { ...blob, tx: blob.tx + 1, version: blob.version + 1 };
      const act = (): void => {
        served(blob, isFresh);
        if (r.op === 'transfer' && !blocked) executed(next);
        ok(next, r.op === 'transfer' && !blocked, blocked);
      };
      // As built the update goes to the cache first, then to Redis, errors swallowed; with
      // `create-task` the tool runs and the user is answered before the write has even been sent.
      const swallowing = !fixes.versionCheckedCache && !fixes.writeThrough;
      if (swallowing) cache.set(hid, next);
      if (swallowing && config.pod.writes === 'create-task') {
        act();
        return persist(key, next, () => undefined);
      }
      // write-through / version-checked: the tool runs and the user is answered once the update is stored.
      persist(key, next, (stored) => {
        if (stored === false) return retry();
        if (stored !== true) return fail(stored);
        if (!swallowing) cache.set(hid, next);
        act();
      });
    };

    /**
     * Writes the whole blob (spec §1: read-modify-write, SETEX 3600, TTL sliding on writes only).
     * `done(true)` once stored, `done(false)` on a version conflict, `done(message)` on an error.
     */
    const persist = (key: string, b: SessionBlob, done: (stored: true | false | string) => void): void => {
      const value = formatBlob(b);
      if (fixes.versionCheckedCache) {
        return command<CasReply>({ cmd: 'CAS', acl: r.tenant, key, seconds: session.ttlSeconds, expected: b.version - 1, value }, (c) => done(!c.ok ? c.message : c.value.stored));
      }
      // `create-task`: asyncio.create_task(self._save(...)); the caller goes on at once.
      const awaited = config.pod.writes === 'await' || fixes.writeThrough;
      command<string>({ cmd: 'SETEX', acl: r.tenant, key, seconds: session.ttlSeconds, value }, (w) => {
        if (!w.ok) ctx.record('hk.write-error', { req: r.req, key, error: w.message });
        if (awaited) done(w.ok || !fixes.writeThrough ? true : `write: ${w.message}`);
      });
      if (!awaited) done(true);
    };

    /** get_or_create: cache hit (maybe stale), else GET for each id in turn, else a new empty session. */
    const load = (attempt: number): void => {
      if (!fixes.versionCheckedCache) {
        const hid = ids.find((id) => cache.has(id));
        if (hid !== undefined) return serve(hid, cache.get(hid)!, false, attempt);
      }
      const next = (i: number): void => {
        if (i === ids.length) return serve(ids[0]!, fresh(), true, attempt);
        command<string | null>({ cmd: 'GET', acl: r.tenant, key: sessionKey(r.tenant, ids[i]!) }, (g) => {
          if (!g.ok) {
            ctx.record('hk.read-error', { req: r.req, error: g.message });
            // As built any exception is "absent": a new empty session is written over the live one.
            if (fixes.failClosedOnReadError) return reply({ status: 503, reason: `read: ${g.message}` });
            return serve(ids[0]!, fresh(), true, attempt);
          }
          if (g.value === null) return next(i + 1);
          const blob = parseBlob(g.value);
          if (!fixes.versionCheckedCache) cache.set(ids[i]!, blob);
          serve(ids[i]!, blob, false, attempt);
        });
      };
      next(0);
    };
    load(0);
  };

  return {
    onAccept(conn) {
      serveRpc(conn, (body, reply) => handle(body as PodRequest, (x) => reply({ ok: true, value: x })));
    },
  };
}
