import { formatTime, type Micros, type TraceEvent } from '../../sim-cluster/index.ts';
import { faultEnd, type Fault, type Target } from '../../faults/fault-kinds.ts';
import { faultTarget } from '../../systems/streamspace/explain/narrate.ts';

/** The interval a fault was in effect, for shading; an instant fault has `to === from`. */
export interface FaultBand {
  from: Micros;
  to: Micros;
  /** Kind and what it hit, e.g. `pause api-1`. */
  label: string;
  detail: string;
}

function roleText(t: Target): string {
  return 'index' in t ? `${t.role}[${t.index}]` : t.role;
}

/** The schedule's own words for a fault's target, before it was resolved. */
function scheduledTarget(f: Fault): string | null {
  if ('target' in f) return roleText(f.target);
  if (f.kind === 'partition') return `${roleText(f.from)} ${f.oneWay ? '→' : '↔'} ${roleText(f.to)}`;
  return null;
}

/**
 * One band per scheduled fault, from its start to its end or the heal, whichever is first (the heal
 * undoes every fault). What a fault hit is read from its `fault.<kind>` event, since targets such
 * as `leader` or `agent-host` are resolved only when the fault fires.
 */
export function faultBands(schedule: readonly Fault[], events: readonly TraceEvent[], healAt: Micros): FaultBand[] {
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
