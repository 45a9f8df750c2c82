import { createActor, type Actor, type AnyStateMachine, type InputFrom } from 'xstate';
import { recogniseXstateScheduler } from './determinism-guard.ts';
import type { ProcessContext, TimerHandle } from './process.ts';
import { fromMillis } from './time.ts';

/** xstate's clock interface (declared in xstate's system.d.ts but not exported from its entry). */
export interface Clock {
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/**
 * The xstate `Clock` for one process incarnation: `after:` transitions and delayed events become
 * kernel timers owned by the process, so they run on virtual time, wait while the process is
 * paused and vanish when it crashes. xstate expresses delays in milliseconds; the kernel in µs.
 */
export function processClock(ctx: ProcessContext): Clock {
  return {
    setTimeout: (fn: (...args: unknown[]) => void, ms: number) => ctx.setTimer(fromMillis(ms), fn, 'xstate.delay'),
    clearTimeout: (handle: unknown) => ctx.cancelTimer(handle as TimerHandle),
  };
}

export interface SimActorOptions<M extends AnyStateMachine> {
  /** Stable id used in trace events (`<process>/<id>`); xstate's own session ids are not stable. */
  id: string;
  input?: InputFrom<M>;
  /** Record `actor.state` whenever the state value changes. Default true. */
  traceStates?: boolean;
}

/**
 * Starts an xstate actor inside a simulated process. Its timers run on the process's clock; an
 * error thrown by one of its actions ends the run as a model failure (xstate would otherwise
 * rethrow it later on a real timer); its state changes are recorded in the trace.
 *
 * Delayed `raise`/`sendTo` actions must carry an explicit `id`: without one xstate draws the id
 * from Math.random, which the determinism guard rejects.
 */
export function startActor<M extends AnyStateMachine>(ctx: ProcessContext, machine: M, options: SimActorOptions<M>): Actor<M> {
  const actor = createActor(machine, {
    clock: processClock(ctx),
    ...(options.input === undefined ? {} : { input: options.input }),
  } as Parameters<typeof createActor<M>>[1]);
  // Child actors share the root's system, hence its scheduler.
  recogniseXstateScheduler(actor.system.scheduler);
  const traceStates = options.traceStates ?? true;
  let last = '';
  actor.subscribe({
    next: (snapshot) => {
      if (!traceStates) return;
      const state = (snapshot as { value: unknown }).value;
      const value = JSON.stringify(state);
      if (value !== last) {
        last = value;
        ctx.record('actor.state', { actor: options.id, state });
      }
    },
    error: (err) => ctx.fail(err),
  });
  actor.start();
  return actor;
}
