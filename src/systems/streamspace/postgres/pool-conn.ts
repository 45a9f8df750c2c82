import type { CloseReason, ConnectionEnd, KeepAliveOptions, Micros, ProcessContext } from '../../../sim-cluster/index.ts';
import type { RpcResult, RpcWire } from '../net/rpc.ts';

/**
 * One lib/pq v1.10.9 connection (`conn.go` `conn`; StreamSpace's api/go.mod pins v1.10.9) over the
 * simulated network: the driver connection database/sql's pool (pool.ts) holds. It runs one
 * statement at a time, as database/sql hands a connection to one statement at a time, and speaks
 * the request/response wire of net/rpc.ts, so it talks to the servers `serveRpc` builds
 * (postgres/server.ts). Line numbers are those of lib/pq v1.10.9.
 *
 * What it reports to the pool is what lib/pq's `errRecover` (error.go:486-523) makes of a failure:
 * - a server error (`*pq.Error` of severity ERROR, e.g. SQLSTATE 25006) is returned as is and
 *   leaves the connection good (error.go:494-499): database/sql keeps it;
 * - a network error while reading the answer (`*net.OpError`: connection reset, keepalive or
 *   retransmission timeout) is returned as is and marks the connection bad (error.go:500-502):
 *   the statement was written, its outcome is unknown, and database/sql does not retry it;
 * - `io.EOF` (the server closed the connection with a FIN) becomes `driver.ErrBadConn`
 *   (error.go:506-508), and so does a write that fails before a byte left (`safeRetryError`,
 *   conn.go:960-975, error.go:503-505): database/sql retries the statement on another connection.
 *   lib/pq says ErrBadConn on `io.EOF` even after the statement was written; the model's servers
 *   answer a statement before they close its connection, so here it only ever follows a rollback.
 *
 * Simplifications, each deciding nothing the checkers read: the startup exchange after the TCP
 * handshake (conn.go:390 `cn.startup`) and the extended protocol's Parse round trip before
 * Bind/Execute (conn.go:952 `prepareTo`) are not modelled: each adds one round trip before the
 * statement runs, and a connection that breaks during them fails the statement as a break during the
 * statement does (the caller cannot tell the two apart either). A PostgreSQL FATAL (which lib/pq also turns into ErrBadConn, error.go:495-496)
 * does not occur: the model's servers answer ERRORs only.
 */

/** How one statement ended on one connection, as database/sql sees it from lib/pq. */
export type PqOutcome =
  /** The server answered: rows, a row count, or a PostgreSQL error such as 25006. */
  | { kind: 'answer'; result: RpcResult<unknown> }
  /** `driver.ErrBadConn`: lib/pq knows the statement did nothing; database/sql may run it elsewhere. */
  | { kind: 'bad-conn' }
  /** A network error after the statement was written: the outcome is unknown. */
  | { kind: 'broken'; message: string };

export interface PqDialOptions {
  /** How long the kernel tries the handshake (no `connect_timeout`: conn.go:400-431 dials without a deadline). */
  connectTimeoutUs: Micros;
  /** TCP keepalive of the socket (lib/pq's `defaultDialer` is a zero net.Dialer, conn.go:109-125: Go's defaults). */
  keepAlive: KeepAliveOptions;
}

/** Go's error text for each way a socket ends (as net.OpError's message ends). */
const SOCKET_ERRORS: Record<CloseReason, string> = {
  closed: 'EOF',
  reset: 'connection reset by peer',
  refused: 'connection refused',
  timeout: 'connection timed out',
  'connect-timeout': 'connection timed out',
  keepalive: 'connection timed out',
};

/**
 * Dials `to`. `onOpen` gets the connection once the handshake completes; `onFail` the dial error,
 * which lib/pq returns as is, never as ErrBadConn (conn.go:343-348 `errRecoverNoErrBadConn`), so
 * database/sql does not retry it.
 */
export function dialPq(ctx: ProcessContext, to: string, options: PqDialOptions, onOpen: (conn: PqConn) => void, onFail: (message: string) => void): void {
  let conn: PqConn | null = null;
  const end = ctx.connect(to, {
    onOpen: () => onOpen((conn = new PqConn(end, to))),
    onMessage: (raw) => conn?.received(raw as RpcWire),
    onClose: (reason) => (conn === null ? onFail(`dial tcp ${to}: connect: ${SOCKET_ERRORS[reason]}`) : conn.socketClosed(reason)),
  }, { timeoutUs: options.connectTimeoutUs, keepAlive: options.keepAlive });
}

export class PqConn {
  /**
   * lib/pq's `cn.err` (conn.go:147-151, 180-187): set once the connection failed under a statement. database/sql
   * asks `IsValid` (conn.go:2110-2112) when the statement releases it and closes it if set.
   */
  bad = false;
  /** Why the socket ended, as the kernel reported it; null while it is up. */
  private closedBy: CloseReason | null = null;
  private inFlight: ((outcome: PqOutcome) => void) | null = null;
  private requestId = 0;

  constructor(
    private readonly end: ConnectionEnd,
    /** The process dialled. */
    readonly to: string,
  ) {}

  /** The network connection's id (the `c` of the kernel's `conn.*` events). */
  get id(): string {
    return this.end.id;
  }

  /** Runs one statement; `done` is called once with its outcome. */
  exec(body: unknown, done: (outcome: PqOutcome) => void): void {
    if (this.closedBy !== null) {
      // The socket ended while the connection sat idle: database/sql never reads an idle connection,
      // so nobody noticed. lib/pq's write now fails before a byte leaves (EPIPE, ECONNRESET, ETIMEDOUT:
      // safeRetryError, conn.go:968-975) or, after a FIN alone, succeeds and the read meets io.EOF at
      // once (error.go:507): ErrBadConn either way, and nothing reached the server.
      this.bad = true;
      done({ kind: 'bad-conn' });
      return;
    }
    this.inFlight = done;
    this.end.send({ kind: 'req', id: ++this.requestId, body } satisfies RpcWire);
  }

  /** lib/pq's Close: a Terminate message, then the socket closes with a FIN (conn.go:868-884). */
  close(): void {
    this.end.close();
  }

  /** @internal the socket's message handler */
  received(msg: RpcWire): void {
    if (msg.kind !== 'res' || msg.id !== this.requestId || this.inFlight === null) return;
    const done = this.inFlight;
    this.inFlight = null;
    done({ kind: 'answer', result: msg.result });
  }

  /** @internal the socket's close handler */
  socketClosed(reason: CloseReason): void {
    this.closedBy = reason;
    const done = this.inFlight;
    if (done === null) return;
    this.inFlight = null;
    this.bad = true;
    if (reason === 'closed') done({ kind: 'bad-conn' });
    else done({ kind: 'broken', message: `read tcp ${this.to}: read: ${SOCKET_ERRORS[reason]}` });
  }
}
