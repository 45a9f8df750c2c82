import type { ConnectionEnd, Micros, ProcessContext } from '../../../sim-cluster/index.ts';
import { serveRpc, type RpcHandler } from '../net/rpc.ts';

/** Go's `shutdownPollIntervalMax` (net/http/server.go): the longest wait between two idle checks of `Shutdown`. */
const POLL_MAX_US: Micros = 500_000;

/**
 * The API pod's `http.Server` as far as its graceful shutdown goes (spec §6 shutdown step 1,
 * `srv.Shutdown` with SHUTDOWN_TIMEOUT; net/http/server.go `Shutdown`, go1.21):
 *
 * - `Shutdown` closes the listener, so no new connection is taken;
 * - it then closes every idle connection (no request being handled) and polls the others, first
 *   after 1 ms, then after twice the last wait up to 500 ms, each wait plus up to 10% of jitter,
 *   until none is left or the context's deadline passes (`closeIdleConns`);
 * - a connection busy when the shutdown starts finishes the requests it has and is closed at the
 *   next poll after its last answer (once shutting down, `doKeepAlives` is false, so the server
 *   reads no request after the current one: a request that reaches it meanwhile is never answered,
 *   and its client sees the connection close);
 * - a connection a handler took over (the agents' WebSocket upgrade, `Hijack`) is not the server's
 *   any more: Shutdown neither waits for nor closes it; it goes with the process.
 *
 * Then `main` closes the other clients and returns, so the process exits (`done`). The requests on a
 * connection are counted here because the model shares one connection between the requests a
 * client has in flight to a pod (load/load-generator.ts), where HTTP/1.1 would open one each.
 */
export class HttpServer {
  /** Connections the server owns (not hijacked) → requests taken and not yet answered. */
  private readonly open = new Map<ConnectionEnd, number>();
  private shuttingDown = false;
  private done: (() => void) | null = null;

  constructor(private readonly ctx: ProcessContext) {}

  /** Serves a newly accepted connection with `handler`; after `shutdown` the listener is closed and it is refused. */
  accept(conn: ConnectionEnd, handler: RpcHandler): void {
    if (this.shuttingDown) {
      conn.close();
      return;
    }
    this.open.set(conn, 0);
    serveRpc(conn, (body, reply, c) => {
      const taken = this.open.get(c);
      // Hijacked, or shutting down: nothing reads this request (its client sees the connection close).
      if (taken === undefined || this.shuttingDown) return;
      this.open.set(c, taken + 1);
      handler(body, (result) => {
        reply(result);
        const left = this.open.get(c);
        if (left !== undefined) this.open.set(c, left - 1);
      }, c);
    }, { onClose: () => this.open.delete(conn) });
  }

  /** A handler took the connection over (`Hijack`, the WebSocket upgrade): the server forgets it. */
  hijack(conn: ConnectionEnd): void {
    this.open.delete(conn);
  }

  /** `srv.Shutdown(ctx)` with a deadline `timeoutUs` away; `done` runs once, when it returns. */
  shutdown(timeoutUs: Micros, done: () => void): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.done = done;
    const jitter = this.ctx.random('http.shutdown');
    this.ctx.setTimer(timeoutUs, () => this.finish(), 'http.shutdown-deadline');
    let pollUs: Micros = 1_000;
    const poll = (): void => {
      if (this.done === null) return;
      if (this.closeIdle()) return this.finish();
      const waitUs = pollUs + jitter.int(0, Math.max(0, pollUs / 10 - 1));
      pollUs = Math.min(pollUs * 2, POLL_MAX_US);
      this.ctx.setTimer(waitUs, poll, 'http.shutdown-poll');
    };
    poll();
  }

  /** Closes the idle connections; true when none is left. */
  private closeIdle(): boolean {
    for (const [conn, taken] of this.open) {
      if (taken > 0) continue;
      this.open.delete(conn);
      conn.close();
    }
    return this.open.size === 0;
  }

  private finish(): void {
    const done = this.done;
    if (done === null) return;
    this.done = null;
    done();
  }
}
