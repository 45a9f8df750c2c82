import seedrandom from 'seedrandom';

/**
 * Seeded randomness (DESIGN decision 2). One run seed is split into named streams: the stream
 * `network` is seeded from `"<seed>/network"`, so adding a stream, or drawing more numbers from
 * one, never shifts the numbers any other stream produces.
 *
 * The generator is seedrandom's Alea: about 10 ns a draw (the default ARC4 is ~6x slower), accepts
 * string seeds, and uses only IEEE double arithmetic, so sequences are identical on every Node
 * version (measured in notes/toolchain.md §3). Every helper below uses only +, -, *, floor and
 * comparisons, never Math.exp/log, whose last bit is not fixed by ECMAScript.
 */
export class RandomStream {
  private readonly prng: seedrandom.PRNG;

  constructor(readonly name: string, rootSeed: number | string) {
    this.prng = seedrandom.alea(`${rootSeed}/${name}`);
  }

  /** A float in [0, 1). */
  next(): number {
    return this.prng();
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    if (max < min) throw new RangeError(`RandomStream.int: max ${max} < min ${min}`);
    return min + Math.floor(this.prng() * (max - min + 1));
  }

  /** True with probability p (p <= 0 never, p >= 1 always, and neither draws a number). */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.prng() < p;
  }

  /** A uniformly chosen element; throws on an empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError(`RandomStream.pick on an empty list (${this.name})`);
    return items[Math.floor(this.prng() * items.length)]!;
  }

  /**
   * A multiplicative jitter as client-go's wait.Jitter computes it: `d + floor(rand * factor * d)`,
   * i.e. uniform in [d, d * (1 + factor)).
   */
  jitter(d: number, factor: number): number {
    return d + Math.floor(this.prng() * factor * d);
  }

  /**
   * A standard normal variate, approximately: the Irwin–Hall sum of 12 uniforms minus 6 (mean 0,
   * variance 1, tails cut at ±6). Twelve draws and additions only, so it is bit-identical on every
   * engine, which an inverse-CDF or Box–Muller draw (log, cos) would not be.
   */
  normal(): number {
    let sum = 0;
    for (let i = 0; i < 12; i++) sum += this.prng();
    return sum - 6;
  }

  /** A log-normal variate with the given median and σ of its logarithm: `median × e^(σ·normal())`. */
  logNormal(median: number, sigma: number): number {
    return median * portableExp(sigma * this.normal());
  }
}

const LN2 = 0.6931471805599453;

/**
 * e^x from +, -, *, / and Math.round only, so that every engine computes the same bits (Math.exp's
 * last bit is not fixed by ECMAScript): x = k·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its Taylor series
 * to the 13th power (the next term is below 1e-17 of the sum), times 2^k. |x| above 700 gives
 * Infinity or 0, as e^x overflows or underflows there.
 */
export function portableExp(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x > 700) return Infinity;
  if (x < -700) return 0;
  const k = Math.round(x / LN2);
  const r = x - k * LN2;
  let term = 1;
  let sum = 1;
  for (let n = 1; n <= 13; n++) {
    term = (term * r) / n;
    sum += term;
  }
  let scale = 1;
  const factor = k >= 0 ? 2 : 0.5;
  for (let i = Math.abs(k); i > 0; i--) scale *= factor;
  return sum * scale;
}

/** The set of named streams of one run. Streams are created on first use and then kept. */
export class RandomStreams {
  private readonly streams = new Map<string, RandomStream>();

  constructor(readonly seed: number | string) {}

  get(name: string): RandomStream {
    let stream = this.streams.get(name);
    if (stream === undefined) {
      stream = new RandomStream(name, this.seed);
      this.streams.set(name, stream);
    }
    return stream;
  }
}
