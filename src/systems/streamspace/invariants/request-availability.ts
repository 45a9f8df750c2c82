import { formatTime, MS, SECOND, type Micros } from '../../../sim-cluster/index.ts';
import type { RunFigure, RunMeasures } from '../../../contract/system.ts';
import type { StreamSpaceCluster } from '../cluster/cluster.ts';
import { LOAD_OPS, succeeded, type LoadOp, type RequestLog } from '../load/request-log.ts';
import type { ClusterView } from './cluster-view.ts';

/**
 * Request-level availability, recovery time and latency of a load run (spec seeds-001-004 §2
 * "RTO/RPO": availability = successes / requests; RTO(fault) = the first instant after which the
 * availability over a sliding 10 s window stays ≥ 99.9%; flag runs whose RTOs add up to more than
 * (1 − target) × duration). Pure functions over the load generator's `RequestLog`
 * (load/request-log.ts), then the run's figures built from them (`requestMeasures`).
 *
 * Requests are counted at the instant they were sent, whatever their answer's delay: an outage
 * shows at the instants users asked and were failed, and a request that timed out 30 s later is
 * not counted as a failure of the 30th second.
 */

/** A stretch of true time, [fromUs, toUs): a request belongs to it when it was sent in it. */
export interface Span {
  fromUs: Micros;
  toUs: Micros;
}

export interface RequestFilter {
  /** The operations counted. Default `AVAILABILITY_OPS`. */
  ops?: readonly LoadOp[];
}

export interface WindowOptions extends RequestFilter {
  /** Width of the sliding window. Default `DEFAULT_WINDOW_US` (spec §2 "RTO/RPO": 10 s). */
  windowUs?: Micros;
  /** The availability a window must reach. Default `DEFAULT_TARGET` (seed 004: 99.9%). */
  target?: number;
  /**
   * How far the window slides at a time: the resolution of every RTO. Default `DEFAULT_STEP_US`
   * (100 ms, as the routing samples: finer than any delay users see, 18,000 windows in 30 min).
   * A window width that is not a multiple of it is rounded up to one.
   */
  stepUs?: Micros;
}

export const DEFAULT_WINDOW_US: Micros = 10 * SECOND;
export const DEFAULT_TARGET = 0.999;
export const DEFAULT_STEP_US: Micros = 100 * MS;

/**
 * Every operation but the revocation probe (load-generator.ts `logout`): the probe sends a token
 * the user has just logged out, and its right answer is a 401, so it says nothing about whether
 * the service was up. A probe answered 2xx is `revocation`'s violation; one answered 5xx or not
 * at all is an outage that the users' next requests show too.
 */
export const AVAILABILITY_OPS: readonly LoadOp[] = LOAD_OPS.filter((op) => op !== 'revoked-probe');

/** The indices of the logged requests of the counted operations sent in `span`, in log order. */
function* requestsIn(log: RequestLog, span: Span, filter: RequestFilter): Generator<number> {
  const ops = new Set(filter.ops ?? AVAILABILITY_OPS);
  for (let i = 0; i < log.length; i++) {
    const sent = log.sentAtOf(i);
    if (sent >= span.fromUs && sent < span.toUs && ops.has(log.opOf(i))) yield i;
  }
}

export interface Availability {
  requests: number;
  /** Requests answered 2xx (`succeeded`). */
  successes: number;
  /** successes / requests; null when no request was sent. */
  availability: number | null;
}

/** Successes over requests sent in `span` (spec §2: availability = successes / requests). */
export function requestAvailability(log: RequestLog, span: Span, filter: RequestFilter = {}): Availability {
  let requests = 0;
  let successes = 0;
  for (const i of requestsIn(log, span, filter)) {
    requests++;
    if (succeeded(log.statusOf(i))) successes++;
  }
  return { requests, successes, availability: requests === 0 ? null : successes / requests };
}

export interface LatencyPercentiles {
  requests: number;
  /** Nearest-rank percentiles of the latency (µs); null when no request was sent. */
  p50: Micros | null;
  p95: Micros | null;
  p99: Micros | null;
}

/**
 * Latency percentiles of the requests sent in `span`, whatever their outcome, as Locust's report
 * counts them: a failed request counts its time to the error, an unanswered one its timeout.
 * Nearest rank: the p-th percentile is the ⌈p·n⌉-th smallest latency.
 */
