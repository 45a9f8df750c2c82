import fc from 'fast-check';
import { SECOND, type Micros } from '../sim-cluster/index.ts';
import type { AnyFaultKind, FaultRecord, TargetRoles } from './fault-kind.ts';

/**
 * fast-check arbitraries for fault schedules.
 *
 * Times are gap-encoded: each fault carries the gap since the previous one and `at` is the running
 * sum, so shrinking a gap moves that fault and every later one earlier, and removing a fault keeps
 * the others' relative timing (measured in notes/toolchain.md §1: ~240x fewer shrink steps than
 * absolute times). Durations shrink towards short. The simulation seed is not part of the schedule
 * and is never shrunk.
 *
 * Swarm mode (as in TigerBeetle's VOPR): each run first draws which fault kinds are enabled and
 * their intensity, then a schedule from only those, so rare combinations are explored instead of
 * every run mixing everything thinly.
 */
export interface ScheduleOptions {
  /** The fault kinds that may appear, in the order the arbitrary draws from (a system's list, or part of it). */
  kinds: ReadonlyArray<AnyFaultKind<never, never>>;
  /** The system's target roles. */
  roles: TargetRoles;
  /** When faults may start (after the cluster settled). */
  startUs: Micros;
  /** Most faults in one schedule. Default 8. */
  maxFaults?: number;
  /** Largest gap between consecutive faults. Default 60 s. */
  maxGapUs?: Micros;
  /** Longest window fault (pause, partition...). Default 120 s: longer than a control plane's timeouts, shorter than its TTLs. */
  maxDurationUs?: Micros;
}

/** `ScheduleOptions`' defaults: most faults, largest gap, longest window. */
export const DEFAULT_MAX_FAULTS = 8;
export const DEFAULT_MAX_GAP_US: Micros = 60 * SECOND;
export const DEFAULT_MAX_DURATION_US: Micros = 120 * SECOND;

/** A gap-encoded schedule, decoded to absolute times. */
export function scheduleArbitrary(options: ScheduleOptions): fc.Arbitrary<FaultRecord[]> {
  // No kinds, or room for no fault: fault-free cases.
  if (options.kinds.length === 0 || options.maxFaults === 0) return fc.constant([]);
  const maxGap = options.maxGapUs ?? DEFAULT_MAX_GAP_US;
  const ctx = { roles: options.roles, maxDurationUs: options.maxDurationUs ?? DEFAULT_MAX_DURATION_US };
  const bodies = new Map(options.kinds.map((k) => [k.kind, k.arbitrary(ctx) as fc.Arbitrary<Omit<FaultRecord, 'at'>>]));
  const step = fc.tuple(fc.integer({ min: 0, max: maxGap }), fc.constantFrom(...bodies.keys()).chain((k) => bodies.get(k)!));
  return fc.array(step, { maxLength: options.maxFaults ?? DEFAULT_MAX_FAULTS, size: 'medium' }).map((steps) => {
    let at = options.startUs;
    return steps.map(([gap, body]) => {
      at += gap;
      return { ...body, at } as FaultRecord;
    });
  });
}

/** Swarm mode: a random non-empty subset of kinds, then a schedule of only those. */
export function swarmScheduleArbitrary(options: ScheduleOptions): fc.Arbitrary<FaultRecord[]> {
  const maxFaults = options.maxFaults ?? DEFAULT_MAX_FAULTS;
  if (options.kinds.length === 0 || maxFaults === 0) return fc.constant([]);
  return fc.subarray([...options.kinds], { minLength: 1 }).chain((enabled) =>
    fc.integer({ min: Math.min(2, maxFaults), max: maxFaults }).chain((n) => scheduleArbitrary({ ...options, kinds: enabled, maxFaults: n })));
}

/** The simulation seed: never shrunk (shrinking a seed towards 0 means nothing). */
export const seedArbitrary = fc.noShrink(fc.integer({ min: 0, max: 2 ** 31 - 1 }));
