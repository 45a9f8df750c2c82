import type { BootFn, ConnectionEnd, ProcessContext, TimerHandle } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart } from '../../../sim-cluster/statechart/index.ts';
import { ok, type RpcResult } from '../net/rpc.ts';
import { HttpServer } from './http-server.ts';
import type { ApiCpuConfig, ApiPodConfig, AuthConfig, FixesConfig } from '../config.ts';
import type { HttpRequest, HttpResponse, Token } from '../wire.ts';
import { AgentHub } from './agent-hub.ts';
import { apiPodMachine, type ApiPodComponent, type ApiPodEvent } from './api-pod-machine.ts';
import { AgentSocket, type CommandRowsPort } from './agent-socket.ts';
import { CommandDispatcher, type DispatchedCommand, type DispatcherRowsPort } from './command-dispatcher.ts';
import type { HubDbPort, HubRedisPort, PubSubPort } from './ports.ts';
import type { PodCpu } from './cpu.ts';
import { startRedisListener } from './redis-listener.ts';
import { SessionAuth, type CachePort, type SessionRowsPort } from './session-auth.ts';

/** Everything the API pod reads and writes in PostgreSQL. */
export interface ApiDbPort extends HubDbPort, CommandRowsPort, DispatcherRowsPort, SessionRowsPort {
  /** Producers insert a `pending` row (§5.2). */
  insertCommand(row: { commandId: string; agentId: string; sessionId: string; action: string }, cb: (r: RpcResult<unknown>) => void): void;
  /** HTTP register upserts the agents row, online (§7.3 step 1). */
  upsertAgentOnRegister(agentId: string, cb: (r: RpcResult<unknown>) => void): void;
  /** HandleAgentConnection looks the agent up (§3 step 2); null when there is no row. */
  agentExists(agentId: string, cb: (r: RpcResult<boolean>) => void): void;
  /** Design fix `redeliver-unfinished`: rows pending/sent/ack not updated for `staleUs`. */
  listUnfinishedCommands(staleUs: number, cb: (r: RpcResult<DispatchedCommand[]>) => void): void;
  /** The users' reads (postgres/statements.ts): login's two SELECTs, AuthMiddleware's GetUser, ListSessions. */
  userRead(stmt: 'auth.verify-password' | 'auth.user-groups' | 'auth.get-user' | 'sessions.list', user: number, cb: (r: RpcResult<unknown>) => void): void;
}

/** Clients of one API-pod incarnation, built at boot (connections die with the process). */
export interface ApiPodClients {
  db: ApiDbPort;
  redis: HubRedisPort;
  pubsub: PubSubPort;
  /** The start-up PING (§4: 5 s). */
  ping(cb: (r: RpcResult<unknown>) => void): void;
  /** The cache's own go-redis client on DB 0 (api/internal/cache/cache.go). */
  cache: CachePort;
}

export interface ApiPodOptions {
  config: ApiPodConfig;
  /** Design fixes; all off for the as-built profile. */
  fixes: FixesConfig;
  /** Builds the pod's DB and Redis clients for a fresh incarnation. */
  clients(ctx: ProcessContext): ApiPodClients;
  /** Tells the load balancer whether this pod takes new connections (readiness). */
  setReady(ready: boolean): void;
  /** The auth session store's settings (used when `config.cacheEnabled`). */
  auth: AuthConfig;
  /** The pod's CPU and what users' requests cost on it. */
  cpu: { config: ApiCpuConfig; meter: PodCpu };
}

/** The lifecycle's statechart (api-pod-machine.ts), compiled once: a machine the stepper cannot run fails here, at load time. */
const API_POD = compileMachine(apiPodMachine);

/** The events without data, made once. */
const STARTED: ApiPodEvent = { type: 'STARTED' };
const CACHE_READY: ApiPodEvent = { type: 'CACHE_READY' };
const PING_OK: ApiPodEvent = { type: 'PING_OK' };
const RETRY: ApiPodEvent = { type: 'RETRY' };
const SCANNED: ApiPodEvent = { type: 'SCANNED' };
const SIGTERM: ApiPodEvent = { type: 'SIGTERM' };

/**
 * One API-pod incarnation's lifecycle: the statechart of api-pod-machine.ts, run by the kernel's
 * compiled stepper with this object as its context. The class keeps the clients, the session store,
 * the hub and the dispatcher, and answers the work the statechart starts with events.
 */
