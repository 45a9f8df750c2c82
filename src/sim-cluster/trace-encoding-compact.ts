import { createHash, type Hash } from 'node:crypto';
import type { Micros } from './time.ts';
import type { TraceEncoder } from './trace-encoding.ts';

// Tags of the compact encoding. Every value starts with a one-byte tag. Unsigned integers (times,
// lengths, string slots, integer values) are LEB128 varints: seven bits a byte, low bits first,
// the high bit set on every byte but the last, so 0–127 take one byte and a safe integer at most
// eight. A string's contents are its UTF-16 code units, each a varint (one byte for ASCII).
/** An event whose time is at or after the previous event's; the varint is the difference. */
const TAG_EVENT = 1;
const TAG_EVENT_WITH_DETAILS = 2;
/** An event earlier than the previous one (the kernel never records one; a caller of `record` might). */
const TAG_EVENT_EARLIER = 3;
const TAG_EVENT_EARLIER_WITH_DETAILS = 4;
/** A string not in the table: its length and code units; it takes the table's next slot. */
const TAG_STRING_NEW = 5;
/** A string in the table, by its slot. */
const TAG_STRING_SEEN = 6;
/** A safe integer ≥ 0 (-0 included) as a varint, and a negative one as the varint of its magnitude. */
const TAG_UINT = 7;
const TAG_NEGATIVE_INT = 8;
/** Any other finite number, as a little-endian float64. */
const TAG_FLOAT = 9;
const TAG_TRUE = 10;
const TAG_FALSE = 11;
const TAG_NULL = 12;
/** Followed by the length as a varint, then the elements. */
const TAG_ARRAY = 13;
const TAG_OBJECT = 14;
const TAG_OBJECT_END = 15;

/**
 * Slots of the string table. When every slot is taken, a new string takes the slot of the string
 * that entered the table longest ago, which is forgotten (it is written out again if it recurs), so
 * the table holds at most this many strings however long the run: a run names each command and
 * connection id it creates a few times and then never again, and an unbounded table kept all of them
 * (the 6-hour bench's heap grew with it). A 10-minute StreamSpace run has about 2,000 distinct
 * strings, so it never forgets one; a string that recurs all run long (a process, a kind, a detail
 * key) is written out again once every 16,384 new strings at most.
 */
const STRING_SLOTS = 16_384;

/** Bytes buffered before they are fed to sha256 (larger chunks hash faster). */
const CHUNK_BYTES = 64 * 1024;
/** The largest fixed-size item: a tag and a float64, or a tag and an eight-byte varint. */
const MAX_ITEM = 9;
/** 2^32: below it a varint is written with 32-bit operations. */
const UINT32_LIMIT = 4_294_967_296;

/**
 * What the encoder remembers of the last event of one kind, so that what recurs in the next one
 * (its process, detail keys and string values, position by position) is written from here instead of
 * being looked up in the string table's Map. A memo names a string and the slot it had; it is used
 * only while that slot still holds that string, so a hit writes exactly the bytes a lookup would
 * have written: the bytes do not depend on the memo.
 */
interface KindMemo {
  kindSlot: number;
  process: string;
  processSlot: number;
  /** Per position of the details' keys: the key last seen there and its slot. */
  readonly keys: string[];
  readonly keySlots: number[];
  /** Per position: the last string value seen there (null if none yet) and its slot. */
  readonly values: Array<string | null>;
  readonly valueSlots: number[];
}

/**
 * The `compact` scheme (trace files version 4 and later): the `interned` scheme's design (each
 * string written out once, then referred to by a slot) with integers as varints instead of float64
 * and uint32 everywhere, each event's time as the difference from the previous event's, and a string
 * table of bounded size. An event of a recurring shape takes a tag, a one- or two-byte time and two
 * bytes per string and per small integer: 23 bytes on average in the 10-minute StreamSpace run, where
 * the `interned` scheme writes 53, which is less to write and less to hash.
 *
 * Values follow JSON's data model, as the other schemes do: object keys in insertion order, keys
 * whose value is undefined (or a function) left out, undefined in arrays and non-finite numbers as
 * null, -0 as 0. Details are plain data (DESIGN decision 6), so `for...in` lists exactly the keys
 * `Object.keys` would, without building an array; a bigint or symbol is a model bug and throws, and
 * so does an event time that is not a safe integer (DESIGN decision 1: integer microseconds).
 */
export class CompactEncoder implements TraceEncoder {
  private readonly hasher: Hash = createHash('sha256');
  private readonly bytes = new Uint8Array(CHUNK_BYTES);
  private readonly view = new DataView(this.bytes.buffer);
  private used = 0;
  private lastTime = 0;
  /** The slot of each string in the table. */
  private readonly slotOf = new Map<string, number>();
  /** The string in each slot (the table's other direction, to forget the oldest). */
  private readonly slots: string[] = [];
  private nextSlot = 0;
  private readonly kinds = new Map<string, KindMemo>();

