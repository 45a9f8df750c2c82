/**
 * Benchmark harness: `warmups` untimed runs (so the JIT has compiled the hot paths), then
 * `repeats` timed runs, reported as one JSON object per line (the `npm run bench` contract in
 * DESIGN.md): the median and the minimum wall time, and the CPU time of the median run next to
 * them. CPU time is what a run costs even when other processes share the cores, where wall time
 * also counts the waits for a core.
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
  /** Median wall time of one timed run. */
  wallMs: number;
  eventsPerMs: number;
  simSeconds?: number;
  speedup?: number;
  [extra: string]: unknown;
}

/** One timed run: wall and CPU time (ms; CPU of the whole process, worker threads included). */
export interface Timing {
  wallMs: number;
  cpuMs: number;
}

/** Times `run`: wall clock and the process's CPU time (user + system, every thread). */
export function timed<T>(run: () => T): { value: T } & Timing {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = run();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { value, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** The same for an asynchronous run (a campaign on a worker pool). */
export async function timedAsync<T>(run: () => Promise<T>): Promise<{ value: T } & Timing> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await run();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { value, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** The median of timings by wall time, and the fastest. */
export function summarize(timings: readonly Timing[]): { median: Timing; min: Timing } {
  const sorted = [...timings].sort((a, b) => a.wallMs - b.wallMs);
  return { median: sorted[Math.floor((sorted.length - 1) / 2)]!, min: sorted[0]! };
}

export function measure(bench: string, run: () => BenchSample, repeats = 5, warmups = 3): BenchResult {
  for (let i = 0; i < warmups; i++) run();
  const timings: Timing[] = [];
  let sample: BenchSample = { events: 0 };
  for (let i = 0; i < repeats; i++) {
    const t = timed(run);
    sample = t.value;
    timings.push(t);
  }
  const { median, min } = summarize(timings);
  const { events, simUs, ...extra } = sample;
  const result: BenchResult = {
    bench,
    events,
    wallMs: round(median.wallMs),
    wallMinMs: round(min.wallMs),
    eventsPerMs: Math.round(events / median.wallMs),
    cpuMs: round(median.cpuMs),
    cpuUsPerEvent: round((median.cpuMs * 1000) / events, 3),
  };
  if (simUs !== undefined) {
    result.simSeconds = simUs / 1_000_000;
    result.speedup = Math.round(simUs / 1_000 / median.wallMs);
  }
  return { ...result, ...extra };
}

/** The process's peak resident set so far (MB): the bench's own and its worker threads'. */
export function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
