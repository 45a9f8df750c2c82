import { createHash, type Hash } from 'node:crypto';
import type { Micros } from './time.ts';
import type { TraceEncoder } from './trace-encoding.ts';

/** Bytes buffered before they are fed to sha256 (larger chunks hash faster). */
const CHUNK_BYTES = 64 * 1024;

// Tags of the interned encoding. Every value starts with a one-byte tag; numbers are float64,
// lengths and string indices uint32, string contents UTF-16 code units, all little-endian so the
// bytes (and the hash) are the same on any machine.
const TAG_EVENT = 1;
const TAG_EVENT_WITH_DETAILS = 2;
const TAG_STRING_NEW = 3;
const TAG_STRING_SEEN = 4;
const TAG_NUMBER = 5;
const TAG_TRUE = 6;
const TAG_FALSE = 7;
const TAG_NULL = 8;
const TAG_ARRAY = 9;
const TAG_OBJECT = 10;
const TAG_OBJECT_END = 11;

/** The largest fixed-size item (tag + float64), reserved before each write. */
const MAX_ITEM = 9;

/**
 * What the encoder remembers of the last event of one kind, so that what recurs in the next one
 * (its kind, process, detail keys and string values, position by position) is written from here
 * instead of being looked up in the string table: that lookup was most of the encoder's cost.
 * Only strings already in the table are remembered, so a hit writes exactly the bytes a lookup
 * would have written, and a miss falls back to the lookup: the bytes do not depend on this memo.
 */
interface KindMemo {
  readonly kind: number;
  process: string;
  processIndex: number;
  /** Per position of the details' keys: the key last seen there and its index. */
  readonly keys: string[];
  readonly keyIndices: number[];
  /** Per position: the last string value seen there (null if none yet) and its index. */
  readonly values: Array<string | null>;
  readonly valueIndices: number[];
}

/**
 * The `interned` scheme (trace files versions 2 and 3), kept so that files of those versions replay
 * with the hashes they recorded: its bytes must never change. It walks events as the `compact`
 * encoder does but does not share that code: a base class with each scheme's writers as methods
 * cost the compact encoder, which every run uses, 2% of a warm 10-minute run's instructions
 * (cachegrind: 90.2M against 88.1M).
 *
 * Values follow JSON's data model, as the `lines` scheme does: object keys in insertion order, keys
 * whose value is undefined (or a function) left out, undefined in arrays and non-finite numbers as
 * null, -0 as 0. Details are plain data (DESIGN decision 6): plain objects, arrays and primitives,
 * so nothing else (Maps, class instances, toJSON, enumerable properties inherited from a prototype)
 * needs a meaning here, and `for...in` lists exactly the keys `Object.keys` would, without building
 * an array; a bigint or symbol is a model bug and throws.
 */
export class InternedEncoder implements TraceEncoder {
  private readonly hasher: Hash = createHash('sha256');
  private readonly bytes = new Uint8Array(CHUNK_BYTES);
  private readonly view = new DataView(this.bytes.buffer);
  private used = 0;
  /** Index of each string written so far, in order of first occurrence. */
  private readonly strings = new Map<string, number>();
  private readonly kinds = new Map<string, KindMemo>();

  add(t: Micros, p: string, k: string, d: Readonly<Record<string, unknown>> | undefined): void {
    this.reserve(MAX_ITEM);
    this.bytes[this.used] = d === undefined ? TAG_EVENT : TAG_EVENT_WITH_DETAILS;
    this.view.setFloat64(this.used + 1, t, true);
    this.used += MAX_ITEM;
    let memo = this.kinds.get(k);
    if (memo === undefined) {
      // The process comes before the kind in the bytes, so it is interned first.
      const processIndex = this.string(p);
      memo = { kind: this.string(k), process: p, processIndex, keys: [], keyIndices: [], values: [], valueIndices: [] };
      this.kinds.set(k, memo);
    } else {
      if (memo.process === p) this.seen(memo.processIndex);
      else {
        memo.processIndex = this.string(p);
        memo.process = p;
      }
      this.seen(memo.kind);
    }
    if (d !== undefined) this.details(d, memo);
  }