  add(t: Micros, p: string, k: string, d: Readonly<Record<string, unknown>> | undefined): void {
    if (!Number.isSafeInteger(t)) throw new TypeError(`trace event time ${t} is not an integer number of microseconds`);
    this.reserve(MAX_ITEM);
    const later = t >= this.lastTime;
    if (d === undefined) this.bytes[this.used++] = later ? TAG_EVENT : TAG_EVENT_EARLIER;
    else this.bytes[this.used++] = later ? TAG_EVENT_WITH_DETAILS : TAG_EVENT_EARLIER_WITH_DETAILS;
    this.varint(later ? t - this.lastTime : this.lastTime - t);
    this.lastTime = t;
    let memo = this.kinds.get(k);
    if (memo === undefined) {
      // The process comes before the kind in the bytes, so it takes a slot first.
      const processSlot = this.string(p);
      memo = { kindSlot: this.string(k), process: p, processSlot, keys: [], keySlots: [], values: [], valueSlots: [] };
      this.kinds.set(k, memo);
    } else {
      if (memo.process === p && this.slots[memo.processSlot] === p) this.seen(memo.processSlot);
      else {
        memo.processSlot = this.string(p);
        memo.process = p;
      }
      memo.kindSlot = this.slots[memo.kindSlot] === k ? this.seen(memo.kindSlot) : this.string(k);
    }
    if (d !== undefined) this.details(d, memo);
  }

  digest(): string {
    this.hasher.update(this.bytes.subarray(0, this.used));
    this.used = 0;
    return this.hasher.digest('hex');
  }

  /** An event's details: an object, with the keys and string values of each position memoised. */
  private details(d: Readonly<Record<string, unknown>>, memo: KindMemo): void {
    this.tag(TAG_OBJECT);
    const { keys, keySlots, values, valueSlots } = memo;
    const slots = this.slots;
    let i = 0;
    for (const key in d) {
      const v = d[key];
      if (v === undefined || typeof v === 'function') continue;
      if (i === keys.length) {
        keys.push(key);
        keySlots.push(this.string(key));
        values.push(null);
        valueSlots.push(0);
      } else if (keys[i] === key && slots[keySlots[i]!] === key) this.seen(keySlots[i]!);
      else {
        keySlots[i] = this.string(key);
        keys[i] = key;
      }
      if (typeof v === 'string') {
        if (values[i] === v && slots[valueSlots[i]!] === v) this.seen(valueSlots[i]!);
        else {
          valueSlots[i] = this.string(v);
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
        this.number(v);
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

  private number(v: number): void {
    this.reserve(MAX_ITEM);
    if (Number.isSafeInteger(v)) {
      // -0 passes `v >= 0` and is written as 0.
      if (v >= 0) {
        this.bytes[this.used++] = TAG_UINT;
        this.varint(v);
      } else {
        this.bytes[this.used++] = TAG_NEGATIVE_INT;
        this.varint(-v);
      }
    } else if (Number.isFinite(v)) {
      this.bytes[this.used] = TAG_FLOAT;
      this.view.setFloat64(this.used + 1, v, true);
      this.used += MAX_ITEM;
    } else this.bytes[this.used++] = TAG_NULL;
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
    this.reserve(MAX_ITEM);
    this.bytes[this.used++] = TAG_ARRAY;
    this.varint(a.length);
    for (let i = 0; i < a.length; i++) this.value(a[i]);
  }

  /** Writes a string (its contents when not in the table, its slot when it is); returns its slot. */
  private string(s: string): number {
    const seen = this.slotOf.get(s);
    if (seen !== undefined) return this.seen(seen);
    const slot = this.nextSlot;
    const forgotten = this.slots[slot];
    if (forgotten !== undefined) this.slotOf.delete(forgotten);
    this.slots[slot] = s;
    this.slotOf.set(s, slot);
    this.nextSlot = slot + 1 === STRING_SLOTS ? 0 : slot + 1;
    this.reserve(MAX_ITEM);
    this.bytes[this.used++] = TAG_STRING_NEW;
    this.varint(s.length);
    // A code unit takes at most three bytes.
    if (this.used + 3 * s.length > CHUNK_BYTES) {
      for (let i = 0; i < s.length; i++) {
        this.reserve(3);
        this.varint(s.charCodeAt(i));
      }
      return slot;
    }
    const b = this.bytes;
    let at = this.used;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      while (c > 0x7f) {
        b[at++] = (c & 0x7f) | 0x80;
        c >>>= 7;
      }
      b[at++] = c;
    }
    this.used = at;
    return slot;
  }

  /** A string in the table, by its slot; returns the slot. */
  private seen(slot: number): number {
    this.reserve(MAX_ITEM);
    this.bytes[this.used++] = TAG_STRING_SEEN;
    this.varint(slot);
    return slot;
  }

  /** A non-negative safe integer as a varint; the caller has reserved MAX_ITEM - 1 bytes. */
  private varint(n: number): void {
    const b = this.bytes;
    let at = this.used;
    if (n < UINT32_LIMIT) {
      while (n > 0x7f) {
        b[at++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
    } else {
      // Past 32 bits, division instead of shifts (exact for safe integers).
      while (n > 0x7f) {
        b[at++] = (n % 0x80) | 0x80;
        n = Math.floor(n / 0x80);
      }
    }
    b[at++] = n;
    this.used = at;
  }

  private tag(tag: number): void {
    this.reserve(1);
    this.bytes[this.used++] = tag;
  }

  private reserve(n: number): void {
    if (this.used + n > CHUNK_BYTES) {
      this.hasher.update(this.bytes.subarray(0, this.used));
      this.used = 0;
    }
  }
}
