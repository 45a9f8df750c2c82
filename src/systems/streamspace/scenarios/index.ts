import type { Scenario } from './define.ts';
import { REPORT_000_SCENARIOS } from './report-000.ts';
import { REPORT_002_SCENARIOS, STALE_THRESHOLD_BEFORE_FIX } from './report-002.ts';
import { REPORT_003_SCENARIOS } from './report-003.ts';
import { REPORT_004_SCENARIOS } from './report-004.ts';
import { REPORT_004_FAILOVER_SCENARIOS } from './report-004-failover.ts';

export type { Observation, Scenario } from './define.ts';
export { SAMPLE_PERIOD_US } from '../invariants/routing-availability.ts';
export { HAPPENS } from './common.ts';

/**
 * Every scenario and claim of the StreamSpace seed reports 000, 002, 003 and 004 as a named, seeded
 * scenario (`hasim list`, `hasim run --scenario NAME`, `hasim report`). Seed 0 of each is the
 * report's own procedure; other seeds vary it.
 */
export const SCENARIOS: readonly Scenario[] = [
  ...REPORT_000_SCENARIOS, STALE_THRESHOLD_BEFORE_FIX, ...REPORT_002_SCENARIOS, ...REPORT_003_SCENARIOS, ...REPORT_004_SCENARIOS,
  ...REPORT_004_FAILOVER_SCENARIOS,
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
