import { createHash } from 'node:crypto';
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

describe('the interned scheme (trace files version 2)', () => {
  // The expected value was computed by a separate implementation of the byte format described in
  // trace-encoding.ts (tags, little-endian float64/uint32, UTF-16 code units), not by this code.
  test('is pinned: changing the encoding breaks every version-2 trace file (bump TRACE_VERSION instead)', () => {
    expect(hashOf('interned', SAMPLE)).toBe('76b27f9a46743e342a1b1623ee7ce54659f8f040fba0e3ed1447bc94fc27dff0');
  });

  test('differs from the lines scheme', () => {
    expect(hashOf('interned', SAMPLE)).not.toBe(hashOf('lines', SAMPLE));
  });

  test('follows the JSON data model: omitted undefined keys, null for non-finite numbers, -0 as 0', () => {
    const same: Array<[Record<string, unknown>, Record<string, unknown>]> = [
      [{ a: 1, b: undefined }, { a: 1 }],
      [{ a: Number.NaN }, { a: null }],
      [{ a: Number.POSITIVE_INFINITY }, { a: null }],
      [{ a: -0 }, { a: 0 }],
      [{ a: [undefined] }, { a: [null] }],
    ];
    for (const [x, y] of same) expect(hashOf('interned', [[0, 'p', 'k', x]])).toBe(hashOf('interned', [[0, 'p', 'k', y]]));
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
      [[0, 'pk', '']], // string boundaries
      [[0, '', 'pk']],
      [[0, 'p', 'k'], [0, 'p', 'k']], // event boundaries
      [[0, 'p', 'k', { a: 'p' }]], // a repeated string refers back to its first occurrence
      [[0, 'p', 'k', { a: 'q' }]],
    ];
    const hashes = variants.map((v) => hashOf('interned', v));
    expect(new Set(hashes).size).toBe(variants.length);
  });

  test('strings longer than a hash chunk are hashed whole', () => {
    const long = 'x'.repeat(200_000);
    const a = hashOf('interned', [[0, 'p', 'k', { s: long }]]);
    expect(hashOf('interned', [[0, 'p', 'k', { s: long }]])).toBe(a);
    expect(hashOf('interned', [[0, 'p', 'k', { s: `${long.slice(0, -1)}y` }]])).not.toBe(a);
  });

  test('a bigint in details is a model bug', () => {
    expect(() => hashOf('interned', [[0, 'p', 'k', { n: 1n }]])).toThrow(/bigint/);
  });
});
