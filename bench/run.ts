/**
 * `npm run bench`: prints one JSON object per line per benchmark (DESIGN.md contract): at least
 * bench, events, wallMs, eventsPerMs, and for whole-cluster runs simSeconds and speedup
 * (simulated seconds per wall-clock second). Pass benchmark name prefixes to run a subset.
 */
import { benchQueue, benchRawKernel, benchSampleCluster } from './kernel.ts';
import type { BenchResult } from './measure.ts';
import { benchCampaign, benchStreamSpace } from './model.ts';

const benches: Array<[string, () => BenchResult]> = [
  ['kernel.queue', () => benchQueue()],
  ['kernel.raw', () => benchRawKernel()],
  ['kernel.xstate-cluster', () => benchSampleCluster(false, true)],
  ['kernel.xstate-cluster+faults', () => benchSampleCluster(true, true)],
  ['kernel.xstate-cluster (guard off)', () => benchSampleCluster(false, false)],
  ['model.streamspace-10min', () => benchStreamSpace(false)],
  ['model.streamspace-10min (message trace)', () => benchStreamSpace(true)],
  ['campaign.verdicts-1-worker', () => benchCampaign()],
];
// Seeds per second for campaign benchmarks: cases / wall seconds.
const perSecond = (r: BenchResult): void => {
  if (typeof r['cases'] === 'number') r['seedsPerSecond'] = Math.round(((r['cases'] as number) / r.wallMs) * 1000 * 10) / 10;
};

const filters = process.argv.slice(2);
let raw: number | undefined;
for (const [name, bench] of benches) {
  if (filters.length > 0 && !filters.some((f) => name.startsWith(f))) continue;
  const result = bench();
  if (name === 'kernel.raw') raw = result.eventsPerMs;
  if (name.startsWith('kernel.xstate') && raw !== undefined) result['ratioToRaw'] = Math.round((result.eventsPerMs / raw) * 1000) / 1000;
  perSecond(result);
  process.stdout.write(JSON.stringify(result) + '\n');
}
