import { assertTime, type Micros, type ProcessContext } from '../../../sim-cluster/index.ts';

/** A server's time to handle one request: uniform in [min, max] µs. */
export interface ServiceTimeRange {
  min: Micros;
  max: Micros;
}

/**
 * Checks a service-time range once, at boot-function creation, and returns a sampler drawing from
 * the process's own `service` random stream.
 */
export function serviceTimeSampler(range: ServiceTimeRange): (ctx: ProcessContext) => Micros {
  assertTime(range.min, 'serviceTimeUs.min');
  assertTime(range.max, 'serviceTimeUs.max');
  if (range.min > range.max) throw new RangeError(`serviceTimeUs.min ${range.min} > max ${range.max}`);
  return (ctx) => ctx.random('service').int(range.min, range.max);
}
