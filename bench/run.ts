/**
 * `npm run bench`: prints one JSON object per line per benchmark (DESIGN.md contract): at least
 * bench, events, wallMs, eventsPerMs, and for whole-cluster runs simSeconds and speedup
 * (simulated seconds per wall-clock second). Pass benchmark name prefixes to run a subset.
 */
import { benchQueue, benchRawKernel, benchSampleCluster } from './kernel.ts';
import type { BenchResult } from './measure.ts';
import { benchCampaign, benchStreamSpace } from './model.ts';
import { benchCampaignPool } from './campaign.ts';
import { benchCliStartup } from './startup.ts';

// A benchmark gives one result, or several measured side by side (one line each).
const benches: Array<[string, () => BenchResult | BenchResult[] | Promise<BenchResult>]> = [
  ['kernel.queue', () => benchQueue()],
  ['kernel.raw', () => benchRawKernel()],
  ['kernel.xstate-cluster', () => benchSampleCluster(false, true)],
  ['kernel.xstate-cluster+faults', () => benchSampleCluster(true, true)],
  ['kernel.xstate-cluster (guard off)', () => benchSampleCluster(false, false)],
  ['model.streamspace-10min', () => benchStreamSpace(false)],
  ['model.streamspace-10min (message trace)', () => benchStreamSpace(true)],
  ['campaign.verdicts-1-worker', () => benchCampaign()],
  ['campaign.verdicts-1-worker (hardened)', () => benchCampaign('hardened')],
  ['campaign.hardened-1-worker', () => benchCampaignPool(1)],
  ['campaign.hardened-2-workers', () => benchCampaignPool(2)],
  ['cli.startup', () => benchCliStartup()],
];
// Seeds per second for campaign benchmarks: cases / wall seconds.
const perSecond = (r: BenchResult): void => {
  if (typeof r['cases'] === 'number') r['seedsPerSecond'] = Math.round(((r['cases'] as number) / r.wallMs) * 1000 * 10) / 10;
};

const filters = process.argv.slice(2);
let raw: number | undefined;
// Seeds per second on one worker, for the two-worker run's scaling ratio.
let onePool: number | undefined;
for (const [name, bench] of benches) {
  if (filters.length > 0 && !filters.some((f) => name.startsWith(f))) continue;
  const results = await bench();
  if (Array.isArray(results)) {
    for (const result of results) process.stdout.write(JSON.stringify(result) + '\n');
    continue;
  }
  const result = results;
  if (name === 'kernel.raw') raw = result.eventsPerMs;
  if (name.startsWith('kernel.xstate') && raw !== undefined) result['ratioToRaw'] = Math.round((result.eventsPerMs / raw) * 1000) / 1000;
  perSecond(result);
  if (name === 'campaign.hardened-1-worker') onePool = result['seedsPerSecond'] as number;
  if (name === 'campaign.hardened-2-workers' && onePool !== undefined) result['scaling'] = Math.round(((result['seedsPerSecond'] as number) / onePool) * 100) / 100;
  process.stdout.write(JSON.stringify(result) + '\n');
}
