import { SECOND, type Micros, type ProcessContext } from '../../../sim-cluster/index.ts';
import type { RpcResult } from '../net/rpc.ts';
import type { AuthConfig, FixesConfig } from '../config.ts';

/**
 * What the cache (api/internal/cache/cache.go) sends to Redis DB 0: a go-redis v9 client with
 * PoolSize 25, DialTimeout 5 s, Read/WriteTimeout 3 s and MaxRetries 3 (cache.go NewCache).
 */
export interface CachePort {
  ping(timeoutUs: Micros, cb: (r: RpcResult<unknown>) => void): void;
  exists(key: string, cb: (r: RpcResult<number>) => void): void;
  get(key: string, cb: (r: RpcResult<string | null>) => void): void;
  set(key: string, value: string, exSeconds: number, cb: (r: RpcResult<unknown>) => void): void;
  /** `deadline`: the Go context's (local monotonic µs): no retry starts after it, a wait ends at it. */
  del(keys: string[], cb: (r: RpcResult<number>) => void, deadline?: Micros): void;
  /** One SCAN round trip: `[next cursor, keys]`, cursor 0 when the iteration is over. */
  scan(cursor: number, match: string, cb: (r: RpcResult<readonly [number, string[]]>) => void, deadline?: Micros): void;
}

/**
 * Design fix `sessions-in-postgres`: the SessionStore's calls as PostgreSQL statements (the
 * database client's methods, postgres/client.ts).
 */
export interface SessionRowsPort {
  insertSession(jti: string, user: number, ttlUs: Micros, cb: (r: RpcResult<number>) => void): void;
  sessionOfUser(jti: string, user: number, cb: (r: RpcResult<boolean>) => void): void;
  deleteSession(jti: string, cb: (r: RpcResult<number>) => void): void;
  clearSessions(cb: (r: RpcResult<number>) => void): void;
}

/**
 * The outcome of AuthMiddleware's session check: valid, or why the request is refused.
 * `user-valid`: the check was GetUser's query too (fix `sessions-in-postgres`), so the user needs no
 * second lookup; `store-error`: the store did not answer.
 */
export type SessionCheck = 'valid' | 'user-valid' | 'missing' | 'store-error';

/** A Go context as the cache's calls carry it: a deadline, or cancelled already. */
type CallContext = { deadline: Micros } | 'cancelled';

/**
 * The auth SessionStore and the cache middlewares of one API-pod incarnation, as built
 * (spec seeds-001-004 §0 item 2):
 * - start-up (api/cmd/main.go:91-113): cache.NewCache PINGs Redis with a 5 s deadline; if it fails
 *   the pod runs with a disabled cache **for its whole life**: IsEnabled() is false, so
 *   ValidateSession returns true for every token (session_store.go ValidateSession: "If Redis is
 *   disabled, assume all sessions are valid"), CreateSession and DeleteSession do nothing;
 * - then ClearAllSessions (api/cmd/main.go:326-336, session_store.go ClearAllSessions): a
 *   DeletePattern("session:*") with a 10 s context — every user of every pod is logged out;
 * - AuthMiddleware (middleware.go:240-255): EXISTS session:{jti}; an error or a missing key is a 401;
 * - login (handlers.go:236, jwt.go:476-500): SET session:{jti} EX 24 h; an error is only logged,
 *   the token is returned anyway;
 * - logout (handlers.go:345): DEL session:{jti}; an error is only logged, the answer is 200;
 * - CacheMiddleware on GET /sessions (cache/middleware.go): GET `response:<sha256(uri:user)>`, and
 *   after a miss answered 2xx a `go cache.Set(c.Request.Context(), key, resp, 30 s)`;
 * - InvalidateCacheMiddleware on POST/DELETE /sessions: after a 2xx, `go
 *   cache.DeletePattern(c.Request.Context(), "session:*")`.
 *
 * The two `go` calls use the request's context, which net/http cancels as soon as the handler
 * returns (server.go finishRequest → cancelCtx). The goroutine is queued on the serving P's
 * `runnext` and runs when the serving goroutine next blocks, after it has returned; go-redis's first
 * step, pool.waitTurn (internal/pool/pool.go:1164-1170), returns ctx.Err() for a cancelled context
 * before anything is sent. So as built neither call reaches Redis: the response cache is never
 * filled and the invalidation never runs. The model takes that outcome (`cache.cancelled`); design
 * fix `detached-invalidate-context` gives both a context of their own, and then the invalidation's
 * pattern `session:*` (cache/keys.go:173 SessionPattern) matches every auth session: fix
 * `namespaced-cache-keys` moves the cache's session keys to `cache:sessions:*`.
 *
 * Design fix `sessions-in-postgres` keeps the sessions in PostgreSQL instead (`rows`): CreateSession,
 * the check (joined into GetUser's query), the logout's delete and the start-up clear become
 * statements, whether or not the cache is enabled; the cache keeps only the response cache. The
 * sessions then have the database's durability: what a failover of Redis's asynchronous
 * replication loses, or an isolated old master still answers, no longer decides who is logged in.
 */
