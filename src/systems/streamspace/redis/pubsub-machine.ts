import { setup } from 'xstate';
import type { ProcessContext } from '../../../sim-cluster/index.ts';
import type { RpcResult } from '../net/rpc.ts';

/**
 * The statechart of a go-redis v9 PubSub as listenRedisCommands uses it (spec streamspace-v2-behavior
 * §2.3, agent_hub.go:690-768; real-world-semantics §3.1 fact 5; go-redis pubsub.go, v9.16.0): the
 * definition client.ts's RedisPubSub runs through the kernel's compiled stepper
 * (sim-cluster/statechart), drawn in docs/machines.md. Its modes:
 * - `subscribing`: Subscribe and the first Receive: dial (a FailoverClient's dialer asks a Sentinel
 *   for the master first), write SUBSCRIBE, wait for the confirmation with no read timeout.
 *   Client.Subscribe discards its dial's error and the Receive dials again, so a first dial that
 *   failed is retried once at once; any other failure is the Receive's, returned to the caller (the
 *   listener then returns for good and closes the PubSub, agent_hub.go:702-710);
 * - `redialing`: the connection broke before any confirmation: the receive loop's 100 ms sleep;
 * - `listening`: Channel() runs, and with it the health check, which lives as long as the PubSub
 *   (pubsub.go:646-689): `subscribed`, then after a broken connection `reconnecting` (the 100 ms
 *   sleep) and `resubscribing` (dial and SUBSCRIBE again; messages published meanwhile are lost);
 * - `closed`: PubSub.Close.
 *
 * The context is the PubSub itself (`PubSubComponent`, implemented by RedisPubSub): it keeps the
 * connection, the timers and the caller's handlers, and tells which connection an answer is for;
 * the statechart decides what each answer means in the current mode. The component answers the
 * work an action starts with an event: the SUBSCRIBE's reply (`SUBSCRIBED`, `SUBSCRIBE_FAILED`), a
 * pushed message (`MESSAGE`), the connection's end (`DISCONNECTED`), the end of the reconnect sleep
 * (`RECONNECT`) and the health check's timer (`HEALTH_CHECK`); `CLOSE` is the caller's.
 *
 * No `after` delay: the reconnect sleep is a timer Close does not stop (it finds the PubSub closed
 * and does nothing), so an `after`, which leaving the state would cancel, would change what a run
 * schedules; the health check's timer outlives the modes of `listening`. The component arms both.
 *
 * The PubSub records `pubsub.disconnected` and `pubsub.resubscribed`, and no `actor.state`.
 */

/** The PubSub's events: the outcome of the work its actions started, its timers, and the caller's Close. */
export type PubSubEvent =
  /** The SUBSCRIBE written on the current connection was confirmed. */
  | { type: 'SUBSCRIBED'; result: RpcResult<unknown> }
  /** The SUBSCRIBE on the current connection failed; `opened`: whether that connection had opened. */
  | { type: 'SUBSCRIBE_FAILED'; result: RpcResult<unknown>; opened: boolean }
  /** A message pushed on the subscription. */
  | { type: 'MESSAGE'; payload: string }
  /** The current connection ended. */
  | { type: 'DISCONNECTED' }
  /** The receive loop's sleep before it dials again ended. */
  | { type: 'RECONNECT' }
  /** The health check's timer fired. */
  | { type: 'HEALTH_CHECK' }
  | { type: 'CLOSE' };

/** The PubSub as its statechart sees it: RedisPubSub's fields and I/O. */
export interface PubSubComponent {
  readonly ctx: ProcessContext;
  readonly channel: string;
  /** Dials made before the first confirmation (Client.Subscribe's, then the first Receive's). */
  firstDials: number;
  /** Dials (after the master lookup of a FailoverClient) and writes SUBSCRIBE: answers `SUBSCRIBED`, `SUBSCRIBE_FAILED`, later `MESSAGE` and `DISCONNECTED`. */
  connect(): void;
  /** Drops the current connection without closing it (it is gone, or never opened). */
  forgetConnection(): void;
  /** The receive loop's sleep before it reconnects: answers `RECONNECT`. */
  sleep(): void;
  /** The first Receive's answer, to the caller (`onConfirm`). */
  confirm(result: RpcResult<unknown>): void;
  /** A message, to the caller (`onMessage`). */
  deliver(payload: string): void;
  /** The health check's timer starts over (3 s): answers `HEALTH_CHECK`. */
  restartHealthCheck(): void;
  /** PubSub.Ping on the current connection, if there is one, and the timer armed again. */
  healthCheck(): void;
  /** PubSub.Close's work: the health check stops, the connection is closed. */
  closeConnection(): void;
}

/** The SUBSCRIBE's reply an event carries (null for the others). */
const replyOf = (event: PubSubEvent): RpcResult<unknown> | null => (event.type === 'SUBSCRIBED' || event.type === 'SUBSCRIBE_FAILED' ? event.result : null);

