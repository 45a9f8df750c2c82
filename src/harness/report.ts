import { formatTime } from '../sim-cluster/index.ts';
import type { FaultRecord as Fault } from '../faults/fault-kind.ts';
import type { Verdict } from './run-case.ts';

/** The schedule as a short table: one line per fault, time first. */
export function formatSchedule(schedule: readonly Fault[]): string {
  if (schedule.length === 0) return '  (no faults)';
  return schedule.map((f) => {
    const { kind, at, ...params } = f;
    const p = Object.entries(params).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ');
    return `  ${formatTime(at).padStart(10)}  ${kind.padEnd(15)} ${p}`;
  }).join('\n');
}

/** One compact failure report: invariant, seed, profile, the schedule, and the replay command. */
export function formatFailure(v: Verdict, c: { profile: string; seed: number; schedule: readonly Fault[] }, replayFile: string | null): string {
  const lines = [
    `VIOLATION ${v.outcome} (profile ${c.profile}, seed ${c.seed}) at ${formatTime(v.violation?.time ?? v.endAt)}`,
    `  ${v.violation?.message ?? v.modelFailure ?? ''}`,
    `schedule (${c.schedule.length} faults, heal at ${formatTime(v.healAt)}):`,
    formatSchedule(c.schedule),
  ];
  if (replayFile !== null) lines.push(`replay: npx hasim replay ${replayFile}`);
  return lines.join('\n');
}
