import fc from 'fast-check';
import type { FaultRecord } from '../faults/fault-kind.ts';

/**
 * A seed's schedule value cut down to some of its faults, each at its own time, as a value that
 * fast-check's shrinker can go on shrinking (the times and parameters of the faults left).
 *
 * fast-check keeps in a value's context how the value was drawn, and its shrinker needs that
 * context. A schedule that delta debugging cut down was never drawn, so its context is made here
 * from the seed's. That relies on two things that are not public contracts, and the function
 * returns null when either does not hold (the shrink then goes on without fast-check's pass; a test
 * pins both, so that an upgrade that changes them fails it):
 * - fast-check 4's contexts: a `chain` keeps the value it chained from, whether that may still
 *   shrink (`stoppedForOriginal`) and the chained value's context; a `map` keeps the value before
 *   mapping and its context; an `array` keeps its items' contexts; a `tuple`'s context is the list
 *   of its items' contexts;
 * - the gap encoding of `scheduleArbitrary`: an array of [gap, body] mapped to faults at the
 *   running sum of the gaps.
 * A kept fault's gap becomes the time since the previous kept fault (its integer context is
 * dropped when that changes the gap). The draws swarm mode chains the schedule from (the kinds and
 * the size) no longer shrink: shrinking them draws another schedule, not a smaller one of these
 * faults.
 *
 * `keep`: indices into the value's faults, ascending.
 */
export function narrowScheduleValue(value: fc.Value<FaultRecord[]>, keep: readonly number[]): fc.Value<FaultRecord[]> | null {
  const faults = value.value_;
  const context = narrowed(value.context, faults, keep);
  return context === null ? null : new fc.Value(keep.map((i) => faults[i]!), context);
}

type Step = [number, object];

function narrowed(context: unknown, faults: readonly FaultRecord[], keep: readonly number[]): unknown {
  if (isRecord(context) && 'chainedContext' in context && 'stoppedForOriginal' in context) {
    const inner = narrowed(context['chainedContext'], faults, keep);
    return inner === null ? null : { ...context, chainedContext: inner, stoppedForOriginal: true };
  }
  if (!isRecord(context) || !('originalValue' in context) || !isRecord(context['originalContext'])) return null;
  const steps = context['originalValue'];
  const items = context['originalContext']['itemsContexts'];
  if (!isSteps(steps, faults) || !Array.isArray(items) || items.length !== steps.length) return null;
  let previous = faults[0]!.at - steps[0]![0];
  const keptSteps: Step[] = [];
  const keptContexts: unknown[] = [];
  for (const i of keep) {
    const [gap, body] = steps[i]!;
    const itemContext: unknown = items[i];
    if (!Array.isArray(itemContext) || itemContext.length !== 2) return null;
    const at = faults[i]!.at;
    keptSteps.push([at - previous, body]);
    keptContexts.push(at - previous === gap ? itemContext : [undefined, itemContext[1]]);
    previous = at;
  }
  return { originalValue: keptSteps, originalContext: { shrunkOnce: false, lengthContext: undefined, itemsContexts: keptContexts, startIndex: 0 } };
}

/** Whether `steps` is the gap encoding of `faults`: [gap, body] each, times the running sum of the gaps. */
function isSteps(steps: unknown, faults: readonly FaultRecord[]): steps is Step[] {
  if (!Array.isArray(steps) || steps.length !== faults.length || steps.length === 0) return false;
  const shaped = steps.every((s: unknown, i) => Array.isArray(s) && s.length === 2 && typeof s[0] === 'number' && isRecord(s[1]) && s[1]['kind'] === faults[i]!.kind);
  if (!shaped) return false;
  let at = faults[0]!.at - (steps as Step[])[0]![0];
  return (steps as Step[]).every(([gap], i) => (at += gap) === faults[i]!.at);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}
