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
