import type { Micros } from '../../../sim-cluster/index.ts';
import type { ApiCpuConfig } from '../config.ts';

/**
 * One API pod's CPU, as its cgroup sees it: the container may use `limitMillicores` of CPU (the CFS
 * quota of `resources.limits.cpu`), and the kubelet's cAdvisor counts the CPU time it has used,
 * which metrics-server turns into the usage the HPA divides by `requestMillicores`.
 *
 * The pod is a single FIFO processor running at the limit's rate: a request's CPU work starts when
 * the work before it is done and takes `cost / (limit / 1000)`. Go runs a pod's goroutines in
 * parallel, but the quota caps the sum, so a pod past its limit is throttled as a whole (the CFS
 * bandwidth controller); a FIFO at the capped rate gives the same throughput and the queueing delay
 * that makes a saturated pod's latency grow. Below saturation a request takes its own CPU time and
 * no more, as on an idle pod.
 *
 * A container restart starts a new counter (`restart`), as cAdvisor's per-container usage does.
 */
export class PodCpu {
  /** When the queued work is done (µs of true time). */
  private busyUntil = 0;
  /** CPU time of the work queued so far in this incarnation, done or not (µs of CPU). */
  private queuedCpuUs = 0;
  /** Start of the current incarnation: idle usage is counted from here. */
  private startedAt: Micros = 0;
  private readonly cores: number;

  /**
   * `now` is true time: cAdvisor's counter and the queue are the kernel's, whatever a clock fault
   * does to the node's clocks.
   */
  constructor(private readonly config: ApiCpuConfig, private readonly now: () => Micros) {
    this.cores = config.limitMillicores / 1000;
  }

  /** The container (re)started: a fresh counter, nothing queued. */
  restart(): void {
    this.startedAt = this.now();
    this.busyUntil = this.startedAt;
    this.queuedCpuUs = 0;
  }

  /** Queues `cpuUs` of work now; returns how long until it is done (µs). */
  run(cpuUs: Micros): Micros {
    const now = this.now();
    const start = this.busyUntil > now ? this.busyUntil : now;
    this.busyUntil = start + Math.ceil(cpuUs / this.cores);
    this.queuedCpuUs += cpuUs;
    return this.busyUntil - now;
  }

  /**
   * The container's cumulative CPU usage at `now` (µs of CPU since its start): the idle background
   * plus the queued work minus the part still to be done.
   */
  cpuUsageUs(now: Micros): number {
    const pending = this.busyUntil > now ? (this.busyUntil - now) * this.cores : 0;
    const idle = ((now - this.startedAt) * this.config.idleMillicores) / 1000;
    return idle + this.queuedCpuUs - pending;
  }
}
