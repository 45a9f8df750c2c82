import { setup } from 'xstate';
import type { ProcessContext, RandomStream } from '../../../sim-cluster/index.ts';

/**
 * The statechart of the hub's Run goroutine (spec streamspace-v2-behavior §2.2; api/internal/
 * websocket/agent_hub.go:206-232): the definition agent-hub.ts runs through the kernel's compiled
 * stepper (sim-cluster/statechart), drawn in docs/machines.md. Run waits in its select (`idle`),
 * handles one register or unregister at a time holding the write lock across the DB and Redis I/O
 * (`handling`), and sweeps stale connections inline, where a blocking send on its own full
 * `unregister` channel blocks it for good (`deadlocked`, §2.2 checkStaleConnections step 2).
 *
 * The context is the hub itself (`HubComponent`, implemented by AgentHub): it keeps the connection
 * map, the channels with their blocked senders, the lock and the I/O; the statechart decides when
 * Run selects and what it runs. `READY` tells Run that a case may have become ready (a send on
 * `register` or `unregister`, a tick); `select` is Go's select, which answers with the case it
 * picked (`REGISTER`, `UNREGISTER`, `SWEEP`); a handler answers `DONE` when it returns.
 *
 * No `after` delay: the only timer is the stale sweep's 10 s ticker, which runs whatever Run does
 * (a tick that finds its channel full is dropped), so it belongs to the hub, not to a state.
 * `broadcast` (§2.2 handleBroadcast) has no sender in the model and so no case.
 *
 * `actor.state` {actor: 'hub', state} is recorded by `traceState`, the first entry action of every
 * state: on entering a state, before it starts its work (before `hub.register`, which
 * explain/agent-keys.ts relies on).
 */

/** The hub loop's events: a case may be ready, the case Run's select picked, a handler returned. */
export type HubEvent =
  | { type: 'READY' }
  | { type: 'REGISTER' }
  | { type: 'UNREGISTER' }
  | { type: 'SWEEP' }
  | { type: 'DONE' };

/** Run's modes: the values `actor.state` records. */
export type HubMode = 'idle' | 'handling' | 'deadlocked';

/** The hub as its Run loop sees it: AgentHub's channels and I/O. */
export interface HubComponent {
  readonly ctx: ProcessContext;
  /** The stream Go's select draws from. */
  readonly selectRng: RandomStream;
  /** The `register` channel's buffer; its blocked senders move in as Run receives. */
  readonly registerQueue: readonly unknown[];
  readonly unregisterQueue: readonly unknown[];
  /** The ticker's channel holds a tick (it holds one; ticks that find it full are dropped). */
  readonly tickPending: boolean;
  /** Posts an event to this hub's statechart (the case Run's select picked). */
  send(event: HubEvent): void;
  /** Receives on `register` and runs handleRegister (agent_hub.go:245-292); answers `DONE`. */
  receiveRegister(): void;
  /** Receives on `unregister` and runs handleUnregister (agent_hub.go:298-348); answers `DONE`. */
  receiveUnregister(): void;
  /** Whether the sweep's blocking sends of the stale ids would find `unregister` full (§2.2 step 2). */
  sweepBlocks(): boolean;
  /** Receives the tick and runs checkStaleConnections (agent_hub.go:384-405) inline. */
  sweep(): void;
}

const REGISTER: HubEvent = { type: 'REGISTER' };
const UNREGISTER: HubEvent = { type: 'UNREGISTER' };
const SWEEP: HubEvent = { type: 'SWEEP' };

const trace = (state: HubMode) => ({ type: 'traceState', params: { state } }) as const;

export const hubLoopMachine = setup({
  types: {
    context: {} as HubComponent,
    input: {} as HubComponent,
    events: {} as HubEvent,
  },
  guards: {
    /** Without the `nonblocking-stale-sweep` fix, the sweep sends on a channel only Run drains: a full buffer blocks it for good (§2.2 step 2). */
    sweepBlocks: ({ context }) => context.sweepBlocks(),
  },
  actions: {
    /** The trace's `actor.state`, recorded on entering a state before its work starts. */
    traceState: ({ context }, params: { state: HubMode }) => {
      context.ctx.record('actor.state', { actor: 'hub', state: params.state });
    },
    /** Go's select: uniformly among the ready cases (§2.2); with none ready, Run waits. */
    select: ({ context: c }) => {
      const ready: HubEvent[] = [];
      if (c.registerQueue.length > 0) ready.push(REGISTER);
      if (c.unregisterQueue.length > 0) ready.push(UNREGISTER);
      if (c.tickPending) ready.push(SWEEP);
      if (ready.length === 0) return;
      c.send(ready.length === 1 ? ready[0]! : c.selectRng.pick(ready));
    },
    /** The `register` case: handleRegister, write lock held across the DB and both Redis SETs (§2.2). */
    handleRegister: ({ context, event }) => {
      if (event.type === 'REGISTER') context.receiveRegister();
    },
    /** The `unregister` case: handleUnregister by agent id only, DELs unconditional as built (§2.2). */
    handleUnregister: ({ context, event }) => {
      if (event.type === 'UNREGISTER') context.receiveUnregister();
    },
    /** The ticker case: checkStaleConnections inside Run (§2.2). */
    sweep: ({ context }) => context.sweep(),
  },
}).createMachine({
  id: 'hub',
  description: "an API pod's AgentHub.Run (agent_hub.go:206-232): one goroutine selecting over register, unregister and the stale-sweep ticker",
  context: ({ input }) => input,
  initial: 'idle',
  states: {
    idle: {
      description: 'Run waiting in its select (§2.2)',
      entry: [trace('idle'), 'select'],
      on: {
        READY: { actions: 'select' },
        REGISTER: 'handling',
        UNREGISTER: 'handling',
        SWEEP: [
          { guard: 'sweepBlocks', target: 'deadlocked', actions: 'sweep' },
          { actions: ['sweep', 'select'] },
        ],
      },
    },
    handling: {
      description: 'handleRegister or handleUnregister, holding the write lock across its DB and Redis I/O (§2.2)',
      entry: [trace('handling'), 'handleRegister', 'handleUnregister'],
      on: { DONE: 'idle' },
    },
    deadlocked: {
      description: "the stale sweep blocked sending on its own full unregister channel: Run never selects again (§2.2 step 2)",
      type: 'final',
      entry: trace('deadlocked'),
    },
  },
});
