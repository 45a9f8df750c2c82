import { setup } from 'xstate';
import type { CloseReason } from '../../../sim-cluster/index.ts';

/**
 * The statechart of RpcClient's connection (rpc.ts, the class comment): the definition rpc.ts runs
 * through the kernel's compiled stepper (sim-cluster/statechart), drawn in docs/machines.md. One
 * connection, dialled lazily by the first call and again by the next call after it ends, as
 * go-redis's pool and database/sql do (real-world-semantics §4.1: "All client connections drop; the
 * driver reconnects through the Service or DNS"; §3.3 fact 6: a client redials through its resolver):
 * - `idle`: no connection (before the first call, and after one ended);
 * - `dialing`: the dial is in progress (connect timeout, by default 5 s); calls made meanwhile wait
 *   for it;
 * - `open`: calls are written at once.
 * The connection's end, the network's (`DISCONNECTED`: refused, reset, timed out...) or the
 * client's own `close()` (`CLOSE`), fails every request in flight with `connection` and leaves the
 * client `idle`; nothing redials until the next call.
 *
 * The context is the client itself (`ConnectionComponent`, implemented by RpcClient): it keeps the
 * connection, the table of requests in flight with their timeouts, and the caller's handlers. The
 * statechart steps on connection events only, never per request: a call on an open connection, a
 * reply and a request timeout do not reach it (RpcClient is on the path of every request of a run).
 *
 * The callers hear of a step's outcome once the step has ended (`RpcClient` reports the failed
 * requests and runs `onConnect`/`onDisconnect` after it): a caller that calls again from its
 * callback (a retry) dials at once, at the same place among the run's events as without a
 * statechart, rather than after the step.
 *
 * No `after` delay: the connect timeout belongs to the connection (the network closes it with
 * `connect-timeout`, answering `DISCONNECTED`). No guard: every event means one thing in each mode.
 * No trace event of its own, and no `actor.state`.
 */

/** The connection's events. */
export type ConnectionEvent =
  /** A call found no connection. */
  | { type: 'DIAL' }
  /** The dial completed. */
  | { type: 'OPENED' }
  /** The connection ended (or the dial failed), not by the client. */
  | { type: 'DISCONNECTED'; reason: CloseReason }
  /** The client's `close()`. */
  | { type: 'CLOSE' };

/** RpcClient as its connection's statechart sees it. */
export interface ConnectionComponent {
  /** Dials the target (a resolver is asked now): answers `OPENED` or `DISCONNECTED`. */
  dial(): void;
  /** Writes the calls that waited for the dial. */
  sendWaiting(): void;
  /** Closes the connection, which answers nothing more. */
  closeConnection(): void;
  /** Lets go of a connection that ended. */
  forgetConnection(): void;
  /** Every request in flight fails with `connection` (`message`); late replies are dropped. */
  failRequests(message: string): void;
  /** The message a failure on the network's close carries. */
  disconnectedMessage(reason: CloseReason): string;
  /** Tells the caller the connection opened (`onConnect`), once the step has ended. */
  reportConnected(): void;
  /** Tells the caller the connection ended (`onDisconnect`), once the step has ended. */
  reportDisconnected(reason: CloseReason): void;
}

export const rpcConnectionMachine = setup({
  types: {
    context: {} as ConnectionComponent,
    input: {} as ConnectionComponent,
    events: {} as ConnectionEvent,
  },
  actions: {
    /** A connection is dialled on the first call, and again on the next call after it ended (go-redis pool.go Get → dialConn; database/sql conn). */
    dial: ({ context }) => context.dial(),
    /** Calls made while dialling wait for the dial; it opened: they are written, in call order. */
    sendWaiting: ({ context }) => context.sendWaiting(),
    /** onConnect, for the caller. */
    reportConnected: ({ context }) => context.reportConnected(),
    /** The client's Close: the connection is closed, FIN to the server. */
    closeConnection: ({ context }) => context.closeConnection(),
    /** The connection ended: it is dropped, and the next call dials a new one (rpc.ts: "redialled on the next call after it breaks"). */
    forgetConnection: ({ context }) => context.forgetConnection(),
    /** The requests in flight on the closed connection fail with `connection`: their outcome is unknown to the caller (rpc.ts RpcErrorKind). */
    failOnClose: ({ context }) => context.failRequests('closed by client'),
    /** The same on the network's close (or a failed dial), naming the reason. */
    failOnDisconnect: ({ context, event }) => {
      if (event.type === 'DISCONNECTED') context.failRequests(context.disconnectedMessage(event.reason));
    },
    /** onDisconnect, for the caller, after the requests failed. */
    reportDisconnected: ({ context, event }) => {
      if (event.type === 'DISCONNECTED') context.reportDisconnected(event.reason);
    },
  },
}).createMachine({
  id: 'connection',
  description: "an RpcClient's connection (go-redis's command connection, lib/pq, client-go): dialled lazily by a call, redialled by the next call after it ends; its end fails every request in flight",
  context: ({ input }) => input,
  initial: 'idle',
  states: {
    idle: {
      description: 'no connection: the next call dials one',
      on: { DIAL: { target: 'dialing', actions: 'dial' } },
    },
    dialing: {
      description: 'the dial is in progress: calls wait for it; its failure fails them with `connection`',
      on: {
        OPENED: { target: 'open', actions: ['sendWaiting', 'reportConnected'] },
        DISCONNECTED: { target: 'idle', actions: ['forgetConnection', 'failOnDisconnect', 'reportDisconnected'] },
        CLOSE: { target: 'idle', actions: ['closeConnection', 'failOnClose'] },
      },
    },
    open: {
      description: 'calls are written at once, each with its timeout',
      on: {
        DISCONNECTED: { target: 'idle', actions: ['forgetConnection', 'failOnDisconnect', 'reportDisconnected'] },
        CLOSE: { target: 'idle', actions: ['closeConnection', 'failOnClose'] },
      },
    },
  },
});
