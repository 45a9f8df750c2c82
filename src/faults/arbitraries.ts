import fc from 'fast-check';
import { MS, SECOND, type Micros } from '../sim-cluster/index.ts';
import { ALL_FAULT_KINDS, type Fault, type FaultKind, type Target } from './fault-kinds.ts';

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
  /** Fault kinds that may appear. Default: all. */
  kinds?: readonly FaultKind[];
  /** When faults may start (after the cluster settled). */
  startUs: Micros;
  /** Most faults in one schedule. Default 8. */
  maxFaults?: number;
  /** Largest gap between consecutive faults. Default 60 s. */
  maxGapUs?: Micros;
  /** Longest window fault (pause, partition...). Default 120 s: longer than every timeout but the TTLs. */
  maxDurationUs?: Micros;
}

const target = (roles: ReadonlyArray<Target['role']>): fc.Arbitrary<Target> =>
  fc.constantFrom(...roles).chain((role) =>
    role === 'api' || role === 'agent' || role === 'worker-node'
      ? fc.nat({ max: 5 }).map((index) => ({ role, index }) as Target)
      : fc.constant({ role } as Target));

const PROCESS_ROLES = ['api', 'agent', 'leader', 'agent-host', 'redis', 'postgres'] as const;
const NODE_ROLES = ['api', 'agent', 'leader', 'agent-host', 'redis', 'postgres', 'worker-node'] as const;

/** A fault of one kind without its time (`at` is filled in from the gaps). */
export function faultBody(kind: FaultKind, maxDurationUs: Micros): fc.Arbitrary<Omit<Fault, 'at'>> {
  const duration = fc.integer({ min: 1 * SECOND, max: maxDurationUs });
  switch (kind) {
    case 'crash':
    case 'delete':
      return fc.record({ kind: fc.constant(kind), target: target([...PROCESS_ROLES]) });
    case 'pause':
      return fc.record({ kind: fc.constant(kind), target: target([...PROCESS_ROLES, 'kube-api']), durationUs: duration });
    case 'isolate':
    case 'node-failure':
      return fc.record({ kind: fc.constant(kind), target: target([...NODE_ROLES]), durationUs: duration });
    case 'partition':
      return fc.record({ kind: fc.constant(kind), from: target([...NODE_ROLES]), to: target([...NODE_ROLES, 'kube-api']), oneWay: fc.boolean(), durationUs: duration });
    case 'link-burst':
      return fc.record({
        kind: fc.constant(kind), target: target([...NODE_ROLES]),
        dropRate: fc.constantFrom(0, 0.1, 0.3, 0.6), duplicateRate: fc.constantFrom(0, 0.1, 0.5),
        delayUs: fc.constantFrom(0, 50 * MS, 500 * MS, 5 * SECOND), durationUs: duration,
      });
    case 'clock-jump':
      return fc.record({ kind: fc.constant(kind), target: target([...NODE_ROLES]), deltaUs: fc.integer({ min: -120 * SECOND, max: 120 * SECOND }) });
    case 'clock-drift':
      return fc.record({ kind: fc.constant(kind), target: target([...NODE_ROLES]), ppm: fc.constantFrom(-100_000, -500, 500, 100_000), durationUs: duration });
    case 'redis-restart':
      return fc.record({ kind: fc.constant(kind), fromSnapshot: fc.boolean(), downUs: fc.integer({ min: 1 * SECOND, max: 30 * SECOND }) });
    case 'redis-evict':
      return fc.record({ kind: fc.constant(kind), key: fc.constantFrom('pod' as const, 'connected' as const) });
    case 'pg-write-errors':
      return fc.record({ kind: fc.constant(kind), durationUs: duration });
    case 'kube-api':
      return fc.record({ kind: fc.constant(kind), mode: fc.constantFrom('slow' as const, 'error' as const, 'blackhole' as const), extraLatencyUs: fc.constantFrom(0, 1 * SECOND, 5 * SECOND), durationUs: duration });
  }
}

/** A gap-encoded schedule, decoded to absolute times. */
export function scheduleArbitrary(options: ScheduleOptions): fc.Arbitrary<Fault[]> {
  const kinds = options.kinds ?? ALL_FAULT_KINDS;
  const maxGap = options.maxGapUs ?? 60 * SECOND;
  const maxDuration = options.maxDurationUs ?? 120 * SECOND;
  const step = fc.tuple(fc.integer({ min: 0, max: maxGap }), fc.constantFrom(...kinds).chain((k) => faultBody(k, maxDuration)));
  return fc.array(step, { maxLength: options.maxFaults ?? 8, size: 'medium' }).map((steps) => {
    let at = options.startUs;
    return steps.map(([gap, body]) => {
      at += gap;
      return { ...body, at } as Fault;
    });
  });
}

/** Swarm mode: a random non-empty subset of kinds, then a schedule of only those. */
export function swarmScheduleArbitrary(options: ScheduleOptions): fc.Arbitrary<Fault[]> {
  const kinds = options.kinds ?? ALL_FAULT_KINDS;
  return fc.subarray([...kinds], { minLength: 1 }).chain((enabled) =>
    fc.integer({ min: Math.min(2, options.maxFaults ?? 8), max: options.maxFaults ?? 8 }).chain((maxFaults) => scheduleArbitrary({ ...options, kinds: enabled, maxFaults })));
}

/** The simulation seed: never shrunk (shrinking a seed towards 0 means nothing). */
export const seedArbitrary = fc.noShrink(fc.integer({ min: 0, max: 2 ** 31 - 1 }));
