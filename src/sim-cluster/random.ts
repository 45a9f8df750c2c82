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
