import { createHash, type Hash } from 'node:crypto';
import type { Micros } from './time.ts';
import { CompactEncoder } from './trace-encoding-compact.ts';
import { InternedEncoder } from './trace-encoding-interned.ts';

/**
 * How a run's events are turned into bytes for its sha256 trace hash. Every scheme is canonical (one
 * byte string per event sequence) and injective (the events can be read back from the bytes), so a
 * hash changes exactly when some event's time, process, kind or details change.
 *
 * - `compact` (trace files version 4 and later, the default; trace-encoding-compact.ts): binary,
 *   each distinct string written out once and then referred to by its slot in a bounded table,
 *   integers as varints, each event's time as the difference from the previous one.
 * - `interned` (trace files versions 2 and 3): binary, each distinct string written out once and
 *   then referred to by its index, numbers as float64, lengths and indices as uint32. It took about a
 *   fifth off a whole campaign case's time against `lines`.
 * - `lines` (trace files version 1): one text line per event, `t\tp\tk[\tJSON(details)]\n`.
 *
 * The older schemes are kept so that trace files written by earlier builds replay with the hashes
 * they recorded.
 */
export type TraceHashScheme = 'compact' | 'interned' | 'lines';

export interface TraceEncoder {
  add(t: Micros, p: string, k: string, d: Readonly<Record<string, unknown>> | undefined): void;
  /** The sha256 (hex) of everything added; the encoder is finished after this. */
  digest(): string;
}

export function traceEncoder(scheme: TraceHashScheme): TraceEncoder {
  switch (scheme) {
    case 'compact':
      return new CompactEncoder();
    case 'interned':
      return new InternedEncoder();
    case 'lines':
      return new LinesEncoder();
  }
}

/** Bytes buffered before they are fed to sha256 (larger chunks hash faster). */
const CHUNK_BYTES = 64 * 1024;

class LinesEncoder implements TraceEncoder {
  private readonly hasher: Hash = createHash('sha256');
  private pending = '';

  add(t: Micros, p: string, k: string, d: Readonly<Record<string, unknown>> | undefined): void {
    this.pending += d === undefined ? `${t}\t${p}\t${k}\n` : `${t}\t${p}\t${k}\t${JSON.stringify(d)}\n`;
    if (this.pending.length >= CHUNK_BYTES) {
      this.hasher.update(this.pending);
      this.pending = '';
    }
  }

  digest(): string {
    this.hasher.update(this.pending);
    this.pending = '';
    return this.hasher.digest('hex');
  }
}
