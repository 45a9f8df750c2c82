import { createHash, Hash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { traceEncoder, type TraceHashScheme } from './trace-encoding.ts';

type Event = [t: number, p: string, k: string, d?: Record<string, unknown>];

function hashOf(scheme: TraceHashScheme, events: readonly Event[]): string {
  const encoder = traceEncoder(scheme);
  for (const [t, p, k, d] of events) encoder.add(t, p, k, d);
  return encoder.digest();
}

const SAMPLE: Event[] = [
  [0, 'sim', 'proc.start', { node: 'node-a', incarnation: 1 }],
  [1_500, 'api-0', 'hub.register', { agent: 'k8s-prod', conn: 7, pods: ['api-0', 'api-1'], meta: { ok: true, why: null } }],
  [2_000_000, 'agent-1', 'proc.crash'],
];

describe('the lines scheme (trace files version 1)', () => {
  test('is the sha256 of one text line per event, as version-1 files recorded it', () => {
    const text = SAMPLE.map(([t, p, k, d]) => (d === undefined ? `${t}\t${p}\t${k}\n` : `${t}\t${p}\t${k}\t${JSON.stringify(d)}\n`)).join('');
    expect(hashOf('lines', SAMPLE)).toBe(createHash('sha256').update(text).digest('hex'));
  });
});

describe('the interned scheme (trace files versions 2 and 3)', () => {
  // The expected value was computed by a separate implementation of the byte format described in
  // trace-encoding-interned.ts (tags, little-endian float64/uint32, UTF-16 code units), not by this code.
  test('is pinned: changing the encoding breaks every version-2 and version-3 trace file', () => {
    expect(hashOf('interned', SAMPLE)).toBe('76b27f9a46743e342a1b1623ee7ce54659f8f040fba0e3ed1447bc94fc27dff0');
  });
});

describe('the compact scheme (trace files version 4)', () => {
  // The expected values were computed by a separate implementation of the byte format described in
  // trace-encoding-compact.ts (a short Python program: tags, LEB128 varints, time differences, a
  // table of 16,384 string slots forgetting the oldest), not by this code.
  test('is pinned: changing the encoding breaks every version-4 trace file (bump TRACE_VERSION instead)', () => {
    expect(hashOf('compact', SAMPLE)).toBe('415752d4cf7d502d44895565e8e4f2c2d220d62656bdef7423b1604e4888effa');
  });

  test('writes safe integers as varints of any size, other numbers as float64, and an earlier time', () => {
    const events: Event[] = [
      [0, 'p', 'k', { a: 2 ** 53 - 1, b: -(2 ** 53 - 1), c: 2 ** 40 + 3, d: -300, e: 0.5, f: -1e300, g: 4294967295, h: 4294967296, i: 'é✓\u{1F600}' }],
      [7, 'p', 'k'],
      [3, 'q', 'k', { a: 1 }],
    ];
    expect(hashOf('compact', events)).toBe('b9aa053834f6198af7801eb20dbc5ea812f9d3966e2951cde07265b32910c8e0');
  });

  test('forgets the oldest string when its table is full, and writes it out again when it recurs', () => {
    const slots = 16_384;
    const events: Event[] = [];
    for (let i = 0; i < slots + 100; i++) events.push([i, 'p', 'k', { id: `c${i}` }]);
    // 'p', 'k' and 'id' were forgotten on the way (the per-kind memo must not refer to their old slots).
    events.push([slots + 100, 'p', 'k', { id: 'c0' }], [slots + 101, 'p', 'k', { id: `c${slots + 99}` }]);
    expect(hashOf('compact', events)).toBe('27f9f2005b37ea11773afa8eb4ce4163d8f60938cbf082641a9de1d05f55ab84');
  });

  test('differs from the interned scheme', () => {
    expect(hashOf('compact', SAMPLE)).not.toBe(hashOf('interned', SAMPLE));
  });

  test('an event time that is not an integer is a model bug', () => {
    expect(() => hashOf('compact', [[0.5, 'p', 'k']])).toThrow(/not an integer/);
  });

  test('is injective: the events, as JSON would carry them, can be read back from the bytes hashed', () => {
    const text = fc.oneof(fc.constantFrom('p', 'k', 'api-0', 'cmd-1', ''), fc.string({ unit: 'binary', maxLength: 6 }));
    const key = fc.oneof(fc.constantFrom('a', 'b', 'c'), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 3 }).filter((k) => k !== '__proto__'));
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        text, fc.maxSafeInteger(), fc.integer({ min: -300, max: 300 }), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined),
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(key, tie('value'), { maxKeys: 3 }),
      ),
    }));
    const event = fc.tuple(fc.maxSafeInteger().map(Math.abs), text, text, fc.option(fc.dictionary(key, value, { maxKeys: 4 }), { nil: undefined }));
    fc.assert(fc.property(fc.array(event, { maxLength: 12 }), (events) => {
      const asJson = events.map(([t, p, k, d]) => [t, p, k, d === undefined ? undefined : JSON.parse(JSON.stringify(d))]);
      expect(decodeCompact(compactBytes(events as Event[]))).toEqual(asJson);
    }));
  });
});

