import { MS, type Micros } from '../../../sim-cluster/index.ts';
import type { RoutingSample, RoutingState } from './routing-state.ts';

type Signal = 'available' | 'connected' | 'mapped' | 'staleMapping';
type Gauge = 'leaders';

/** How often the routing state is sampled: the resolution of availability and of the "restored" metrics. */
export const SAMPLE_PERIOD_US: Micros = 100 * MS;

/**
 * The routing state sampled every `SAMPLE_PERIOD_US` of true time over a window, by kernel-level
 * timers (which record nothing in the trace, so sampling never changes a run's trace hash).
 */
export class RoutingSeries {
  readonly samples: RoutingSample[] = [];

  constructor(readonly fromUs: Micros, readonly periodUs: Micros = SAMPLE_PERIOD_US) {}

  /** Schedules the samples from `fromUs` to `toUs` (exclusive) on the state's simulation. */
  static record(state: RoutingState, schedule: (at: Micros, run: () => void) => void, fromUs: Micros, toUs: Micros): RoutingSeries {
    const series = new RoutingSeries(fromUs);
    const step = (at: Micros): void => {
      if (at >= toUs) return;
      schedule(at, () => {
        series.samples.push(state.sample());
        step(at + series.periodUs);
      });
    };
    step(fromUs);
    return series;
  }

  /** Fraction of the samples in which `signal` held (1 for an empty series). */
  fraction(signal: Signal): number {
    if (this.samples.length === 0) return 1;
    return this.samples.filter((s) => s[signal]).length / this.samples.length;
  }

  /** Time in which `signal` held, in µs. */
  timeUs(signal: Signal): Micros {
    return this.samples.filter((s) => s[signal]).length * this.periodUs;
  }

  /** Time in which `signal` did not hold, in µs. */
  downtimeUs(signal: Signal): Micros {
    return this.samples.filter((s) => !s[signal]).length * this.periodUs;
  }

  /**
   * From the window's start to the first sample in which `signal` holds again after it first
   * failed: 0 if it never failed, null if it never held again.
   */
  restoredAfter(signal: Signal): Micros | null {
    const broken = this.samples.findIndex((s) => !s[signal]);
    if (broken < 0) return 0;
    const back = this.samples.findIndex((s, i) => i > broken && s[signal]);
    return back < 0 ? null : back * this.periodUs;
  }

  /** From the window's start to the last time `signal` came back (null if it is broken at the end, 0 if never broken). */
  stableAfter(signal: Signal): Micros | null {
    const last = this.samples.at(-1);
    if (last === undefined) return 0;
    if (!last[signal]) return null;
    for (let i = this.samples.length - 1; i >= 0; i--) if (!this.samples[i]![signal]) return (i + 1) * this.periodUs;
    return 0;
  }

  max(gauge: Gauge): number {
    return this.samples.reduce((m, s) => Math.max(m, s[gauge]), 0);
  }
}
