import { MS, RandomStream, SECOND, type Micros } from '../sim-cluster/index.ts';
import type { NetworkOptions } from '../sim-cluster/network.ts';

/**
 * The seeded variation around a scenario's base case. Seed 0 is the base case itself: the report's
 * fault timing and the kernel's default network. Every other seed draws from its own stream
 * (`"<seed>/scenario-variation"`, seedrandom's Alea like every kernel stream), which no component
 * reads, so the variation never shifts the model's own random numbers for that seed.
 */
export class Variation {
  readonly base: boolean;
  private readonly rng: RandomStream;

  constructor(readonly seed: number) {
    this.base = seed === 0;
    this.rng = new RandomStream('scenario-variation', seed);
  }

  /** A delay in [0, maxUs] µs (0 in the base case): shifts a fault instant. */
  offset(maxUs: Micros): Micros {
    return this.base ? 0 : this.rng.int(0, maxUs);
  }

  /** An integer in [min, max], or `baseValue` in the base case. */
  int(min: number, max: number, baseValue: number): number {
    return this.base ? baseValue : this.rng.int(min, max);
  }

  /**
   * User load (spec §5.2 producers, through the Service): the reports' clusters were idle
   * ("activeSessions: 0"), so the base case has no users. Other seeds are idle one time in four,
   * else users send a create/delete request every 5-60 s on average. Sessions take 5-120 s to
   * start, and the as-built agent reads nothing while one starts (§7.5), so even light load matters.
   */
  userRequestIntervalUs(): Micros {
    if (this.base || this.rng.chance(0.25)) return 0;
    return this.rng.int(5, 60) * SECOND;
  }

  /**
   * In-cluster network conditions: base latency 100 µs-2 ms, jitter 0-3 ms, and a tail of up to
   * 20 ms on up to 5% of segments (a busy CNI, a noisy neighbour). Undefined in the base case (the
   * kernel's defaults: 200 µs + [0, 300 µs], 1% tail of up to 5 ms).
   */
  network(): Partial<NetworkOptions> | undefined {
    if (this.base) return undefined;
    const latency = {
      baseUs: this.rng.int(100, 2 * MS),
      jitterUs: this.rng.int(0, 3 * MS),
      tailChance: this.rng.int(0, 50) / 1000,
      tailUs: this.rng.int(0, 20 * MS),
    };
    return { link: { latency, dropRate: 0, duplicateRate: 0 } };
  }
}
