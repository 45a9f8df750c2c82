import { SECOND, type Micros, type Simulation } from '../../../sim-cluster/index.ts';
import type { PodMetric, ResourceMetrics, ScaledPod, ScaleTarget } from './types.ts';

/**
 * The metrics-server as the HPA needs it (kubernetes-sigs/metrics-server): every resolution it
 * scrapes the pods' cumulative CPU counters from their kubelets (pkg/server/server.go `tick`,
 * pkg/scraper/scraper.go `Scrape`), keeps each pod's last two points (pkg/storage/pod.go `Store`)
 * and serves a pod's CPU as the rate between them (pkg/storage/types.go `resourceUsage`), stamped
 * with the later point's time and the window between the two.
 *
 * As built:
 * - a scrape replaces the whole storage with its batch: a pod whose kubelet did not answer (node
 *   down or cut off, `scrapeable`) is dropped, and has no metric until two points exist again;
 * - a container younger than one resolution but at least 10 s old gets a synthetic previous point
 *   (its start, 0 CPU), so a new pod has a metric after its first scrape (`freshContainerMinMetricsResolution`);
 * - a restarted container's new counter is not paired with the old one's point (`StartTime.Before`);
 * - the API lists only pods that exist now and have a metric; an empty list is an error for the
 *   HPA (pkg/controller/podautoscaler/metrics/client.go `GetResourceMetric`).
 *
 * Two fault switches:
 * - `stale` (fault `hpa-metrics-stale`): the scrape loop is frozen and nothing else changes. The
 *   storage keeps its points and the API keeps serving them: neither `podStorage.GetMetrics` nor
 *   the HPA's metrics client look at a point's age, so the HPA keeps acting on the last window's
 *   rates (pods created since have no metric: missing). When it thaws, the next scrape pairs with
 *   the frozen point: one long window averaging the whole freeze. (The real server's /livez fails
 *   after 1.1 resolutions without a tick, server.go `CheckLiveness`, and its kubelet would restart
 *   it: that restart is the `down` switch.)
 * - `down`: the metrics-server pod is not running. The API does not answer (an error: the HPA
 *   does not scale, ScalingActive false, FailedGetResourceMetric), and the storage is lost; when it
 *   is back it needs two scrapes before it serves metrics again.
 *
 * The model reads a counter at the scrape instant: cAdvisor's housekeeping lag and the scraper's
 * random stagger (up to 4 s) are not modelled.
 */
export interface MetricsServerOptions {
  /**
   * --metric-resolution. Default 15 s: the project's release manifest (components.yaml) passes
   * `--metric-resolution=15s`; the binary's own default is 60 s (cmd/metrics-server/app/options/options.go `NewOptions`).
   */
  resolutionUs?: Micros;
  /** The first scrape (`runScrape` ticks at once, then once per resolution). Default: the instant `start` is called. */
  firstScrapeAtUs?: Micros;
  /** Whether the pod's kubelet answers the scrape (its node up and reachable). Default: always. */
  scrapeable?: (pod: ScaledPod) => boolean;
}

/** pkg/storage/pod.go `freshContainerMinMetricsResolution`. */
const FRESH_CONTAINER_MIN_US = 10 * SECOND;

interface MetricsPoint {
  startedAt: Micros;
  timestamp: Micros;
  /** Cumulative CPU (µs of CPU) since the container started. */
  cpuUs: number;
}

export class MetricsServer {
  /** Fault `hpa-metrics-stale`: the scrape loop is frozen; the API serves the stored points. */
  stale = false;
  private isDown = false;
  private last = new Map<string, MetricsPoint>();
  private prev = new Map<string, MetricsPoint>();
  readonly resolutionUs: Micros;
  private readonly scrapeable: (pod: ScaledPod) => boolean;

