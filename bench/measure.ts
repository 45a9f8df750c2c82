/**
 * Benchmark harness: `warmups` untimed runs (so the JIT has compiled the hot paths), then
 * `repeats` timed runs; the median wall time is reported as one JSON object per line (the
 * `npm run bench` contract in DESIGN.md).
 */
export interface BenchSample {
  /** Kernel events executed by one run. */
  events: number;
  /** Simulated time covered by one run, for whole-cluster benchmarks. */
  simUs?: number;
  /** Any other figure worth printing (trace events, seeds...). */
  [extra: string]: number | undefined;
}

export interface BenchResult {
  bench: string;
  events: number;
  wallMs: number;
  eventsPerMs: number;
  simSeconds?: number;
  speedup?: number;
  [extra: string]: unknown;
}

export function measure(bench: string, run: () => BenchSample, repeats = 5, warmups = 3): BenchResult {
  for (let i = 0; i < warmups; i++) run();
  const times: number[] = [];
  let sample: BenchSample = { events: 0 };
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    sample = run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const wallMs = times[Math.floor(times.length / 2)]!;
  const { events, simUs, ...extra } = sample;
  const result: BenchResult = { bench, events, wallMs: round(wallMs), eventsPerMs: Math.round(events / wallMs) };
  if (simUs !== undefined) {
    result.simSeconds = simUs / 1_000_000;
    result.speedup = Math.round(simUs / 1_000 / wallMs);
  }
  return { ...result, ...extra };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