export class SessionAuth {
  /** cache.IsEnabled(): fixed at start-up as built. */
  private enabled = false;
  /** Whether this incarnation has recorded that its background cache calls are cancelled (once: they all are). */
  private cancelledRecorded = false;
  /** `listKey` by user id. */
  private readonly listKeys: string[] = [];

  constructor(
    private readonly ctx: ProcessContext,
    private readonly cache: CachePort,
    private readonly rows: SessionRowsPort,
    private readonly config: AuthConfig,
    private readonly fixes: FixesConfig,
  ) {}

  get isEnabled(): boolean {
    return this.enabled;
  }

  /** NewCache's PING, then ClearAllSessions; `done` is called when start-up may go on. */
  start(done: () => void): void {
    this.cache.ping(this.config.cachePingTimeoutUs, (r) => {
      this.enabled = r.ok;
      this.ctx.record('auth.cache', { enabled: r.ok });
      if (!r.ok && this.fixes.retryCacheEnable) this.retryEnable();
      if (this.fixes.keepSessionsOnStart) return done();
      if (this.fixes.sessionsInPostgres) return this.clearRows(done);
      if (!r.ok) return done();
      const deadline = this.ctx.monotonic() + this.config.clearSessionsTimeoutUs;
      this.deletePattern('session:*', { deadline }, (removed, error) => {
        this.ctx.record('auth.clear-sessions', { removed, error });
        done();
      });
    });
  }

  /** Design fix `retry-cache-enable`: PING until Redis answers, then enable the cache. */
  private retryEnable(): void {
    this.ctx.setTimer(this.config.cacheRetryEveryUs, () => {
      this.cache.ping(this.config.cachePingTimeoutUs, (r) => {
        if (!r.ok) return this.retryEnable();
        this.enabled = true;
        this.ctx.record('auth.cache', { enabled: true });
      });
    }, 'auth.cache-retry');
  }

  /**
   * ClearAllSessions with fix `sessions-in-postgres` (as built it runs at every start, so it stays):
   * the DELETE, whose failure is only logged as the Redis one's is (api/cmd/main.go:331-335).
   */
  private clearRows(done: () => void): void {
    this.rows.clearSessions((r) => {
      this.ctx.record('auth.clear-sessions', { removed: r.ok ? r.value : 0, error: r.ok ? null : r.error });
      done();
    });
  }

  /** AuthMiddleware's ValidateSession (with fix `sessions-in-postgres`, joined with GetUser). */
  validate(jti: string, user: number, cb: (check: SessionCheck) => void): void {
    if (this.fixes.sessionsInPostgres) return this.rows.sessionOfUser(jti, user, (r) => cb(!r.ok ? 'store-error' : r.value ? 'user-valid' : 'missing'));
    if (!this.enabled) return cb('valid');
    this.cache.exists(this.sessionKey(jti), (r) => cb(!r.ok ? 'store-error' : r.value > 0 ? 'valid' : 'missing'));
  }

  /**
   * GenerateTokenWithContext's CreateSession: errors are logged, never returned (jwt.go:496-500),
   * so `done(true)` whatever happened; with fix `fail-login-without-session`, `done(false)` when the
   * session was not stored, and the login fails.
   */
  createSession(jti: string, user: number, done: (stored: boolean) => void): void {
    const stored = (r: RpcResult<unknown>): void => {
      if (!r.ok) this.ctx.record('auth.session-not-stored', { jti, error: r.error });
      done(r.ok || !this.fixes.failLoginWithoutSession);
    };
    if (this.fixes.sessionsInPostgres) return this.rows.insertSession(jti, user, this.config.tokenTtlSeconds * SECOND, stored);
    if (!this.enabled) return done(true);
    this.cache.set(this.sessionKey(jti), jti, this.config.tokenTtlSeconds, stored);
  }

