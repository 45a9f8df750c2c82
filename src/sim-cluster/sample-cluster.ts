import { assign, setup } from 'xstate';
import type { ConnectionEnd } from './network.ts';
import type { ProcessBehaviour, ProcessContext } from './process.ts';
import { Simulation, type RunResult, type SimulationOptions } from './simulation.ts';
import { MS, SECOND, type Micros } from './time.ts';
import { startActor } from './xstate-adapter.ts';

/**
 * A small cluster that exercises every kernel feature: xstate actors with `after:` timers, ordered
 * connections with reconnects, datagrams, and a seeded fault driver (crash, restart, pause, node
 * failure, partitions, clock jumps). It is the workload of the determinism tests and the kernel
 * benchmarks, and a worked example of how to write a component. It models nothing real.
 *
 * Topology: one `hub` process on node `n0`; one `worker-i` on each node `n1..nN`. Each worker keeps
 * a connection to the hub (redialling with backoff when it drops), sends it a `work` message every
 * `workIntervalUs`, and gossips a datagram to a random other worker on each heartbeat. The hub
 * answers every `work` with a `done` on the same connection.
 */
export interface SampleClusterOptions {
  /** Number of worker nodes. Default 4. */
  workers?: number;
  /** Interval between a worker's work messages, in µs. Default 50 ms. */
  workIntervalUs?: Micros;
  /** Interval between heartbeats (gossip datagrams), in µs. Default 1 s. */
  heartbeatUs?: Micros;
  /** Inject seeded faults. Default true. */
  faults?: boolean;
  /** Mean time between faults, in µs. Default 5 s. */
  faultEveryUs?: Micros;
}

/** A worker's connection life cycle as an xstate machine: dial, stay connected, back off, redial. */
const workerMachine = setup({
  types: {
    context: {} as { backoffMs: number },
    events: {} as { type: 'CONNECTED' } | { type: 'DROPPED' },
  },
  actions: {
    resetBackoff: assign({ backoffMs: 100 }),
    growBackoff: assign({ backoffMs: ({ context }) => Math.min(context.backoffMs * 2, 3_200) }),
  },
  delays: {
    backoff: ({ context }) => context.backoffMs,
  },
}).createMachine({
  id: 'worker',
  context: { backoffMs: 100 },
  initial: 'dialing',
  states: {
    dialing: {
      on: { CONNECTED: { target: 'connected', actions: 'resetBackoff' }, DROPPED: 'backoff' },
    },
    connected: {
      on: { DROPPED: 'backoff' },
    },
    backoff: {
      entry: 'growBackoff',
      after: { backoff: 'dialing' },
    },
  },
});

function bootHub(ctx: ProcessContext): ProcessBehaviour {
  let served = 0;
  return {
    onAccept(conn: ConnectionEnd) {
      conn.onMessage = (payload) => {
        const msg = payload as { type: string; n: number };
        served++;
        conn.send({ type: 'done', n: msg.n, served });
      };
    },
    onSignal() {
      ctx.exit();
    },
  };
}

function bootWorker(ctx: ProcessContext, index: number, peers: readonly string[], options: Required<SampleClusterOptions>): ProcessBehaviour {
  const actor = startActor(ctx, workerMachine, { id: 'conn' });
  const gossip = ctx.random('gossip');
  let conn: ConnectionEnd | null = null;
  let sent = 0;
  let acked = 0;

  const dial = (): void => {
    conn = ctx.connect('hub', {
      onOpen: () => actor.send({ type: 'CONNECTED' }),
      onMessage: (payload) => {
        acked = (payload as { n: number }).n;
      },
      onClose: () => {
        conn = null;
        actor.send({ type: 'DROPPED' });
      },
    }, { timeoutUs: 2 * SECOND });
  };
  actor.subscribe((snapshot) => {
    if (snapshot.value === 'dialing' && conn === null) dial();
  });
  dial();

  const work = (): void => {
    if (conn?.isOpen) conn.send({ type: 'work', n: ++sent });
    ctx.setTimer(options.workIntervalUs, work, 'work');
  };
  const heartbeat = (): void => {
    const others = peers.filter((p) => p !== ctx.name);
    ctx.sendDatagram(gossip.pick(others), { from: index, acked, at: ctx.now() });
    ctx.setTimer(options.heartbeatUs, heartbeat, 'heartbeat');
  };
  ctx.setTimer(options.workIntervalUs, work, 'work');
  ctx.setTimer(options.heartbeatUs, heartbeat, 'heartbeat');
  return {
    onDatagram(from, payload) {
      ctx.record('gossip', { from, acked: (payload as { acked: number }).acked });
    },
  };
}

