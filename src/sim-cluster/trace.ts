import type { Micros } from './time.ts';
import { traceEncoder, type TraceEncoder, type TraceHashScheme } from './trace-encoding.ts';

/**
 * One trace event: true time, the process (or `sim` for the kernel itself), a stable kind such as
 * `proc.crash` or `hub.register`, and plain-data details. Details must be built deterministically
 * (fixed key order, integers for times) because they are part of the run's hash.
 */
export interface TraceEvent {
  readonly t: Micros;
  readonly p: string;
  readonly k: string;
  readonly d: Readonly<Record<string, unknown>> | undefined;
}

export type TraceListener = (event: TraceEvent) => void;

/**
 * A system's trace vocabulary: event kind → the type of its details. The kernel records any kind;
 * a system declares the kinds its view and checkers read as such a map, records them through
 * `Vocabulary.record` (so a producer cannot drift from what readers expect) and reads them back
 * through `Vocabulary.details`.
 */
export type EventMap<M> = { [K in keyof M]: object };

/** Typed recording and reading of the kinds of one vocabulary. */
export interface Vocabulary<M extends EventMap<M>> {
  /** Records an event of kind `k` with details of its declared type. */
  record<K extends keyof M & string>(to: { record(kind: string, details?: Record<string, unknown>): void }, k: K, details: M[K]): void;
  /** The details of `e` as kind `k` declares them, or undefined when `e` is of another kind. */
  details<K extends keyof M & string>(e: TraceEvent, k: K): Readonly<M[K]> | undefined;
}

/** The typed recorder and reader of a vocabulary (one per system). */
export function vocabulary<M extends EventMap<M>>(): Vocabulary<M> {
  return {
    record: (to, k, details) => to.record(k, details as Record<string, unknown>),
    // The recorder above is the only writer of these kinds, so their details have the declared shape.
    details: <K extends keyof M & string>(e: TraceEvent, k: K) => (e.k === k ? e.d as Readonly<M[K]> : undefined),
  };
}

export interface TraceOptions {
  /**
   * Keep every event in memory for export (replay, explain, timelines). Default false: fuzzing
   * only needs the hash and the online monitors, and keeping events costs memory and time.
   */
  keepEvents?: boolean;
  /**
   * How events are encoded for the hash (see trace-encoding.ts). Default `compact`; `interned` and
   * `lines` only to replay trace files of older format versions, whose hashes were taken that way.
   */
  hashScheme?: TraceHashScheme;
  /**
   * Hash the events. Default true. False: no encoding at all, for runs whose verdict alone matters
   * (a shrink's candidates: the encoding is about a sixth of a run's CPU); `hash()` then throws.
   * Listeners get the same events either way, so a run behaves the same; only a detail the encoding
   * rejects (a bigint or a symbol, a model bug) fails the run when it is hashed and not otherwise.
   */
  hash?: boolean;
}

/**
 * Records the events of one run, hashes them as it goes (sha256 over a canonical encoding of each event),
 * feeds them to listeners (the online invariant monitors), and optionally keeps them for export.
 * The hash does not depend on `keepEvents` or on listeners, so a fuzzing run and its replay agree.
 */
export class TraceRecorder {
  private readonly encoder: TraceEncoder | null;
  private digest: string | undefined;
  private readonly listeners: TraceListener[] = [];
  private readonly kept: TraceEvent[] | undefined;
  private eventCount = 0;

  constructor(options: TraceOptions = {}) {
    this.kept = options.keepEvents ? [] : undefined;
    this.encoder = options.hash === false ? null : traceEncoder(options.hashScheme ?? 'compact');
  }

  get count(): number {
    return this.eventCount;
  }

  /** The kept events; throws if the recorder was built without `keepEvents`. */
  get events(): readonly TraceEvent[] {
    if (this.kept === undefined) throw new Error('trace events were not kept: create the simulation with trace.keepEvents');
    return this.kept;
  }

  subscribe(listener: TraceListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  record(t: Micros, p: string, k: string, d?: Record<string, unknown>): void {
    if (this.digest !== undefined) throw new Error(`trace already finished; cannot record ${k}`);
    const event: TraceEvent = { t, p, k, d };
    this.eventCount++;
    this.encoder?.add(t, p, k, d);
    this.kept?.push(event);
    for (let i = 0; i < this.listeners.length; i++) this.listeners[i]!(event);
  }

  /** The sha256 (hex) of every event recorded so far. After this, recording is closed. Throws when built with `hash: false`. */
  hash(): string {
    if (this.encoder === null) throw new Error('trace not hashed: the recorder was built with hash: false');
    this.digest ??= this.encoder.digest();
    return this.digest;
  }

  /** The kept events as JSON Lines, one `{t,p,k,d}` object per line. */
  toJsonLines(): string {
    let out = '';
    for (const e of this.events) out += JSON.stringify(e) + '\n';
    return out;
  }
}
