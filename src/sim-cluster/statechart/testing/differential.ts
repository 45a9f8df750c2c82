import { deepStrictEqual } from 'node:assert/strict';
import fc from 'fast-check';
import { initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { fromMillis, type Micros } from '../../time.ts';
import { compileMachine, type TransitionInfo } from '../compile.ts';
import { Statechart, type StatechartHost } from '../runtime.ts';

/**
 * The differential check of the compiled stepper against xstate's own interpreter (its pure
 * `initialTransition`/`transition` functions). Both run the same definition with the same
 * stand-in implementations: guards answer from the step's table, actions write their name (and
 * params) to a log, named delays have fixed values. After the start and after every step the check
 * compares:
 * - the state value and whether the machine is done;
 * - the ordered effects: actions by name and params, timers armed (`schedule:<event>:<µs>`) and
 *   cancelled (`cancel:<event>`) at their place among them — on xstate's side from the actions
 *   `transition()` lists, a cancel counting only when its timer was pending;
 * - the pending delayed events;
 * - the transition taken (source, event, candidate), on xstate's side from `getTransitionData`;
 * - how many times guards were called.
 * A step sends an event (one of the machine's, or one it does not know) or lets one pending
 * delayed event expire, the way the virtual clock would deliver it.
 */

export type DifferentialStep =
  | { kind: 'event'; type: string; guards: Record<string, boolean> }
  | { kind: 'timer'; pick: number; guards: Record<string, boolean> };

/** Names of the machine's implementations, as `setup` declared them. */
function implementationNames(machine: AnyStateMachine): { guards: string[]; actions: string[]; delays: string[] } {
  const impl = machine.implementations as { guards?: object; actions?: object; delays?: object };
  return { guards: Object.keys(impl.guards ?? {}), actions: Object.keys(impl.actions ?? {}), delays: Object.keys(impl.delays ?? {}) };
}

const entry = (name: string, params: unknown): string => (params === undefined ? name : `${name}(${JSON.stringify(params)})`);

/** Random step sequences for a machine: its event types and one unknown, timer expiries, guard answers. */
export function stepsArbitrary(machine: AnyStateMachine, maxLength = 60): fc.Arbitrary<DifferentialStep[]> {
  const { guards } = implementationNames(machine);
  const types = [...compileMachine(machine).events, 'UNKNOWN'];
  const answers = fc.record(Object.fromEntries(guards.map((g) => [g, fc.boolean()])) as Record<string, fc.Arbitrary<boolean>>);
  const step: fc.Arbitrary<DifferentialStep> = fc.oneof(
    fc.record({ kind: fc.constant('event' as const), type: fc.constantFrom(...types), guards: answers }),
    fc.record({ kind: fc.constant('timer' as const), pick: fc.nat(15), guards: answers }),
  );
  return fc.array(step, { maxLength });
}

interface PendingTimer {
  label: string;
  delayUs: Micros;
  fn: () => void;
}

/** A host that logs timers into the same log as the actions. */
class LoggingHost implements StatechartHost<number> {
  readonly pending = new Map<number, PendingTimer>();
  private next = 0;
  failure: unknown = null;
  constructor(private readonly log: string[]) {}
  setTimer(delayUs: Micros, fn: () => void, label: string): number {
    this.pending.set(++this.next, { label, delayUs, fn });
    this.log.push(`schedule:${label}:${delayUs}`);
    return this.next;
  }
  cancelTimer(handle: number): void {
    const t = this.pending.get(handle);
    if (t === undefined) return;
    this.pending.delete(handle);
    this.log.push(`cancel:${t.label}`);
  }
  record(): void {}
  fail(error: unknown): void {
    this.failure = error;
  }
  expire(label: string): void {
    for (const [handle, t] of this.pending) {
      if (t.label !== label) continue;
      this.pending.delete(handle);
      t.fn();
      return;
    }
    throw new Error(`no pending timer '${label}'`);
  }
}

/** What one side reports after the start or a step. */
interface Observed {
  value: unknown;
  done: boolean;
  effects: string[];
  pending: string[];
  taken: string | null;
  guardCalls: number;
}

/**
 * Runs `steps` through the stepper and through xstate; throws (an assertion error naming the step)
 * at the first difference. `delays` gives named delays their values in ms (default 100 ms each,
 * plus 50 ms per position, so that they differ).
 */
export function checkDifferential(machine: AnyStateMachine, steps: readonly DifferentialStep[], delays: Record<string, number> = {}): void {
  const names = implementationNames(machine);
  let answers: Record<string, boolean> = {};
  let guardCalls = 0;
  const log: string[] = [];
  const stub = (machine.provide as (i: object) => AnyStateMachine)({
    guards: Object.fromEntries(names.guards.map((g) => [g, () => {
      guardCalls++;
      return answers[g] ?? false;
    }])),
    actions: Object.fromEntries(names.actions.map((a) => [a, (_: unknown, params: unknown) => void log.push(entry(a, params))])),
    delays: Object.fromEntries(names.delays.map((d, i) => [d, delays[d] ?? 100 + 50 * i])),
  });

  // The stepper's side.
  const compiled = compileMachine(stub);
  const host = new LoggingHost(log);
  let taken: TransitionInfo | null = null;
  const chart = new Statechart(compiled, {}, host, { onTransition: (t) => void (taken = t) });
  const describeTaken = (t: TransitionInfo | null): string | null => (t === null ? null : `${t.source} ${t.event} #${t.candidate}`);
  const stepper = (run: () => void): Observed => {
    log.length = 0;
    guardCalls = 0;
    taken = null;
    run();
    if (host.failure !== null) throw host.failure;
    return {
      value: chart.state.value,
      done: chart.status === 'done',
      effects: [...log],
      pending: [...host.pending.values()].map((t) => t.label).sort(),
      taken: describeTaken(taken),
      guardCalls,
    };
  };

  // xstate's side.
  const pending = new Map<string, { event: { type: string }; delay: number }>();
  let snapshot: AnyMachineSnapshot;
  const xstate = (step: (() => [AnyMachineSnapshot, Array<{ type: string; params: unknown }>]), event: { type: string } | null): Observed => {
    let selected: string | null = null;
    guardCalls = 0;
    if (event !== null) {
      const [t] = stub.getTransitionData(snapshot, event);
      if (t !== undefined) selected = `${t.source.id} ${t.eventType} #${t.source.transitions.get(t.eventType)!.indexOf(t)}`;
    }
    guardCalls = 0;
    const [next, actions] = step();
    snapshot = next;
    const effects: string[] = [];
    for (const a of actions) {
      const params = a.params as { id?: string; delay?: number; event?: { type: string }; sendId?: string } | undefined;
      if (a.type === 'xstate.raise') {
        if (typeof params?.delay !== 'number') throw new Error(`xstate raised ${JSON.stringify(params?.event)} without a delay`);
        pending.set(params.id!, { event: params.event!, delay: params.delay });
        effects.push(`schedule:${params.id}:${fromMillis(params.delay)}`);
      } else if (a.type === 'xstate.cancel') {
        if (pending.delete(params!.sendId!)) effects.push(`cancel:${params!.sendId}`);
      } else if (a.type.startsWith('xstate.')) {
        throw new Error(`unexpected built-in action ${a.type}`);
      } else effects.push(entry(a.type, a.params));
    }
    return { value: snapshot.value, done: snapshot.status === 'done', effects, pending: [...pending.keys()].sort(), taken: selected, guardCalls };
  };

  const startedX = xstate(() => initialTransition(stub, {}) as [AnyMachineSnapshot, Array<{ type: string; params: unknown }>], null);
  const startedS = stepper(() => chart.start());
  startedS.taken = null; // xstate's initial transition is not one getTransitionData selects
  deepStrictEqual(startedS, startedX, 'initial state');

  for (const [i, step] of steps.entries()) {
    answers = step.guards;
    let event: { type: string };
    if (step.kind === 'event') event = { type: step.type };
    else {
      const ids = [...pending.keys()].sort();
      if (ids.length === 0) continue;
      const id = ids[step.pick % ids.length]!;
      event = pending.get(id)!.event;
      pending.delete(id);
    }
    const s = stepper(() => (step.kind === 'event' ? chart.send(event) : host.expire(event.type)));
    const x = xstate(() => transition(stub, snapshot, event) as [AnyMachineSnapshot, Array<{ type: string; params: unknown }>], event);
    deepStrictEqual(s, x, `step ${i} (${event.type}) of ${JSON.stringify(steps.slice(0, i + 1))}`);
    if (x.done) {
      // A done machine ignores everything.
      const after = stepper(() => chart.send({ type: compiled.events[0] ?? 'UNKNOWN' }));
      deepStrictEqual(after.effects, [], 'a done machine ignores events');
      return;
    }
  }
}