export function latencyPercentiles(log: RequestLog, span: Span, filter: RequestFilter = {}): LatencyPercentiles {
  const latencies: number[] = [];
  for (const i of requestsIn(log, span, filter)) latencies.push(log.latencyOf(i));
  const sorted = Float64Array.from(latencies).sort();
  const rank = (p: number): Micros | null => (sorted.length === 0 ? null : sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!);
  return { requests: sorted.length, p50: rank(0.5), p95: rank(0.95), p99: rank(0.99) };
}

/**
 * Availability over a sliding window: the span cut into steps, each window the `windowUs` of
 * steps ending at a step boundary (the last one at the span's end), from the first full window on.
 * A window below the target is one whose requests succeeded less than `target` of the time, or in
 * which no request was sent: within a load's span users always send (a closed user thinks at most
 * a few seconds), so a window without any request is one in which every user was waiting on a
 * request that got no answer.
 */
export class WindowedAvailability {
  readonly windowUs: Micros;
  readonly stepUs: Micros;
  readonly target: number;
  /** Requests and successes sent before each step boundary (prefix sums, one more entry than steps). */
  private readonly sentBefore: Uint32Array;
  private readonly okBefore: Uint32Array;
  /** Steps per window, at most the span's. */
  private readonly width: number;

  constructor(log: RequestLog, readonly span: Span, options: WindowOptions = {}) {
    if (span.toUs <= span.fromUs) throw new RangeError(`empty span [${formatTime(span.fromUs)}, ${formatTime(span.toUs)})`);
    this.stepUs = options.stepUs ?? DEFAULT_STEP_US;
    this.windowUs = options.windowUs ?? DEFAULT_WINDOW_US;
    this.target = options.target ?? DEFAULT_TARGET;
    const steps = Math.ceil((span.toUs - span.fromUs) / this.stepUs);
    this.width = Math.min(steps, Math.ceil(this.windowUs / this.stepUs));
    const sent = new Uint32Array(steps + 1);
    const ok = new Uint32Array(steps + 1);
    for (const i of requestsIn(log, span, options)) {
      const step = Math.floor((log.sentAtOf(i) - span.fromUs) / this.stepUs) + 1;
      sent[step] = sent[step]! + 1;
      if (succeeded(log.statusOf(i))) ok[step] = ok[step]! + 1;
    }
    for (let s = 1; s <= steps; s++) {
      sent[s] = sent[s]! + sent[s - 1]!;
      ok[s] = ok[s]! + ok[s - 1]!;
    }
    this.sentBefore = sent;
    this.okBefore = ok;
  }

  /** How many windows the span holds. */
  get windows(): number {
    return this.sentBefore.length - this.width;
  }

  /** When window `k` ends (0 ≤ k < windows). */
  windowEnd(k: number): Micros {
    return Math.min(this.span.fromUs + (k + this.width) * this.stepUs, this.span.toUs);
  }

  /** Window `k`'s availability, or null when no request was sent in it. */
  value(k: number): number | null {
    const n = this.sentBefore[k + this.width]! - this.sentBefore[k]!;
    return n === 0 ? null : (this.okBefore[k + this.width]! - this.okBefore[k]!) / n;
  }

  /** Whether window `k` reaches the target (a window without requests does not). */
  meetsTarget(k: number): boolean {
    const v = this.value(k);
    return v !== null && v >= this.target;
  }

  /**
   * The RTO of a fault at `atUs`, judged on the windows that end in (atUs, untilUs] (default: to
   * the span's end): the time from `atUs` to the end of the last of them below the target, after
   * which every window reaches it; 0 if none is below it; null if the last one is (never
   * recovered), or if no window ends there.
   */
  rtoAfter(atUs: Micros, untilUs: Micros = this.span.toUs): Micros | null {
    let last = -1;
    let seen = false;
    for (let k = this.windows - 1; k >= 0; k--) {
      const end = this.windowEnd(k);
      if (end > untilUs) continue;
      if (end <= atUs) break;
      if (!this.meetsTarget(k)) {
        if (!seen) return null;
        last = k;
        break;
      }
      seen = true;
    }
    if (!seen) return null;
    return last < 0 ? 0 : this.windowEnd(last) - atUs;
  }

  /** The window with the lowest availability (a window without requests counting as 0), or null without windows. */
  lowest(): { endUs: Micros; availability: number } | null {
    let best: { endUs: Micros; availability: number } | null = null;
    for (let k = 0; k < this.windows; k++) {
      const v = this.value(k) ?? 0;
      if (best === null || v < best.availability) best = { endUs: this.windowEnd(k), availability: v };
    }
    return best;
  }
}

/** `WindowedAvailability` over a span of a log. */
export function windowedAvailability(log: RequestLog, span: Span, options: WindowOptions = {}): WindowedAvailability {
  return new WindowedAvailability(log, span, options);
}