describe.each(['interned', 'compact'] as const)('both binary schemes (%s)', (scheme) => {
  test('differs from the lines scheme', () => {
    expect(hashOf(scheme, SAMPLE)).not.toBe(hashOf('lines', SAMPLE));
  });

  test('follows the JSON data model: omitted undefined keys, null for non-finite numbers, -0 as 0', () => {
    const same: Array<[Record<string, unknown>, Record<string, unknown>]> = [
      [{ a: 1, b: undefined }, { a: 1 }],
      [{ a: Number.NaN }, { a: null }],
      [{ a: Number.POSITIVE_INFINITY }, { a: null }],
      [{ a: -0 }, { a: 0 }],
      [{ a: [undefined] }, { a: [null] }],
    ];
    for (const [x, y] of same) expect(hashOf(scheme, [[0, 'p', 'k', x]])).toBe(hashOf(scheme, [[0, 'p', 'k', y]]));
  });

  test('tells apart every change a JSON line would show', () => {
    const variants: Event[][] = [
      [[0, 'p', 'k', { a: 1, b: 2 }]],
      [[0, 'p', 'k', { b: 2, a: 1 }]], // key order
      [[0, 'p', 'k', { a: '1', b: 2 }]], // string vs number
      [[0, 'p', 'k', { a: 1, b: 2.5 }]],
      [[0, 'p', 'k', { a: [1, 2] }]],
      [[0, 'p', 'k', { a: [[1], 2] }]], // nesting
      [[0, 'p', 'k', { a: [1], b: [2] }]],
      [[0, 'p', 'k', { a: { b: 2 } }]],
      [[0, 'p', 'k', { a: true }]],
      [[0, 'p', 'k', { a: false }]],
      [[0, 'p', 'k', { a: null }]],
      [[0, 'p', 'k', {}]],
      [[0, 'p', 'k']], // no details at all
      [[1, 'p', 'k']], // time
      [[1, 'p', 'k'], [3, 'p', 'k']],
      [[1, 'p', 'k'], [2, 'p', 'k']],
      [[3, 'p', 'k'], [1, 'p', 'k']], // an earlier time
      [[0, 'p', 'k', { a: 1.5 }]], // integer vs float
      [[0, 'p', 'k', { a: -1 }]], // sign
      [[0, 'p', 'k', { a: 2 ** 40 }]],
      [[0, 'pk', '']], // string boundaries
      [[0, '', 'pk']],
      [[0, 'p', 'k'], [0, 'p', 'k']], // event boundaries
      [[0, 'p', 'k', { a: 'p' }]], // a repeated string refers back to its first occurrence
      [[0, 'p', 'k', { a: 'q' }]],
    ];
    const hashes = variants.map((v) => hashOf(scheme, v));
    expect(new Set(hashes).size).toBe(variants.length);
  });

  test('strings longer than a hash chunk are hashed whole', () => {
    const long = 'x'.repeat(200_000);
    const a = hashOf(scheme, [[0, 'p', 'k', { s: long }]]);
    expect(hashOf(scheme, [[0, 'p', 'k', { s: long }]])).toBe(a);
    expect(hashOf(scheme, [[0, 'p', 'k', { s: `${long.slice(0, -1)}y` }]])).not.toBe(a);
  });

  test('a bigint in details is a model bug', () => {
    expect(() => hashOf(scheme, [[0, 'p', 'k', { n: 1n }]])).toThrow(/bigint/);
  });
});

/** The bytes the compact encoder hashes for `events`, taken from its sha256's updates. */
function compactBytes(events: readonly Event[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  const update = Hash.prototype.update;
  Hash.prototype.update = function (this: Hash, data: Uint8Array): Hash {
    chunks.push(Uint8Array.from(data));
    return Reflect.apply(update, this, [data]) as Hash;
  } as typeof update;
  try {
    hashOf('compact', events);
  } finally {
    Hash.prototype.update = update;
  }
  return Uint8Array.from(chunks.flatMap((c) => [...c]));
}

/** A reader of the compact encoding, written from its description in trace-encoding-compact.ts. */
function decodeCompact(bytes: Uint8Array): unknown[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const slots: string[] = [];
  let at = 0;
  let next = 0;
  let last = 0;
  const uint = (): number => {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = bytes[at++]!;
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
    }
  };
  const string = (tag: number): string => {
    if (tag === 6) return slots[uint()]!;
    expect(tag).toBe(5);
    const length = uint();
    let s = '';
    for (let i = 0; i < length; i++) s += String.fromCharCode(uint());
    slots[next] = s;
    next = (next + 1) % 16_384;
    return s;
  };
  const value = (): unknown => {
    const tag = bytes[at++]!;
    switch (tag) {
      case 5: case 6: return string(tag);
      case 7: return uint();
      case 8: return -uint();
      case 9: at += 8; return view.getFloat64(at - 8, true);
      case 10: return true;
      case 11: return false;
      case 12: return null;
      case 13: return Array.from({ length: uint() }, value);
      case 14: {
        const o: Record<string, unknown> = {};
        while (bytes[at] !== 15) {
          const k = string(bytes[at++]!);
          o[k] = value();
        }
        at++;
        return o;
      }
      default: throw new Error(`tag ${tag} at ${at - 1}`);
    }
  };
  const events: unknown[] = [];
  while (at < bytes.length) {
    const tag = bytes[at++]!;
    expect(tag >= 1 && tag <= 4).toBe(true);
    const dt = uint();
    last = tag <= 2 ? last + dt : last - dt;
    const p = string(bytes[at++]!);
    const k = string(bytes[at++]!);
    events.push([last, p, k, tag % 2 === 0 ? value() : undefined]);
  }
  return events;
}