class ApiPodLifecycle implements ApiPodComponent {
  private readonly mode: Statechart<ApiPodLifecycle, ApiPodEvent, TimerHandle>;
  readonly config: ApiPodConfig;
  readonly fixes: FixesConfig;
  /** Made when start-up reaches the hub (main.go:197-217); requests are served only afterwards. */
  hub: AgentHub | null = null;
  dispatcher: CommandDispatcher | null = null;
  /** A timer's or a completion's callback: posts `event` to the statechart. */
  private readonly post = (event: ApiPodEvent) => (): void => this.mode.send(event);

  constructor(
    readonly ctx: ProcessContext,
    private readonly options: ApiPodOptions,
    private readonly clients: ApiPodClients,
    private readonly auth: SessionAuth | null,
    private readonly http: HttpServer,
  ) {
    this.config = options.config;
    this.fixes = options.fixes;
    this.mode = new Statechart<ApiPodLifecycle, ApiPodEvent, TimerHandle>(API_POD, this, ctx);
    this.mode.start();
  }

  /** The HTTP server listens and SIGTERM has not come: new connections are taken. */
  get serving(): boolean {
    return this.mode.state.value === 'serving';
  }

  /** The kubelet's signal; only SIGTERM does anything, once. */
  signal(signal: string): void {
    if (signal === 'SIGTERM') this.mode.send(SIGTERM);
  }

  armStartup(): void {
    this.ctx.setTimer(this.config.startupUs, this.post(STARTED), 'api.startup');
  }

  startCache(): void {
    this.auth!.start(this.post(CACHE_READY));
  }

  pingRedis(): void {
    this.clients.ping((r) => this.mode.send(r.ok ? PING_OK : { type: 'PING_FAILED', message: r.message }));
  }

  armRedisRetry(): void {
    this.ctx.setTimer(this.config.redisPingTimeoutUs, this.post(RETRY), 'api.redis-retry');
  }

  startHub(redisMode: boolean): void {
    const { ctx, config, clients, fixes } = this;
    ctx.record('api.redis-mode', { enabled: redisMode });
    const hub = new AgentHub(ctx, ctx.name, config.hub, clients.db, redisMode ? clients.redis : null, fixes);
    this.hub = hub;
    if (redisMode) startRedisListener(ctx, hub, clients.pubsub);
    this.dispatcher = new CommandDispatcher(ctx, config.dispatcher, hub, clients.db, fixes.ambiguousSendNotFailed, fixes.redeliveryClaimsRow);
  }

  dispatchPending(): void {
    this.dispatcher!.dispatchPending(this.post(SCANNED));
  }

  listen(): void {
    this.ctx.record('api.listening');
    this.options.setReady(true);
  }

  /**
   * Design fix `redeliver-unfinished`: every API pod periodically re-dispatches rows that stayed
   * unfinished for longer than the longest command (like the session reconciler, on every replica).
   */
  startReconciler(): void {
    const { ctx, clients, dispatcher } = this;
    const { reconcileEveryUs, redeliverAfterUs } = this.fixes;
    const scan = (): void => {
      clients.db.listUnfinishedCommands(redeliverAfterUs, (r) => {
        if (r.ok) {
          for (const command of r.value) {
            ctx.record('reconciler.redeliver', { command: command.commandId, agent: command.agentId });
            // Not `{ ...command, redelivery: true }`: a spread followed by a new key is slow in V8 (clients.ts).
            dispatcher!.dispatch({ commandId: command.commandId, agentId: command.agentId, action: command.action, sessionId: command.sessionId, redelivery: true });
          }
        }
        ctx.setTimer(reconcileEveryUs, scan, 'reconciler.scan');
      });
    };
    ctx.setTimer(reconcileEveryUs, scan, 'reconciler.scan');
  }

  /**
   * SIGTERM (§6 shutdown): the pod leaves the endpoints, `srv.Shutdown` lets the requests being
   * handled finish (http-server.ts), then `main` closes its clients and returns: the process exits
   * and the OS closes the agents' sockets. The hub, the dispatcher and the reconciler are never
   * stopped, so they keep working until then.
   */
  shutdown(): void {
    this.options.setReady(false);
    this.ctx.record('api.shutdown');
    this.http.shutdown(this.config.shutdownTimeoutUs, () => this.ctx.exit());
  }
}

