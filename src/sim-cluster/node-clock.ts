import type { Micros } from './time.ts';

/** Parts per million: 1,000 ppm means the node's clock gains 1 ms every true second. */
export type Ppm = number;

export interface NodeClockOptions {
  /** Wall-clock offset from true time at t=0, in µs (may be negative). Default 0. */
  offsetUs?: Micros;
  /** Rate error of the node's oscillator, in ppm; it drives both the monotonic and the wall clock. Default 0. */
  driftPpm?: Ppm;
}

const PPM = 1_000_000;

/**
 * A node's local clocks, as a function of true (simulation) time. Two readings, as on Linux and in
 * Go's `time` package:
 * - **monotonic**: runs at the node's drift rate and never jumps. Go measures elapsed time with it
 *   (client-go's `isLeaseValid` compares monotonic readings), so wall-clock steps do not move it.
 * - **wall**: monotonic plus an offset that NTP-style steps (`jump`) change. Timestamps written to
 *   rows, Redis TTLs (Redis expiry reads the wall clock), and anything compared across nodes use it.
 *
 * Timers are armed in local monotonic durations and converted to true durations by the drift rate.
 * A drift change applies to timers armed after it; already-armed timers keep their true deadline
 * (the error is at most drift × remaining delay, far below any timeout in the model).
 * Integer arithmetic only: readings are floored, true delays are ceiled, so a timer never fires
 * before its local duration has elapsed.
 */
export class NodeClock {
  private trueBase: Micros = 0;
  private monoBase: Micros = 0;
  private ratePpm: number;
  private wallOffset: Micros;

  constructor(options: NodeClockOptions = {}) {
    this.wallOffset = options.offsetUs ?? 0;
    this.ratePpm = PPM + (options.driftPpm ?? 0);
    if (this.ratePpm <= 0) throw new RangeError(`driftPpm must be greater than -1,000,000, got ${options.driftPpm}`);
  }

  get driftPpm(): Ppm {
    return this.ratePpm - PPM;
  }

  get offset(): Micros {
    return this.wallOffset;
  }

  monotonic(trueNow: Micros): Micros {
    return this.monoBase + Math.floor(((trueNow - this.trueBase) * this.ratePpm) / PPM);
  }

  wall(trueNow: Micros): Micros {
    return this.monotonic(trueNow) + this.wallOffset;
  }

  /** Steps the wall clock by `deltaUs` (an NTP step or an operator's `date -s`); monotonic is unaffected. */
  jump(deltaUs: Micros): void {
    this.wallOffset += deltaUs;
  }

  /** Changes the drift rate from `trueNow` on; readings stay continuous. */
  setDrift(trueNow: Micros, driftPpm: Ppm): void {
    if (PPM + driftPpm <= 0) throw new RangeError(`driftPpm must be greater than -1,000,000, got ${driftPpm}`);
    this.monoBase = this.monotonic(trueNow);
    this.trueBase = trueNow;
    this.ratePpm = PPM + driftPpm;
  }

  /**
   * Moves both readings back by `deltaUs`: the clock did not run for that long. This is how a VM
   * suspend looks from inside (CLOCK_MONOTONIC does not count suspended time), as opposed to a
   * process pause, during which the node's clocks keep running.
   */
  freezeFor(deltaUs: Micros): void {
    this.monoBase -= deltaUs;
  }

  /** True-time duration that a local monotonic duration of `localUs` takes on this node. */
  toTrueDelay(localUs: Micros): Micros {
    if (this.ratePpm === PPM) return localUs;
    return Math.ceil((localUs * PPM) / this.ratePpm);
  }
}