/** Builds the sample cluster on a fresh simulation. */
export function buildSampleCluster(simOptions: SimulationOptions, clusterOptions: SampleClusterOptions = {}): Simulation {
  const options: Required<SampleClusterOptions> = {
    workers: clusterOptions.workers ?? 4,
    workIntervalUs: clusterOptions.workIntervalUs ?? 50 * MS,
    heartbeatUs: clusterOptions.heartbeatUs ?? 1 * SECOND,
    faults: clusterOptions.faults ?? true,
    faultEveryUs: clusterOptions.faultEveryUs ?? 5 * SECOND,
  };
  const sim = new Simulation(simOptions);
  sim.addNode('n0');
  sim.addProcess({ name: 'hub', node: 'n0', boot: bootHub });
  const workers: string[] = [];
  for (let i = 1; i <= options.workers; i++) {
    // Every node gets a distinct clock: offsets and drift must not change outcomes' determinism.
    sim.addNode(`n${i}`, { offsetUs: i * 7 * MS, driftPpm: (i % 3) * 50 - 50 });
    workers.push(`worker-${i}`);
  }
  for (let i = 1; i <= options.workers; i++) {
    sim.addProcess({ name: `worker-${i}`, node: `n${i}`, boot: (ctx) => bootWorker(ctx, i, workers, options) });
  }
  if (options.faults) scheduleFaults(sim, options);
  return sim;
}

/** A seeded fault driver: every fault is undone a little later, so the cluster keeps moving. */
function scheduleFaults(sim: Simulation, options: Required<SampleClusterOptions>): void {
  const rng = sim.stream('faults');
  const tick = (): void => {
    const victimIndex = rng.int(1, options.workers);
    const worker = `worker-${victimIndex}`;
    const node = `n${victimIndex}`;
    const lasting = rng.int(100 * MS, 4 * SECOND);
    switch (rng.int(0, 5)) {
      case 0:
        sim.restart(worker, lasting);
        break;
      case 1:
        sim.pause(worker);
        sim.after(lasting, () => sim.resume(worker), 'resume');
        break;
      case 2:
        sim.network.isolate(node);
        sim.after(lasting, () => sim.network.rejoin(node), 'rejoin');
        break;
      case 3: {
        const oneWay: [string[], string[]] = [[node], ['n0']];
        sim.network.partition(oneWay[0], oneWay[1], true);
        sim.after(lasting, () => sim.network.heal(oneWay[0], oneWay[1], true), 'heal');
        break;
      }
      case 4:
        sim.failNode(node);
        sim.after(lasting, () => sim.recoverNode(node, true), 'recover');
        break;
      case 5:
        sim.jumpClock(node, rng.int(-2 * SECOND, 2 * SECOND));
        break;
    }
    sim.after(rng.int(1, 2 * options.faultEveryUs), tick, 'fault');
  };
  sim.after(rng.int(1, 2 * options.faultEveryUs), tick, 'fault');
}

export interface SampleRun {
  hash: string;
  result: RunResult;
  events: number;
}

/** Runs the sample cluster for `durationUs` of virtual time and returns its trace hash. */
export function runSampleCluster(seed: number | string, durationUs: Micros, clusterOptions: SampleClusterOptions = {}): SampleRun {
  const sim = buildSampleCluster({ seed }, clusterOptions);
  const result = sim.run({ until: durationUs });
  return { hash: sim.trace.hash(), result, events: sim.trace.count };
}