/**
 * One API pod (spec §2-§6, api/cmd/main.go). Start-up order (§6): DB, then the hub's Redis with a
 * 5 s PING, falling back to single-pod mode **for the process's whole life** if it fails (§4); the
 * hub (listener first, then Run); the dispatcher and its one pending scan; then the HTTP server,
 * at which point the pod is ready. SIGTERM (§6): stop taking new connections, let the requests being
 * handled finish (`srv.Shutdown`, http-server.ts) and exit; the hub, the dispatcher and the pod's
 * Redis keys are left as they are; the OS closes the agent sockets.
 * The lifecycle is the statechart of api-pod-machine.ts (`ApiPodLifecycle`); the requests are
 * served here.
 */
export function apiPod(options: ApiPodOptions): BootFn {
  return (ctx) => {
    const { config } = options;
    const clients = options.clients(ctx);
    const auth = config.cacheEnabled ? new SessionAuth(ctx, clients.cache, clients.db, options.auth, options.fixes) : null;
    options.cpu.meter.restart();
    // api/cmd/main.go: the cache (line 91) and ClearAllSessions (line 326) come before the hub's
    // Redis (line 370 on) and the HTTP server.
    const http = new HttpServer(ctx);
    const pod = new ApiPodLifecycle(ctx, options, clients, auth, http);

    /**
     * A user's request (seed 004's load), through AuthMiddleware when the session store runs: the
     * answer leaves once the pod's CPU has done the request's work (`cpu.ts`).
     */
    const userRequest = (
      request: Extract<HttpRequest, { op: 'login' | 'logout' | 'list-sessions' }> | { op: 'create-session' | 'delete-session'; token: Token },
      reply: (r: RpcResult<HttpResponse>) => void,
      proceed: (respond: (response: HttpResponse) => void) => void,
    ): void => {
      const respond = responder(request.op === 'login' ? options.cpu.config.loginCpuUs : options.cpu.config.requestCpuUs, reply);
      if (request.op === 'login') return login(request.user, respond);
      const token = request.token;
      authenticate(token, (status) => {
        if (status !== 200) return respond({ status });
        switch (request.op) {
          case 'logout':
            return auth === null ? respond({ status: 200 }) : auth.deleteSession(token.jti, () => respond({ status: 200 }));
          case 'list-sessions':
            return listSessions(token.user, respond);
          default:
            return proceed(respond);
        }
      });
    };

    /**
     * The answer to a request once the pod's CPU has done its work (`cost` µs). The per-request
     * functions of this pod are made anonymous, here and below: where names are kept (esbuild's
     * keepNames, as tsx runs the model) a named closure costs a property definition per request.
     */
    const responder = (cost: number, reply: (r: RpcResult<HttpResponse>) => void) => (response: HttpResponse): void => {
      ctx.setTimer(options.cpu.meter.run(cost), () => reply(ok(response)), 'api.respond');
    };

    /**
     * The answer when the session store or the database could not be asked: as built a 401, as for
     * a token that is not valid (middleware.go:240-270); with the fix
     * `auth-unavailable-not-unauthorized` a 503, so the user keeps a token nothing has revoked.
     */
    const unavailable = options.fixes.authUnavailableNotUnauthorized ? 503 : 401;

    /** AuthMiddleware's GetUser (middleware.go:258): any error, the database's included, is a 401 "User not found". Every user of the model exists. */
    const getUser = (token: Token, cb: (status: number) => void): void => clients.db.userRead('auth.get-user', token.user, (r) => cb(r.ok ? 200 : unavailable));

    /**
     * AuthMiddleware (middleware.go:240-270): the session check, then GetUser; either failing is a
     * 401 (a store error: `unavailable`). With fix `sessions-in-postgres` one query does both.
     */
    const authenticate = (token: Token, cb: (status: number) => void): void => {
      if (auth === null) return getUser(token, cb);
      auth.validate(token.jti, token.user, (check) => {
        switch (check) {
          case 'valid':
            return getUser(token, cb);
          case 'user-valid':
            return cb(200);
          case 'missing':
            return cb(401);
          case 'store-error':
            return cb(unavailable);
        }
      });
    };

    /** Login (auth/handlers.go:236-300): VerifyPassword, GetUserGroups (errors ignored), the token, CreateSession. */
    let tokens = 0;
    const login = (user: number, respond: (response: HttpResponse) => void): void => {
      clients.db.userRead('auth.verify-password', user, (verified) => {
        if (!verified.ok) return respond({ status: 401 });
        clients.db.userRead('auth.user-groups', user, () => {
          // GenerateSessionID is 32 random bytes (session_store.go:79-85); the model names the pod
          // and incarnation instead, which is as unique and keeps runs readable.
          const token: Token = { jti: `${ctx.name}.${ctx.incarnation}.${tokens++}`, user };
          if (auth === null) return respond({ status: 200, token });
          auth.createSession(token.jti, user, (stored) => respond(stored ? { status: 200, token } : { status: 500 }));
        });
      });
    };

    /** GET /sessions behind CacheMiddleware: a hit answers from Redis; a miss queries and (tries to) store. */
    const listSessions = (user: number, respond: (response: HttpResponse) => void): void => {
      if (auth === null) return querySessions(user, respond);
      auth.cachedList(user, (hit) => (hit ? respond({ status: 200 }) : querySessions(user, respond)));
    };

    /** ListSessions' query after a cache miss; a 2xx answer is then (to be) stored in the cache. */
    const querySessions = (user: number, respond: (response: HttpResponse) => void): void => clients.db.userRead('sessions.list', user, (r) => {
      if (!r.ok) return respond({ status: 500 });
      auth?.storeList(user);
      respond({ status: 200 });
    });

    const handle = (request: HttpRequest, reply: (r: RpcResult<HttpResponse>) => void, conn: ConnectionEnd): void => {
      const h = pod.hub;
      const d = pod.dispatcher;
      if (h === null || d === null) return reply(ok({ status: 503 }));
      switch (request.op) {
        case 'login':
        case 'logout':
        case 'list-sessions':
          return userRequest(request, reply, () => {});
        case 'register-agent':
          clients.db.upsertAgentOnRegister(request.agentId, (r) => reply(ok({ status: r.ok ? 200 : 500 })));
          return;
        case 'ws-upgrade':
          // HandleAgentConnection (§3): the agents row must exist, then upgrade and RegisterAgent,
          // which is asynchronous: the pumps run before the hub has the entry.
          clients.db.agentExists(request.agentId, (r) => {
            if (!r.ok) return reply(ok({ status: 500 }));
            if (!r.value) return reply(ok({ status: 404, body: 'must register first' }));
            reply(ok({ status: 101 }));
            http.hijack(conn);
            const socket = new AgentSocket(ctx, conn, request.agentId, h, clients.db, config.ws, config.hub.sendBuffer, options.fixes.framePerMessage);
            ctx.record('ws.upgraded', { conn: conn.id, agent: request.agentId });
            h.registerAgent(socket);
            socket.startReading();
          });
          return;
        case 'admin-command':
          // agents.go:580-642: 503 if the hub says the agent is not connected; 500 if dispatch fails.
          h.isAgentConnected(request.agentId, (connected) => {
            if (!connected) return reply(ok({ status: 503 }));
            const row = { commandId: request.requestId, agentId: request.agentId, sessionId: '', action: request.action };
            clients.db.insertCommand(row, (r) => {
              if (!r.ok) return reply(ok({ status: 500 }));
              ctx.record('api.command-accepted', { command: row.commandId, agent: row.agentId, action: row.action });
              reply(ok({ status: d.dispatch(row) ? 200 : 500 }));
            });
          });
          return;
        case 'create-session':
        case 'delete-session': {
          const action = request.op === 'create-session' ? 'start_session' : 'stop_session';
          const row = { commandId: request.requestId, agentId: request.agentId, sessionId: request.sessionId, action };
          const token = request.token;
          const write = (answer: (status: number) => void): void => clients.db.insertCommand(row, (r) => {
            if (!r.ok) return answer(500);
            ctx.record('api.command-accepted', { command: row.commandId, agent: row.agentId, action });
            const queued = d.dispatch(row);
            // Create reports success even when dispatch fails; delete answers 500 (§5.2).
            const status = queued || action === 'start_session' ? 200 : 500;
            // InvalidateCacheMiddleware runs after a 2xx (cache/middleware.go).
            if (status === 200) auth?.invalidateSessions();
            answer(status);
          });
          // The background workload's requests carry no token and take no CPU of their own.
          if (token === undefined) return write((status) => reply(ok({ status })));
          return userRequest({ op: request.op, token }, reply, (respond) => write((status) => respond({ status })));
        }
      }
    };

    return {
      onAccept(conn) {
        if (!pod.serving) {
          conn.close();
          return;
        }
        http.accept(conn, (body, reply, c) => handle(body as HttpRequest, reply as (r: RpcResult<HttpResponse>) => void, c));
      },
      onSignal(signal) {
        pod.signal(signal);
      },
    };
  };
}