  /** Logout's InvalidateSession: errors are logged, the answer is 200 anyway (handlers.go:345-360). */
  deleteSession(jti: string, done: () => void): void {
    const deleted = (r: RpcResult<unknown>): void => {
      if (!r.ok) this.ctx.record('auth.session-not-deleted', { jti, error: r.error });
      done();
    };
    if (this.fixes.sessionsInPostgres) return this.rows.deleteSession(jti, deleted);
    if (!this.enabled) return done();
    this.cache.del([this.sessionKey(jti)], deleted);
  }

  /** CacheMiddleware's lookup for GET /sessions: whether a cached answer exists. */
  cachedList(user: number, cb: (hit: boolean) => void): void {
    if (!this.enabled) return cb(false);
    this.cache.get(this.listKey(user), (r) => cb(r.ok && r.value !== null));
  }

  /** CacheMiddleware's `go cache.Set(...)` after a 2xx miss. */
  storeList(user: number): void {
    if (!this.enabled) return;
    const context = this.backgroundContext();
    if (context === 'cancelled') return this.cancelled('set');
    this.cache.set(this.listKey(user), '[]', this.config.responseCacheTtlSeconds, () => {});
  }

  /** InvalidateCacheMiddleware's `go cache.DeletePattern(...)` after a 2xx write. */
  invalidateSessions(): void {
    if (!this.enabled) return;
    const context = this.backgroundContext();
    if (context === 'cancelled') return this.cancelled('delete-pattern');
    this.deletePattern(this.invalidationPattern(), context, (removed, error) => {
      this.ctx.record('cache.invalidated', { removed, error });
    });
  }

  /** Records the first background call the cancelled context stops (every later one is stopped alike). */
  private cancelled(op: 'set' | 'delete-pattern'): void {
    if (this.cancelledRecorded) return;
    this.cancelledRecorded = true;
    this.ctx.record('cache.cancelled', { op });
  }

  /** The request's context once the handler has returned, or (fix) a detached one with a deadline. */
  private backgroundContext(): CallContext {
    if (!this.fixes.detachedInvalidateContext) return 'cancelled';
    return { deadline: this.ctx.monotonic() + this.config.detachedContextTimeoutUs };
  }

  /**
   * Cache.DeletePattern (cache.go): `Scan(ctx, 0, pattern, 0).Iterator()` collects every matching
   * key, one SCAN round trip per cursor step, then one DEL of them all; the first error ends it
   * (iter.Err()). A call after the context's deadline fails at once (pool.waitTurn).
   */
  private deletePattern(pattern: string, context: { deadline: Micros }, done: (removed: number, error: string | null) => void): void {
    const keys: string[] = [];
    const step = (cursor: number): void => {
      if (this.ctx.monotonic() >= context.deadline) return done(0, 'context deadline exceeded');
      this.cache.scan(cursor, pattern, (r) => {
        if (!r.ok) return done(0, r.error);
        const [next, found] = r.value;
        for (const k of found) keys.push(k);
        if (next !== 0) return step(next);
        if (keys.length === 0) return done(0, null);
        if (this.ctx.monotonic() >= context.deadline) return done(0, 'context deadline exceeded');
        this.cache.del(keys, (d) => done(d.ok ? d.value : 0, d.ok ? null : d.error), context.deadline);
      }, context.deadline);
    };
    step(0);
  }

  /** session_store.go sessionKey: `session:{jti}`. */
  private sessionKey(jti: string): string {
    return `session:${jti}`;
  }

  /**
   * CacheMiddleware's key for GET /sessions, `response:<sha256(uri:user:<id>)>` (middleware.go
   * generateCacheKey); the model keeps the user id readable instead of hashing it. With fix
   * `namespaced-cache-keys` it lives under the pattern the session routes invalidate.
   */
  private listKey(user: number): string {
    // Built once per user: a number's conversion and a fresh string's hashing on every request
    // showed in profiles (only the model's speed depends on it).
    let key = this.listKeys[user];
    if (key === undefined) {
      key = this.fixes.namespacedCacheKeys ? `cache:sessions:user:${user}` : `response:sessions:user:${user}`;
      this.listKeys[user] = key;
    }
    return key;
  }

  private invalidationPattern(): string {
    return this.fixes.namespacedCacheKeys ? 'cache:sessions:*' : 'session:*';
  }
}
