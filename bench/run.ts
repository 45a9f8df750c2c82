/**
 * `npm run bench`: prints one JSON object per line per benchmark (DESIGN.md contract): at least
 * bench, events, wallMs, eventsPerMs, and for whole-cluster runs simSeconds and speedup
 * (simulated seconds per wall-clock second). Pass benchmark name prefixes to run a subset.
 *
 * `limit` runs first: a minimal heap+closure loop at the kernel's heap depth. Every line with events
 * gets `ratioToLimit`: the limit's CPU time per event over its own, in this run (CPU rather than
 * wall time, which on a shared machine also counts the waits for a core), so figures taken on a busy
 * or a different machine can still be compared as ratios.
 */
import { benchLimit, benchQueue, benchRawKernel, benchSampleCluster } from './kernel.ts';
import type { BenchResult } from './measure.ts';
import { benchCampaign, benchLoad, benchShrink, benchSixHours, benchStreamSpace } from './model.ts';
import { benchCampaignCoverage, benchCampaignGuided, benchCampaignMemory, benchCampaignPool, PATRONI_SPACE, SWARM_SPACE } from './campaign.ts';
import { benchCliStartup } from './startup.ts';

// A benchmark gives one result, or several measured side by side (one line each).
type Bench = [string, () => BenchResult | BenchResult[] | Promise<BenchResult>];
const benches: Bench[] = [
  ['limit', () => benchLimit()],
  ['kernel.queue', () => benchQueue()],
  ['kernel.raw', () => benchRawKernel()],
  ['kernel.xstate-cluster', () => benchSampleCluster(false, true)],
  ['kernel.xstate-cluster+faults', () => benchSampleCluster(true, true)],
  ['kernel.xstate-cluster (guard off)', () => benchSampleCluster(false, false)],
  ['model.streamspace-10min', () => benchStreamSpace(false)],
  ['model.streamspace-10min (message trace)', () => benchStreamSpace(true)],
  ['model.streamspace-load-1000', () => benchLoad()],
  ['memory.streamspace-6h', () => benchSixHours()],
  ['shrink.streamspace-v2-seed-10', () => benchShrink()],
  ['shrink.streamspace-v2-seed-12', () => benchShrink(12)],
  ['campaign.verdicts-1-worker', () => benchCampaign()],
  ['campaign.verdicts-1-worker (hardened)', () => benchCampaign('hardened')],
  ['campaign.hardened-seed-000-1-worker', () => benchCampaignPool(1)],
  ['campaign.hardened-seed-000-2-workers', () => benchCampaignPool(2)],
  ['campaign.hardened-seed-000-coverage-2-workers', () => benchCampaignCoverage(2)],
  ['campaign.hardened-swarm-2-workers', () => benchCampaignPool(2, SWARM_SPACE, 200)],
  ['campaign.hardened-r004-patroni-async-2-workers', () => benchCampaignPool(2, PATRONI_SPACE, 200)],
  ['campaign.guided-vs-unguided-2-workers', () => benchCampaignGuided(2)],
  ['cli.startup', () => benchCliStartup()],
];
// Minutes long: only when asked for by name (`npm run bench memory.campaign`).
const onRequest: Bench[] = [
  ['memory.campaign-20k', () => benchCampaignMemory()],
];

// Seeds per second for campaign benchmarks: cases / wall seconds.
const perSecond = (r: BenchResult): void => {
  if (typeof r['cases'] === 'number' && r['seedsPerSecond'] === undefined) r['seedsPerSecond'] = Math.round(((r['cases'] as number) / r.wallMs) * 1000 * 10) / 10;
};
const ratio = (x: number, of: number): number => Math.round((x / of) * 1000) / 1000;

const filters = process.argv.slice(2);
const selected = [
  ...benches.filter(([name]) => filters.length === 0 || filters.some((f) => name.startsWith(f))),
  ...onRequest.filter(([name]) => filters.some((f) => f.length > 'memory.'.length && name.startsWith(f))),
];
// The limit is measured for every subset with an events figure to read against it.
const readAgainstLimit = (name: string): boolean => ['kernel.', 'model.', 'memory.', 'campaign.'].some((p) => name.startsWith(p));
if (!selected.some(([name]) => name === 'limit') && selected.some(([name]) => readAgainstLimit(name))) selected.unshift(benches[0]!);
// The limit's CPU time per event (µs).
let limit: number | undefined;
let raw: number | undefined;
// Seeds per second on one worker, for the two-worker run's scaling ratio.
let onePool: number | undefined;
for (const [name, bench] of selected) {
  const results = await bench();
  for (const result of Array.isArray(results) ? results : [results]) {
    if (name === 'limit') limit = result['cpuUsPerEvent'] as number;
    if (name === 'kernel.raw') raw = result.eventsPerMs;
    const cpuPerEvent = result['cpuUsPerEvent'];
    if (limit !== undefined && name !== 'limit' && typeof cpuPerEvent === 'number' && cpuPerEvent > 0) result['ratioToLimit'] = ratio(limit, cpuPerEvent);
    if (name.startsWith('kernel.xstate') && raw !== undefined) result['ratioToRaw'] = ratio(result.eventsPerMs, raw);
    perSecond(result);
    if (name === 'campaign.hardened-seed-000-1-worker') onePool = result['seedsPerSecond'] as number;
    if (name === 'campaign.hardened-seed-000-2-workers' && onePool !== undefined) result['scaling'] = Math.round(((result['seedsPerSecond'] as number) / onePool) * 100) / 100;
    process.stdout.write(JSON.stringify(result) + '\n');
  }
}
