import { isTimeParam, type AnyFaultKind, type FaultRecord } from '../faults/fault-kind.ts';
import type { Instance, System, View } from '../contract/system.ts';
import { MS, type Micros } from '../sim-cluster/index.ts';

/** What `narrowFaults` narrows, and how finely. */
export interface NarrowOptions {
  /** Where the first fault's gap is counted from (a case space's `startUs`, the system's settle time). */
  startUs: Micros;
  /** The kinds whose parameters are narrowed, by name (a kind not in it keeps its parameters). */
  kinds: ReadonlyMap<string, AnyFaultKind<never, never>>;
  /** Bisection runs per field after its target. Default 7 (DEFAULT_MAX_PROBES). */
  maxProbes?: number;
  /** Grid of times (gaps, durations, delays). Default 1 ms (DEFAULT_RESOLUTION_US). */
  resolutionUs?: Micros;
}

export const DEFAULT_MAX_PROBES = 7;
export const DEFAULT_RESOLUTION_US: Micros = MS;

/** A system's `NarrowOptions`: gaps counted from its settle time (where drawn schedules start), its kinds' parameters. */
export function narrowOptionsFor<C, I extends Instance, V extends View>(system: System<C, I, V>): NarrowOptions {
  return { startUs: system.settleUs, kinds: new Map(system.faults.map((k) => [k.kind, k as AnyFaultKind<never, never>])) };
}

export interface Narrowed {
  schedule: FaultRecord[];
  /** Values moved: runs that still failed and were kept. */
  steps: number;
}

/** One numeric field of one fault: how to read and write it, its target and its grid. */
interface Field {
  get(schedule: readonly FaultRecord[]): number;
  set(schedule: readonly FaultRecord[], value: number): FaultRecord[];
  target: number;
  /** The grid step (0: none, a number parameter). */
  step: number;
}

/**
 * The numeric fields of a schedule's faults, each moved towards its simplest value while the
 * schedule still fails: a bounded search per field, so that a shrink costs a few runs per field
 * instead of one to three per bit of a microsecond time.
 *
 * The fields of fault i, in order: its gap (the time since fault i-1, or since `startUs` for the
 * first; moving it moves the faults after it by as much, so their spacing stays), then each
 * integer or number parameter of its kind (`FaultKind.params`: durations, delays, clock steps,
 * rates, counts), in the kind's order. Targets, roles, modes and booleans stay as they are. A
 * field's target is the value its schema allows that is closest to 0 (a gap's is 0: the previous
 * fault's instant). For each field in turn, from the schedule the fields before it left:
 * 1. the target, in one run;
 * 2. else a bisection between the target (passes) and the current value (fails), at most
 *    `maxProbes` runs, on a grid of `resolutionUs` for times (parameters whose doc says µs) and of 1
 *    for the other integers: it ends with a failing value less than a grid step, or about
 *    2^-maxProbes of the distance from the current value, above one that passed;
 * 3. then the roundest value of the grid between those two (a multiple of the largest power of ten
 *    grid steps there is), in one run, kept if it fails: 3 s rather than 3.012 s.
 * Then each field's target is tried once more (a field narrowed after another can let that one
 * reach its target: a shorter window lets its fault start earlier). A field therefore costs at most
 * 3 + `maxProbes` runs, and the whole pass a bounded number per fault, whatever the scale of its
 * times. The failure need not be monotone in a field, so the value found is a boundary of failing
 * values, not the least one.
 *
 * Items keep their order, and a gap never becomes negative. A pure function of the schedule, the
 * kinds, the options and `fails`; `budget` is asked before each run.
 */
export function narrowFaults(
  schedule: readonly FaultRecord[], fails: (schedule: FaultRecord[]) => boolean, options: NarrowOptions, budget: () => boolean = () => true,
): Narrowed {
  const maxProbes = options.maxProbes ?? DEFAULT_MAX_PROBES;
  const resolution = options.resolutionUs ?? DEFAULT_RESOLUTION_US;
  const narrowed: Narrowed = { schedule: [...schedule], steps: 0 };
  // Each field towards its target, then each target once more: a field narrowed after another can
  // let that one reach its target (a shorter window lets its fault start earlier).
  for (const probes of [maxProbes, 0]) {
    for (let i = 0; i < narrowed.schedule.length; i++) {
      for (const field of fieldsOf(narrowed.schedule, i, options, resolution)) {
        if (!budget()) return narrowed;
        narrowField(narrowed, field, fails, probes, budget);
      }
    }
  }
  return narrowed;
}