export const pubSubMachine = setup({
  types: {
    context: {} as PubSubComponent,
    input: {} as PubSubComponent,
    events: {} as PubSubEvent,
  },
  guards: {
    /**
     * Client.Subscribe's own dial failed: redis.go `_ = pubsub.Subscribe(ctx, channels...)` discards
     * the error, having recorded the channel; the first Receive finds no connection and dials again,
     * resubscribing (pubsub.go conn → newConn, resubscribe).
     */
    subscribeDialFailed: ({ context, event }) => event.type === 'SUBSCRIBE_FAILED' && !event.opened && context.firstDials === 1,
  },
  actions: {
    /** A dial made before the first confirmation. */
    countDial: ({ context }) => {
      context.firstDials++;
    },
    /** pubsub.go conn → newConn (the client's dialer), then resubscribe: SUBSCRIBE written on the new connection. */
    connect: ({ context }) => context.connect(),
    /** The dead connection is let go: the next Receive dials a new one (pubsub.go releaseConn → reconnect). */
    forgetConnection: ({ context }) => context.forgetConnection(),
    /** The receive loop saw the connection end (pubsub.go initMsgChan's error branch). */
    recordDisconnected: ({ context }) => {
      context.ctx.record('pubsub.disconnected', { channel: context.channel });
    },
    /** initMsgChan sleeps 100 ms between failed receives before reconnecting (pubsub.go). */
    sleep: ({ context }) => context.sleep(),
    /** StreamSpace's first Receive returns the confirmation or the error (agent_hub.go:702-710). */
    confirm: ({ context, event }) => context.confirm(replyOf(event)!),
    /** Reconnected: the channel resubscribed by itself (real-world-semantics §3.1 fact 5). */
    recordResubscribed: ({ context }) => {
      context.ctx.record('pubsub.resubscribed', { channel: context.channel });
    },
    /** "Any message is as good as a ping": every message read resets the health check's 3 s timer (pubsub.go:717-721). */
    restartHealthCheck: ({ context }) => context.restartHealthCheck(),
    /** A message handed to the caller, Channel() or not. */
    deliver: ({ context, event }) => {
      if (event.type === 'MESSAGE') context.deliver(event.payload);
    },
    /** The health check fired: PubSub.Ping (pubsub.go:348-366), which only writes; a failed write ends the connection. */
    healthCheck: ({ context }) => context.healthCheck(),
    /** PubSub.Close (pubsub.go Close). */
    close: ({ context }) => context.closeConnection(),
  },
}).createMachine({
  id: 'pubsub',
  description: 'a go-redis v9 PubSub as listenRedisCommands uses it (§2.3, pubsub.go): Subscribe and the first Receive, then Channel() with its health check, reconnecting and resubscribing by itself',
  context: ({ input }) => input,
  initial: 'subscribing',
  on: {
    MESSAGE: { actions: 'deliver' },
    CLOSE: '.closed',
  },
  states: {
    subscribing: {
      description: "Subscribe and the first Receive: dial (a FailoverClient asks a Sentinel for the master first), write SUBSCRIBE, wait for the confirmation with no read timeout (§2.3 step 1)",
      entry: ['countDial', 'connect'],
      on: {
        SUBSCRIBED: { target: 'listening', actions: ['confirm', 'restartHealthCheck'] },
        SUBSCRIBE_FAILED: [
          { guard: 'subscribeDialFailed', target: 'subscribing', reenter: true, actions: 'forgetConnection' },
          { actions: 'confirm' },
        ],
        DISCONNECTED: { target: 'redialing', actions: ['forgetConnection', 'recordDisconnected'] },
      },
    },
    redialing: {
      description: 'the connection ended before any confirmation: the receive loop sleeps 100 ms, then dials again (pubsub.go initMsgChan)',
      entry: 'sleep',
      on: { RECONNECT: 'subscribing' },
    },
    listening: {
      description: "Channel() and its health check, which lives as long as the PubSub: a PING after 3 s without any message (pubsub.go:646-689)",
      initial: 'subscribed',
      on: {
        MESSAGE: { actions: ['restartHealthCheck', 'deliver'] },
        HEALTH_CHECK: { actions: 'healthCheck' },
        DISCONNECTED: { target: '.reconnecting', actions: ['forgetConnection', 'recordDisconnected'] },
      },
      states: {
        subscribed: {
          description: 'messages pushed on the subscription are handed over; those published to a dead connection are lost (§2.3 steps 2-4)',
        },
        reconnecting: {
          description: 'the connection ended: the receive loop sleeps 100 ms, then reconnects; messages published meanwhile are lost (real-world-semantics §3.1 fact 5)',
          entry: 'sleep',
          on: { RECONNECT: 'resubscribing' },
        },
        resubscribing: {
          description: 'a new connection with SUBSCRIBE written again; a failure waits for the connection to end (pubsub.go resubscribe)',
          entry: 'connect',
          on: { SUBSCRIBED: { target: 'subscribed', actions: ['recordResubscribed', 'restartHealthCheck'] } },
        },
      },
    },
    closed: {
      description: 'PubSub.Close: the health check stops and the connection closes; a timer still running finds it closed',
      type: 'final',
      entry: 'close',
    },
  },
});
