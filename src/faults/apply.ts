import type { Micros } from '../sim-cluster/index.ts';
import type { AnyFaultKind, FaultContext, FaultRecord, Platform } from './fault-kind.ts';

/** A system's fault kinds by name, with the platform they act through. */
export interface FaultRegistry<I, V> {
  readonly kinds: ReadonlyMap<string, AnyFaultKind<I, V>>;
  readonly platform: Platform<I, V>;
}

/** When a fault's effects end (window faults), or its start (instant faults). */
export function faultEnd<I, V>(registry: FaultRegistry<I, V>, fault: FaultRecord): Micros {
  return kindOf(registry, fault).end(fault);
}

/** The heal instant of a schedule: when its last fault's effects end (or `minHealAt`, if later). */
export function healTime<I, V>(registry: FaultRegistry<I, V>, schedule: readonly FaultRecord[], minHealAt: Micros = 0): Micros {
  let h = minHealAt;
  for (const f of schedule) h = Math.max(h, faultEnd(registry, f));
  return h;
}

function kindOf<I, V>(registry: FaultRegistry<I, V>, fault: FaultRecord): AnyFaultKind<I, V> {
  const kind = registry.kinds.get(fault.kind);
  // Schedules are validated where they enter (trace files, flags); an unknown kind here is a bug.
  if (kind === undefined) throw new Error(`unknown fault kind '${fault.kind}'`);
  return kind;
}

/**
 * Applies a fault schedule to a system instance: each fault at its instant (targets resolved then),
 * window faults undone at their end, and at the heal instant everything stops: partitions healed,
 * links reset, failed nodes back, clocks at their normal rate, paused processes resumed, then each
 * of the system's kinds heals what it owns. Every application is recorded as a `fault.<kind>` trace
 * event, each early undo as `fault.end`, the heal as `fault.heal` with the last fault's instant.
 */
export function applySchedule<I, V>(registry: FaultRegistry<I, V>, instance: I, view: V, schedule: readonly FaultRecord[], healAt: Micros): void {
  const { platform } = registry;
  const sim = platform.sim(instance);
  // lastFaultAt: when the last `fault.*` event was recorded (only this function records them).
  const state = { healed: false, lastFaultAt: -1 };
  const recordFault = (k: string, details: Record<string, unknown>): void => {
    state.lastFaultAt = sim.now;
    sim.trace.record(sim.now, 'faults', k, details);
  };
  // Each node's own drift before any fault: the heal and a drift window's end return to it.
  const baseDrift = new Map(sim.nodes.map((n) => [n.name, n.clock.driftPpm]));
  const base = { instance, view, sim, platform, baseDriftPpm: (node: string) => baseDrift.get(node) ?? 0 };
  for (const fault of schedule) {
    const kind = kindOf(registry, fault);
    kind.prepare?.(fault, base);
    sim.at(fault.at, () => {
      const ctx: FaultContext<I, V> = {
        ...base,
        record: (details) => recordFault(`fault.${fault.kind}`, details),
        // A window's own end does nothing once the heal has undone every fault.
        until: (label, undo) => sim.at(kind.end(fault), () => {
          if (state.healed) return;
          undo();
          recordFault('fault.end', { kind: fault.kind, what: label });
        }, `fault.end ${fault.kind}`),
      };
      kind.apply(fault, ctx);
    }, `fault.${fault.kind}`);
  }
  sim.at(healAt, () => {
    state.healed = true;
    sim.network.healAll();
    for (const a of sim.nodes) for (const b of sim.nodes) if (a !== b) sim.network.resetLink(a.name, b.name);
    for (const n of sim.nodes) {
      if (!n.up) platform.recoverNode(instance, n.name);
      const drift = baseDrift.get(n.name) ?? 0;
      if (n.clock.driftPpm !== drift) sim.setClockDrift(n.name, drift);
    }
    for (const p of sim.processes) if (p.status === 'paused') sim.resume(p.name);
    for (const kind of registry.kinds.values()) kind.heal?.(base);
    sim.trace.record(sim.now, 'faults', 'fault.heal', { lastFaultAt: state.lastFaultAt });
  }, 'fault.heal');
}