  digest(): string {
    this.flush();
    return this.hasher.digest('hex');
  }

  /** An event's details: `object`, with the keys and string values of each position memoised. */
  private details(d: Readonly<Record<string, unknown>>, memo: KindMemo): void {
    this.tag(TAG_OBJECT);
    const { keys, keyIndices, values, valueIndices } = memo;
    let i = 0;
    for (const key in d) {
      const v = d[key];
      if (v === undefined || typeof v === 'function') continue;
      if (i === keys.length) {
        keys.push(key);
        keyIndices.push(this.string(key));
        values.push(null);
        valueIndices.push(0);
      } else if (keys[i] === key) this.seen(keyIndices[i]!);
      else {
        keyIndices[i] = this.string(key);
        keys[i] = key;
      }
      if (typeof v === 'string') {
        if (values[i] === v) this.seen(valueIndices[i]!);
        else {
          valueIndices[i] = this.string(v);
          values[i] = v;
        }
      } else this.value(v);
      i++;
    }
    this.tag(TAG_OBJECT_END);
  }

  private value(v: unknown): void {
    switch (typeof v) {
      case 'string':
        this.string(v);
        return;
      case 'number':
        if (Number.isFinite(v)) {
          this.reserve(MAX_ITEM);
          this.bytes[this.used] = TAG_NUMBER;
          this.view.setFloat64(this.used + 1, v === 0 ? 0 : v, true);
          this.used += MAX_ITEM;
        } else this.tag(TAG_NULL);
        return;
      case 'boolean':
        this.tag(v ? TAG_TRUE : TAG_FALSE);
        return;
      case 'object':
        if (v === null) this.tag(TAG_NULL);
        else if (Array.isArray(v)) this.array(v);
        else this.object(v as Record<string, unknown>);
        return;
      case 'undefined':
      case 'function':
        this.tag(TAG_NULL);
        return;
      default:
        throw new TypeError(`trace details cannot hold a ${typeof v}`);
    }
  }

  private object(o: Readonly<Record<string, unknown>>): void {
    this.tag(TAG_OBJECT);
    for (const key in o) {
      const v = o[key];
      if (v === undefined || typeof v === 'function') continue;
      this.string(key);
      this.value(v);
    }
    this.tag(TAG_OBJECT_END);
  }

  private array(a: readonly unknown[]): void {
    this.reserve(5);
    this.bytes[this.used] = TAG_ARRAY;
    this.uint32(this.used + 1, a.length);
    this.used += 5;
    for (let i = 0; i < a.length; i++) this.value(a[i]);
  }

  /** Writes a string (its contents the first time, its index after that); returns its index. */
  private string(s: string): number {
    const seen = this.strings.get(s);
    if (seen !== undefined) {
      this.seen(seen);
      return seen;
    }
    const index = this.strings.size;
    this.strings.set(s, index);
    this.reserve(5);
    this.bytes[this.used] = TAG_STRING_NEW;
    this.uint32(this.used + 1, s.length);
    this.used += 5;
    for (let i = 0; i < s.length; i++) {
      this.reserve(2);
      this.view.setUint16(this.used, s.charCodeAt(i), true);
      this.used += 2;
    }
    return index;
  }

  /** A string already written, by its index. */
  private seen(index: number): void {
    this.reserve(5);
    this.bytes[this.used] = TAG_STRING_SEEN;
    this.uint32(this.used + 1, index);
    this.used += 5;
  }

  private uint32(at: number, n: number): void {
    const b = this.bytes;
    b[at] = n;
    b[at + 1] = n >>> 8;
    b[at + 2] = n >>> 16;
    b[at + 3] = n >>> 24;
  }

  private tag(tag: number): void {
    this.reserve(1);
    this.bytes[this.used++] = tag;
  }

  private reserve(n: number): void {
    if (this.used + n > CHUNK_BYTES) this.flush();
  }

  private flush(): void {
    this.hasher.update(this.bytes.subarray(0, this.used));
    this.used = 0;
  }
}