  constructor(private readonly target: Pick<ScaleTarget, 'pods'>, private readonly options: MetricsServerOptions = {}) {
    this.resolutionUs = options.resolutionUs ?? 15 * SECOND;
    this.scrapeable = options.scrapeable ?? (() => true);
  }

  /** The `hpa-metrics-stale` fault's switch. */
  setStale(stale: boolean): void {
    this.stale = stale;
  }

  get down(): boolean {
    return this.isDown;
  }

  /** The metrics-server pod stops (its storage is lost with it) or starts again. */
  setDown(down: boolean): void {
    this.isDown = down;
    if (down) {
      this.last = new Map();
      this.prev = new Map();
    }
  }

  /** Scrapes at every resolution from `firstScrapeAtUs`, on the kernel's clock. */
  start(sim: Simulation): void {
    const tick = (at: Micros): void => {
      sim.at(at, () => {
        this.scrape(sim.now);
        tick(at + this.resolutionUs);
      }, 'metrics-server scrape');
    };
    tick(this.options.firstScrapeAtUs ?? sim.now);
  }

  /** One tick: scrape every answering kubelet and store the batch (pod.go `Store`). */
  scrape(now: Micros): void {
    if (this.isDown || this.stale) return;
    const last = new Map<string, MetricsPoint>();
    const prev = new Map<string, MetricsPoint>();
    for (const pod of this.target.pods()) {
      // Only running containers have stats; a kubelet that does not answer leaves its pods out.
      if (pod.startedAt === null || !this.scrapeable(pod)) continue;
      const point: MetricsPoint = { startedAt: pod.startedAt, timestamp: now, cpuUs: pod.cpu.cpuUsageUs(now) };
      last.set(pod.name, point);
      const age = now - point.startedAt;
      const stored = this.last.get(pod.name);
      if (point.startedAt < now && age < this.resolutionUs && age >= FRESH_CONTAINER_MIN_US) {
        prev.set(pod.name, { startedAt: point.startedAt, timestamp: point.startedAt, cpuUs: 0 });
      } else if (stored !== undefined && point.startedAt < stored.timestamp) {
        if (now > stored.timestamp) prev.set(pod.name, stored);
        else {
          const older = this.prev.get(pod.name);
          if (older !== undefined && older.timestamp < now) prev.set(pod.name, older);
        }
      }
    }
    this.last = last;
    this.prev = prev;
  }

  /** What the HPA's `GetResourceMetric` gets for the target's pods (pkg/api/pod.go list, metrics/client.go). */
  resourceMetrics(): ResourceMetrics {
    if (this.isDown) {
      return { ok: false, error: 'unable to fetch metrics from resource metrics API: the server is currently unable to handle the request (get pods.metrics.k8s.io)' };
    }
    const pods = new Map<string, PodMetric>();
    for (const pod of this.target.pods()) {
      const metric = this.podMetric(pod.name);
      if (metric !== null) pods.set(pod.name, metric);
    }
    if (pods.size === 0) return { ok: false, error: 'no metrics returned from resource metrics API' };
    return { ok: true, pods };
  }

  /** pod.go `GetMetrics` and types.go `resourceUsage` for a single-container pod. */
  private podMetric(pod: string): PodMetric | null {
    const last = this.last.get(pod);
    const prev = this.prev.get(pod);
    if (last === undefined || prev === undefined) return null;
    // resourceUsage refuses a start time or a counter that went backwards.
    if (last.startedAt < prev.startedAt || last.cpuUs < prev.cpuUs) return null;
    const windowUs = last.timestamp - prev.timestamp;
    // cpuUsage := float64(ΔCumulativeCPUUsed ns) / window.Seconds(), truncated to nanocores
    // (uint64), then Quantity.MilliValue, which rounds up.
    const nanocores = Math.trunc(((last.cpuUs - prev.cpuUs) * 1000) / ((windowUs * 1000) / 1e9));
    return { milli: Math.ceil(nanocores / 1e6), timestamp: last.timestamp, windowUs };
  }
}