/**
 * The RTO of a fault at `atUs` (spec §2 "RTO/RPO"): the first instant ≥ `atUs` after which the
 * windowed availability stays ≥ the target to the end of `span`, minus `atUs`; null if never.
 * An outage of D seconds with requests failing throughout shows as an RTO of about D plus the
 * window: the windows holding any of its failures (more than 1 − target of their requests) end
 * up to a window after it.
 */
export function recoveryTime(log: RequestLog, atUs: Micros, span: Span, options: WindowOptions = {}): Micros | null {
  return new WindowedAvailability(log, span, options).rtoAfter(atUs);
}

/** The recovery from one fault, or from faults so close that the service had not recovered from one before the next. */
export interface FaultRecovery {
  /** The (first) fault's instant. */
  atUs: Micros;
  /** How many faults the episode holds. */
  faults: number;
  /** From `atUs` to recovery; null if the service had not recovered by the end of the span. */
  rtoUs: Micros | null;
}

/**
 * The RTO of each fault of a run, each judged up to the next fault's instant (a later fault's
 * outage is not the earlier one's): a fault after which the service had not recovered when the
 * next one struck forms one episode with it, its RTO counted from the first of them. The faults'
 * instants must be sorted and before the span's end.
 */
export function faultRecoveries(log: RequestLog, faultsAtUs: readonly Micros[], span: Span, options: WindowOptions = {}): FaultRecovery[] {
  const series = new WindowedAvailability(log, span, options);
  const out: FaultRecovery[] = [];
  let first = 0;
  for (let i = 0; i < faultsAtUs.length; i++) {
    if (faultsAtUs[i]! >= span.toUs) throw new RangeError(`fault at ${formatTime(faultsAtUs[i]!)} is not before the span's end ${formatTime(span.toUs)}`);
    if (i > 0 && faultsAtUs[i]! < faultsAtUs[i - 1]!) throw new RangeError('fault instants must be sorted');
    const last = i === faultsAtUs.length - 1;
    const rtoUs = series.rtoAfter(faultsAtUs[first]!, last ? span.toUs : faultsAtUs[i + 1]!);
    if (rtoUs === null && !last) continue;
    out.push({ atUs: faultsAtUs[first]!, faults: i - first + 1, rtoUs });
    first = i + 1;
  }
  return out;
}

export interface OutageBudget {
  /** (1 − target) × duration: the outage the target allows (99.9% of 30 min: 1.8 s). */
  budgetUs: Micros;
  /** The sum of the RTOs; null if one of them is (a fault never recovered from). */
  spentUs: Micros | null;
  /** The RTOs add up to more than the budget (or one never ended). */
  exceeded: boolean;
}

/**
 * The outage budget check (spec §2 "RTO/RPO", §0 item 4): an availability target over a run
 * allows (1 − target) × duration of outage, and RTOs that add up to more contradict it. Seed 004
 * asked for 99.9% over a 30-minute run (1.8 s) while allowing each of five faults an RTO of 30 s.
 */
export function outageBudget(rtosUs: ReadonlyArray<Micros | null>, durationUs: Micros, target: number = DEFAULT_TARGET): OutageBudget {
  const budgetUs = Math.round((1 - target) * durationUs);
  const spentUs = rtosUs.some((r) => r === null) ? null : rtosUs.reduce<number>((s, r) => s + r!, 0);
  return { budgetUs, spentUs, exceeded: spentUs === null || spentUs > budgetUs };
}

// ---- the run's figures ------------------------------------------------------------------------

/** What `requestMeasures` keeps in the view: the load's log and how long a request may wait for its answer. */
export interface MeasuredRequests {
  log: RequestLog;
  /** No request waits longer for an outcome (the client timeout, load.requestTimeoutUs). */
  answeredWithinUs: Micros;
  /** Where the simulation stopped: the run's end, or the instant a violation halted it. */
  ranUntil(): Micros;
}

/**
 * The stretch a run's request figures cover: from the load's start (`load.start`) to its stop
 * (`load.stop`) or, if it runs to the end, to `answeredWithinUs` before the end, so that every
 * request sent in it has its outcome in the log (an answer or a timeout). Null without a load, or
 * if that leaves nothing.
 */
export function loadSpan(view: ClusterView, endAt: Micros, answeredWithinUs: Micros): Span | null {
  const start = view.loadChanges.find((e) => e.k === 'load.start');
  if (start === undefined) return null;
  const stop = view.loadChanges.find((e) => e.k === 'load.stop');
  const toUs = Math.min(stop?.t ?? Number.POSITIVE_INFINITY, endAt - answeredWithinUs);
  return toUs > start.t ? { fromUs: start.t, toUs } : null;
}

