import { formatTime, type Micros, type TraceEvent } from '../../sim-cluster/index.ts';
import { faultTarget, type FaultRecord, type Target } from '../../faults/fault-kind.ts';

/** The interval a fault was in effect, for shading; an instant fault has `to === from`. */
export interface FaultBand {
  from: Micros;
  to: Micros;
  /** Kind and what it hit, e.g. `pause api-1`. */
  label: string;
  detail: string;
}

function roleText(t: Target): string {
  return t.index !== undefined ? `${t.role}[${t.index}]` : t.role;
}

/** The schedule's own words for a fault's target, before it was resolved. */
function scheduledTarget(f: FaultRecord): string | null {
  const p = f as FaultRecord & { target?: Target; from?: Target; to?: Target; oneWay?: boolean };
  if (p.target !== undefined) return roleText(p.target);
  if (p.from !== undefined && p.to !== undefined) return `${roleText(p.from)} ${p.oneWay ? '→' : '↔'} ${roleText(p.to)}`;
  return null;
}

/**
 * One band per scheduled fault, from its start to its end or the heal, whichever is first (the heal
 * undoes every fault). What a fault hit is read from its `fault.<kind>` event, since targets such
 * as `leader` or `agent-host` are resolved only when the fault fires.
 */
export function faultBands(schedule: readonly FaultRecord[], faultEnd: (f: FaultRecord) => Micros, events: readonly TraceEvent[], healAt: Micros): FaultBand[] {
  const applied = events.filter((e) => e.k.startsWith('fault.') && e.k !== 'fault.end' && e.k !== 'fault.heal');
  const used = new Set<TraceEvent>();
  return schedule.map((f) => {
    const e = applied.find((x) => !used.has(x) && x.t === f.at && x.k === `fault.${f.kind}`);
    if (e !== undefined) used.add(e);
    const resolved = e === undefined ? undefined : faultTarget(e.d ?? {});
    const scheduled = scheduledTarget(f);
    const hit = resolved === undefined ? (scheduled ?? '') : resolved === null ? `${scheduled ?? ''} (no live target)` : resolved;
    const to = Math.max(f.at, Math.min(faultEnd(f), healAt));
    const { kind, at, ...params } = f;
    const fired = e === undefined ? ' (never fired: the run ended first)' : '';
    return {
      from: at,
      to,
      label: `${kind} ${hit}`.trim(),
      detail: `${kind} ${hit}${scheduled !== null && resolved ? ` (scheduled as ${scheduled})` : ''}, ${formatTime(at)}${to > at ? ` to ${formatTime(to)}` : ''}${fired}; ${JSON.stringify(params)}`,
    };
  });
}
