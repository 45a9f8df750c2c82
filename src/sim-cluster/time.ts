/**
 * Virtual time. Every instant and duration in hasim is an integer number of microseconds
 * (DESIGN decision 1: integer units, never floats). Microseconds, not milliseconds, because
 * in-cluster network latencies are well under a millisecond and rounding them to 0 or 1 ms
 * would collapse the orderings the simulation is meant to explore.
 */
export type Micros = number;

export const US: Micros = 1;
export const MS: Micros = 1_000;
export const SECOND: Micros = 1_000_000;
export const MINUTE: Micros = 60 * SECOND;

/** Converts a duration in (possibly fractional) milliseconds to whole microseconds. */
export function fromMillis(ms: number): Micros {
  return Math.round(ms * MS);
}

/** Renders a virtual instant as seconds with millisecond precision, e.g. `12.345s`. */
export function formatTime(t: Micros): string {
  const sign = t < 0 ? '-' : '';
  const abs = Math.abs(t);
  const whole = Math.floor(abs / SECOND);
  const ms = Math.floor((abs % SECOND) / MS);
  return `${sign}${whole}.${String(ms).padStart(3, '0')}s`;
}

/** Throws unless `t` is a safe non-negative integer: floats must never enter the clock. */
export function assertTime(t: number, what: string): void {
  if (!Number.isSafeInteger(t) || t < 0) {
    throw new RangeError(`${what} must be a non-negative integer number of microseconds, got ${t}`);
  }
}
