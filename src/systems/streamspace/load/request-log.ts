import type { Micros } from '../../../sim-cluster/index.ts';

/** The user-facing operations of the load generator, in the log's numbering. */
export const LOAD_OPS = ['login', 'list', 'create', 'delete', 'logout', 'revoked-probe'] as const;
export type LoadOp = typeof LOAD_OPS[number];

/**
 * How a request ended, as a user sees it: an HTTP status, or 0 when no answer came (a timeout, a
 * refused or reset connection: Locust's `ConnectionError`/`Timeout`).
 */
export type RequestStatus = number;

/** A request counts as a success when it was answered 2xx: what a Locust report counts as not failed. */
export function succeeded(status: RequestStatus): boolean {
  return status >= 200 && status < 300;
}

/**
 * Every request the users sent and how it ended, in completion order: when it was sent, how long
 * it took, its status and operation. Columns of typed arrays that grow by doubling, so that a
 * 30-minute run of 1,000 users (about 900,000 requests) costs a few megabytes and no object per
 * request. The log is the load generator's own record, not part of the trace: the trace gets one
 * `load.second` summary per second of requests (`load-generator.ts`), which the trace hash covers.
 */
export class RequestLog {
  private sentAt: Float64Array<ArrayBuffer> = new Float64Array(1024);
  private latency: Float64Array<ArrayBuffer> = new Float64Array(1024);
  private statusCol = new Uint16Array(1024);
  private opCol = new Uint8Array(1024);
  private n = 0;

  get length(): number {
    return this.n;
  }

  add(sentAt: Micros, latencyUs: Micros, status: RequestStatus, op: LoadOp): void {
    if (this.n === this.sentAt.length) this.grow();
    this.sentAt[this.n] = sentAt;
    this.latency[this.n] = latencyUs;
    this.statusCol[this.n] = status;
    this.opCol[this.n] = LOAD_OPS.indexOf(op);
    this.n++;
  }

  sentAtOf(i: number): Micros {
    return this.sentAt[i]!;
  }

  latencyOf(i: number): Micros {
    return this.latency[i]!;
  }

  statusOf(i: number): RequestStatus {
    return this.statusCol[i]!;
  }

  opOf(i: number): LoadOp {
    return LOAD_OPS[this.opCol[i]!]!;
  }

  private grow(): void {
    const size = this.sentAt.length * 2;
    const f = (a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(size);
      b.set(a);
      return b;
    };
    this.sentAt = f(this.sentAt);
    this.latency = f(this.latency);
    const s = new Uint16Array(size);
    s.set(this.statusCol);
    this.statusCol = s;
    const o = new Uint8Array(size);
    o.set(this.opCol);
    this.opCol = o;
  }
}