/** Fault `i`'s fields: its gap, then its kind's numeric parameters. */
function fieldsOf(schedule: readonly FaultRecord[], i: number, options: NarrowOptions, resolution: Micros): Field[] {
  const fault = schedule[i]!;
  // A schedule given by hand may start before `startUs`: its first gap is then counted from its own start.
  const origin = (s: readonly FaultRecord[]): Micros => (i === 0 ? Math.min(options.startUs, s[0]!.at) : s[i - 1]!.at);
  // A schedule out of time order (given by hand) keeps a gap that is not positive as it is.
  const gaps: Field[] = fault.at - origin(schedule) <= 0 ? [] : [{
    get: (s) => s[i]!.at - origin(s),
    set: (s, value) => {
      const shift = origin(s) + value - s[i]!.at;
      return s.map((f, j) => (j < i ? f : { ...f, at: f.at + shift }));
    },
    target: 0,
    step: resolution,
  }];
  const params = Object.entries(options.kinds.get(fault.kind)?.params ?? {}).flatMap(([name, p]): Field[] => {
    if ((p.type !== 'integer' && p.type !== 'number') || typeof fault[name] !== 'number') return [];
    return [{
      get: (s) => s[i]![name] as number,
      set: (s, value) => s.map((f, j) => (j === i ? { ...f, [name]: value } : f)),
      target: Math.min(Math.max(0, p.min), p.max),
      step: p.type === 'number' ? 0 : isTimeParam(p) ? resolution : 1,
    }];
  });
  return [...gaps, ...params];
}

/** One field of the failing schedule moved towards its target: the target, else a bisection (see `narrowFaults`). */
function narrowField(narrowed: Narrowed, field: Field, fails: (schedule: FaultRecord[]) => boolean, maxProbes: number, budget: () => boolean): void {
  const schedule = narrowed.schedule;
  const from = field.get(schedule);
  if (from === field.target) return;
  const toward = Math.sign(from - field.target);
  const at = (distance: number): FaultRecord[] => field.set(schedule, field.target + toward * distance);
  const keep = (candidate: FaultRecord[]): void => {
    narrowed.schedule = candidate;
    narrowed.steps++;
  };
  const target = at(0);
  if (fails(target)) return keep(target);
  // Distances from the target: `passing` passed, `failing` (the schedule kept) fails.
  let passing = 0;
  let failing = Math.abs(from - field.target);
  for (let probe = 0; probe < maxProbes && budget(); probe++) {
    const half = (passing + failing) / 2;
    const middle = field.step === 0 ? half : Math.floor(half / field.step) * field.step;
    if (middle <= passing || middle >= failing) break;
    const candidate = at(middle);
    if (fails(candidate)) {
      keep(candidate);
      failing = middle;
    } else {
      passing = middle;
    }
  }
  // The roundest value between the two, in one more run: 3 s rather than 3.012 s when 3 s fails
  // too. (Not in the last round, which tries targets only.)
  const round = field.step === 0 || maxProbes === 0 ? null : roundest(passing, failing, field.step);
  if (round !== null && budget()) {
    const candidate = at(round);
    if (fails(candidate)) keep(candidate);
  }
}

/**
 * The value strictly between `low` and `high` that is a multiple of the largest power of ten times
 * `step` (the smallest such multiple), or null when the grid has none.
 */
export function roundest(low: number, high: number, step: number): number | null {
  let unit = step;
  while (unit * 10 < high) unit *= 10;
  for (; unit >= step; unit /= 10) {
    const value = (Math.floor(low / unit) + 1) * unit;
    if (value < high) return value;
  }
  return null;
}
