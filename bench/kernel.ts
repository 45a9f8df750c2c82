import { EventQueue } from '../src/sim-cluster/event-queue.ts';
import { buildSampleCluster } from '../src/sim-cluster/sample-cluster.ts';
import { Simulation } from '../src/sim-cluster/simulation.ts';
import { MINUTE } from '../src/sim-cluster/time.ts';
import { measure, type BenchResult } from './measure.ts';

/**
 * Raw kernel: schedule-and-fire of no-op events through the full run loop, with 1,000 events
 * pending at any time (a realistic queue depth), each event re-arming one successor at a seeded
 * pseudo-random delay so the heap really reorders.
 */
export function benchRawKernel(events = 2_000_000): BenchResult {
  return measure('kernel.raw', () => {
    const sim = new Simulation({ seed: 1, stepBudget: events + 10, guard: false });
    sim.addNode('n');
    let left = events;
    let x = 12345;
    sim.addProcess({
      name: 'p', node: 'n', boot: (ctx) => {
        const fire = (): void => {
          if (--left <= 0) return;
          x = (x * 1103515245 + 12345) & 0x7fffffff;
          ctx.setTimer(1 + (x % 1000), fire, 'noop');
        };
        for (let i = 0; i < 1000; i++) ctx.setTimer(i, fire, 'noop');
        return {};
      },
    });
    const r = sim.run();
    return { events: r.steps };
  });
}

/**
 * `limit`: what plain JavaScript does at this heap depth, the ceiling every other figure is read
 * against (ratioToLimit). A minimal binary heap of (time, seq, closure) entries, 1,000 pending, each
 * event calling its closure, which pushes one successor at a seeded pseudo-random delay: the work of
 * kernel.raw with nothing else (no processes, owners, labels, guard or trace).
 */
export function benchLimit(events = 2_000_000): BenchResult {
  interface Entry { time: number; seq: number; run: () => void }
  const before = (a: Entry, b: Entry): boolean => a.time < b.time || (a.time === b.time && a.seq < b.seq);
  return measure('limit', () => {
    const heap: Entry[] = [];
    let seq = 0;
    let now = 0;
    const push = (time: number, run: () => void): void => {
      const e: Entry = { time, seq: seq++, run };
      let i = heap.length;
      heap.push(e);
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!before(e, heap[parent]!)) break;
        heap[i] = heap[parent]!;
        i = parent;
      }
      heap[i] = e;
    };
    const pop = (): Entry => {
      const top = heap[0]!;
      const last = heap.pop()!;
      const n = heap.length;
      if (n > 0) {
        let i = 0;
        for (;;) {
          const left = 2 * i + 1;
          if (left >= n) break;
          const child = left + 1 < n && before(heap[left + 1]!, heap[left]!) ? left + 1 : left;
          if (!before(heap[child]!, last)) break;
          heap[i] = heap[child]!;
          i = child;
        }
        heap[i] = last;
      }
      return top;
    };
    let left = events;
    let x = 12345;
    const fire = (): void => {
      if (--left <= 0) return;
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      push(now + 1 + (x % 1000), fire);
    };
    for (let i = 0; i < 1000; i++) push(i, fire);
    let steps = 0;
    while (heap.length > 0) {
      const e = pop();
      now = e.time;
      steps++;
      e.run();
    }
    return { events: steps };
  });
}

/** The bare event queue, without the run loop: the floor under every other number. */
export function benchQueue(events = 2_000_000): BenchResult {
  return measure('kernel.queue', () => {
    const q = new EventQueue<null>();
    const noop = (): void => {};
    let x = 1;
    for (let i = 0; i < 1000; i++) q.push(i, noop, null, '');
    for (let i = 0; i < events; i++) {
      const e = q.pop()!;
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      q.push(e.time + 1 + (x % 1000), noop, null, '');
    }
    return { events };
  });
}

/**
 * Kernel plus xstate actors exchanging messages over connections and datagrams: the sample
 * cluster (4 workers and a hub) for 10 simulated minutes, with and without its fault driver.
 */
export function benchSampleCluster(faults: boolean, guard: boolean): BenchResult {
  const durationUs = 10 * MINUTE;
  return measure(`kernel.xstate-cluster${faults ? '+faults' : ''}${guard ? '' : ' (guard off)'}`, () => {
    const sim = buildSampleCluster({ seed: 7, guard }, { faults });
    const r = sim.run({ until: durationUs });
    sim.trace.hash();
    return { events: r.steps, simUs: durationUs, traceEvents: sim.trace.count };
  });
}