const percent = (v: number | null): string => (v === null ? 'n/a' : `${(100 * v).toFixed(3)}%`);
const time = (v: Micros | null): string => (v === null ? 'never' : formatTime(v));

/**
 * A run's request figures over `span`, ids and units stable:
 * `request-availability` (fraction), `request-p50-latency`, `request-p95-latency`,
 * `request-p99-latency` (µs); with faults in the span, `request-rto` (µs: the longest RTO of its
 * faults, null if one was never recovered from), `request-rto-sum` (µs, null likewise),
 * `request-outage-budget` (µs: (1 − target) × the span) and `request-budget-exceeded` (count: 1
 * when the RTOs add up to more than the budget, else 0).
 */
export function requestFigures(log: RequestLog, span: Span, faultsAtUs: readonly Micros[], options: WindowOptions = {}): RunFigure[] {
  const a = requestAvailability(log, span, options);
  const l = latencyPercentiles(log, span, options);
  const target = options.target ?? DEFAULT_TARGET;
  const figures: RunFigure[] = [
    {
      id: 'request-availability', unit: 'fraction', value: a.availability,
      text: `request availability ${percent(a.availability)}: ${a.successes} of ${a.requests} requests answered 2xx, `
        + `sent from the load's start at ${formatTime(span.fromUs)} to ${formatTime(span.toUs)} (revocation probes left out)`,
    },
    { id: 'request-p50-latency', unit: 'us', value: l.p50, text: '' },
    {
      id: 'request-p95-latency', unit: 'us', value: l.p95,
      text: `request latency p50 ${time(l.p50)}, p95 ${time(l.p95)}, p99 ${time(l.p99)} (every outcome; an unanswered request counts its timeout)`,
    },
    { id: 'request-p99-latency', unit: 'us', value: l.p99, text: '' },
  ];
  const faults = faultsAtUs.filter((t) => t < span.toUs);
  if (faults.length === 0) return figures;
  const episodes = faultRecoveries(log, faults, span, options);
  const rtos = episodes.map((e) => e.rtoUs);
  const budget = outageBudget(rtos, span.toUs - span.fromUs, target);
  const longest = rtos.includes(null) ? null : Math.max(...(rtos as Micros[]));
  const windowUs = options.windowUs ?? DEFAULT_WINDOW_US;
  const each = episodes.map((e) => `${e.faults > 1 ? `${e.faults} faults from` : 'fault at'} ${formatTime(e.atUs)}: ${time(e.rtoUs)}`).join(', ');
  figures.push(
    {
      id: 'request-rto', unit: 'us', value: longest,
      text: `request RTO (until the ${formatTime(windowUs)} windowed availability stays ≥ ${percent(target)}) ${each}`,
    },
    { id: 'request-rto-sum', unit: 'us', value: budget.spentUs, text: '' },
    { id: 'request-outage-budget', unit: 'us', value: budget.budgetUs, text: '' },
    {
      id: 'request-budget-exceeded', unit: 'count', value: budget.exceeded ? 1 : 0,
      text: `outage budget ${formatTime(budget.budgetUs)} (${percent(1 - target)} of ${formatTime(span.toUs - span.fromUs)}): RTOs add up to ${time(budget.spentUs)}`
        + (budget.exceeded ? ', more than the target allows' : ', within it'),
    },
  );
  return figures;
}

/**
 * Request figures of a run with a load (`RunOptions.measure`): the log is the load generator's own
 * record, so measuring costs nothing while the run goes and never changes its trace; the figures
 * cover the load's span (`loadSpan`), which the target is about (seed 004: 99.9% over its 30-minute
 * Locust run), and each fault's RTO within it. No figures without a load.
 */
export const requestMeasures: RunMeasures<StreamSpaceCluster, ClusterView> = {
  start(cluster, view) {
    if (cluster.loadRecord === null) return;
    view.requests = { log: cluster.loadRecord.log, answeredWithinUs: cluster.config.load.requestTimeoutUs, ranUntil: () => cluster.sim.now };
  },
  figures(view, window) {
    const measured = view.requests;
    if (measured === null) return [];
    // A run halted by a violation ends early: its log ends there too.
    const span = loadSpan(view, Math.min(window.endAt, measured.ranUntil()), measured.answeredWithinUs);
    return span === null ? [] : requestFigures(measured.log, span, view.faultInstants);
  },
};
