import { StreamSpaceCluster } from '../src/model/cluster/cluster.ts';
import { MINUTE, SECOND } from '../src/sim-cluster/index.ts';
import { measure, type BenchResult } from './measure.ts';

/**
 * The default StreamSpace topology (2 API pods with the Redis hub, 3 HA agents, Redis, PostgreSQL),
 * fault-free, 10 simulated minutes with one user request per second on average.
 */
export function benchStreamSpace(traceMessages: boolean): BenchResult {
  const durationUs = 10 * MINUTE;
  return measure(`model.streamspace-10min${traceMessages ? ' (message trace)' : ''}`, () => {
    const cluster = new StreamSpaceCluster({
      seed: 1,
      config: { workload: { requestIntervalUs: 1 * SECOND, createFraction: 0.7, startUs: 1 * MINUTE } },
      simulation: { traceMessages },
    });
    const r = cluster.sim.run({ until: durationUs });
    cluster.sim.trace.hash();
    return { events: r.steps, simUs: durationUs, traceEvents: cluster.sim.trace.count, commands: cluster.postgres.allCommands().length };
  });
}
