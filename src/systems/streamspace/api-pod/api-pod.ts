import type { BootFn, ConnectionEnd, ProcessContext } from '../../../sim-cluster/index.ts';
import { ok, serveRpc, type RpcResult } from '../net/rpc.ts';
import type { ApiPodConfig, FixesConfig } from '../config.ts';
import type { HttpRequest, HttpResponse } from '../wire.ts';
import { AgentHub } from './agent-hub.ts';
import { AgentSocket, type CommandRowsPort } from './agent-socket.ts';
import { CommandDispatcher, type DispatchedCommand, type DispatcherRowsPort } from './command-dispatcher.ts';
import type { HubDbPort, HubRedisPort, PubSubPort } from './ports.ts';
import { startRedisListener } from './redis-listener.ts';

/** Everything the API pod reads and writes in PostgreSQL. */
export interface ApiDbPort extends HubDbPort, CommandRowsPort, DispatcherRowsPort {
  /** Producers insert a `pending` row (§5.2). */
  insertCommand(row: { commandId: string; agentId: string; sessionId: string; action: string }, cb: (r: RpcResult<unknown>) => void): void;
  /** HTTP register upserts the agents row, online (§7.3 step 1). */
  upsertAgentOnRegister(agentId: string, cb: (r: RpcResult<unknown>) => void): void;
  /** HandleAgentConnection looks the agent up (§3 step 2); null when there is no row. */
  agentExists(agentId: string, cb: (r: RpcResult<boolean>) => void): void;
  /** Design fix `redeliver-unfinished`: rows pending/sent/ack not updated for `staleUs`. */
  listUnfinishedCommands(staleUs: number, cb: (r: RpcResult<DispatchedCommand[]>) => void): void;
}

/** Clients of one API-pod incarnation, built at boot (connections die with the process). */
export interface ApiPodClients {
  db: ApiDbPort;
  redis: HubRedisPort;
  pubsub: PubSubPort;
  /** The start-up PING (§4: 5 s). */
  ping(cb: (r: RpcResult<unknown>) => void): void;
}

export interface ApiPodOptions {
  config: ApiPodConfig;
  /** Design fixes; all off for the as-built profile. */
  fixes: FixesConfig;
  /** Builds the pod's DB and Redis clients for a fresh incarnation. */
  clients(ctx: ProcessContext): ApiPodClients;
  /** Tells the load balancer whether this pod takes new connections (readiness). */
  setReady(ready: boolean): void;
}

/**
 * One API pod (spec §2-§6, api/cmd/main.go). Start-up order (§6): DB, then the hub's Redis with a
 * 5 s PING, falling back to single-pod mode **for the process's whole life** if it fails (§4); the
 * hub (listener first, then Run); the dispatcher and its one pending scan; then the HTTP server,
 * at which point the pod is ready. SIGTERM (§6): stop taking new connections and exit; the hub,
 * the dispatcher and the pod's Redis keys are left as they are; the OS closes the agent sockets.
 */
export function apiPod(options: ApiPodOptions): BootFn {
  return (ctx) => {
    const { config } = options;
    const clients = options.clients(ctx);
    let hub: AgentHub | null = null;
    let dispatcher: CommandDispatcher | null = null;
    let serving = false;
    let shuttingDown = false;

    const startHub = (redisMode: boolean): void => {
      ctx.record('api.redis-mode', { enabled: redisMode });
      hub = new AgentHub(ctx, ctx.name, config.hub, clients.db, redisMode ? clients.redis : null, options.fixes);
      if (redisMode) startRedisListener(ctx, hub, clients.pubsub);
      dispatcher = new CommandDispatcher(ctx, config.dispatcher, hub, clients.db, options.fixes.ambiguousSendNotFailed, options.fixes.redeliveryClaimsRow);
      const listen = (): void => {
        serving = true;
        ctx.record('api.listening');
        options.setReady(true);
      };
      if (!options.fixes.redeliverUnfinished) return dispatcher.dispatchPending(listen);
      // Design fix: the reconciler, which takes only rows stale for longer than the longest
      // command, replaces the one-shot scan, which also re-dispatches rows another pod is
      // dispatching for the first time right now.
      listen();
      startReconciler(dispatcher);
    };

    /**
     * Design fix `redeliver-unfinished`: every API pod periodically re-dispatches rows that stayed
     * unfinished for longer than the longest command (like the session reconciler, on every replica).
     */
    const startReconciler = (d: CommandDispatcher): void => {
      const { reconcileEveryUs, redeliverAfterUs } = options.fixes;
      const scan = (): void => {
        clients.db.listUnfinishedCommands(redeliverAfterUs, (r) => {
          if (r.ok) {
            for (const command of r.value) {
              ctx.record('reconciler.redeliver', { command: command.commandId, agent: command.agentId });
              d.dispatch({ ...command, redelivery: true });
            }
          }
          ctx.setTimer(reconcileEveryUs, scan, 'reconciler.scan');
        });
      };
      ctx.setTimer(reconcileEveryUs, scan, 'reconciler.scan');
    };

    const ping = (): void => clients.ping((r) => {
      if (r.ok || !options.fixes.waitForRedis) return startHub(r.ok);
      // Design fix `wait-for-redis`: not ready, try again, never fall back to single-pod mode.
      ctx.record('api.redis-wait', { error: r.message });
      ctx.setTimer(config.redisPingTimeoutUs, ping, 'api.redis-retry');
    });
    ctx.setTimer(config.startupUs, () => (config.redisEnabled ? ping() : startHub(false)), 'api.startup');

    const handle = (request: HttpRequest, reply: (r: RpcResult<HttpResponse>) => void, conn: ConnectionEnd): void => {
      const h = hub;
      const d = dispatcher;
      if (h === null || d === null) return reply(ok({ status: 503 }));
      switch (request.op) {
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
          clients.db.insertCommand(row, (r) => {
            if (!r.ok) return reply(ok({ status: 500 }));
            ctx.record('api.command-accepted', { command: row.commandId, agent: row.agentId, action });
            const queued = d.dispatch(row);
            // Create reports success even when dispatch fails; delete answers 500 (§5.2).
            reply(ok({ status: queued || action === 'start_session' ? 200 : 500 }));
          });
          return;
        }
      }
    };

    return {
      onAccept(conn) {
        if (!serving || shuttingDown) {
          conn.close();
          return;
        }
        serveRpc(conn, (body, reply, c) => handle(body as HttpRequest, reply as (r: RpcResult<HttpResponse>) => void, c));
      },
      onSignal(signal) {
        if (signal !== 'SIGTERM' || shuttingDown) return;
        shuttingDown = true;
        options.setReady(false);
        ctx.record('api.shutdown');
        // srv.Shutdown waits for in-flight HTTP requests (not upgraded sockets); they take
        // milliseconds here, so the process exits right away and the OS closes every socket.
        ctx.exit();
      },
    };
  };
}
