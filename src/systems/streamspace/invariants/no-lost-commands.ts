import type { Micros } from '../../../sim-cluster/index.ts';
import type { CommandLife, ClusterView } from './cluster-view.ts';
import type { Monitor, RunWindow, Violation } from '../../../invariants/monitor.ts';

/** Probe commands issued by the recovery check are judged there, not here. */
export const PROBE_PREFIX = 'probe-';

/**
 * End to end: every command the API accepted (its row committed, `db.command.insert`) ends `completed` or `failed` in
 * PostgreSQL within the recovery bound after the faults stop (or after it was accepted, if later),
 * plus the time the agent may take to run it; and the record matches what happened: not executed
 * but recorded failed, nor recorded completed without a successful execution.
 */
export function noLostCommands(maxExecutionUs: Micros): Monitor<ClusterView> {
  return {
    id: 'no-lost-commands',
    definition:
      'Every command accepted by the API (its row committed) reaches completed or failed by max(accepted, heal) + B + the longest execution; '
      + 'a command recorded failed was not executed successfully, and a command recorded completed was executed successfully.',
    atEnd(view: ClusterView, window: RunWindow): Violation | null {
      for (const c of view.commands.values()) {
        if (c.id.startsWith(PROBE_PREFIX)) continue;
        const v = judge(c, view, window, maxExecutionUs);
        if (v !== null) return v;
      }
      return null;
    },
  };
}

function judge(c: CommandLife, _view: ClusterView, window: RunWindow, maxExecutionUs: Micros): Violation | null {
  const deadline = Math.max(c.acceptedAt, window.healAt) + window.boundUs + maxExecutionUs;
  const terminal = c.status === 'completed' || c.status === 'failed';
  if (!terminal) {
    if (deadline > window.endAt) return null; // cannot be judged yet
    return lost(c, window, `is still ${c.status} (written by ${c.statusBy}) at the deadline; executions: ${c.executions.length}`);
  }
  if (c.status === 'completed' && c.executedOk === 0) return lost(c, window, `is recorded completed but was never executed successfully (${c.executions.length} executions)`);
  if (c.status === 'failed' && c.executedOk > 0) return lost(c, window, `was executed successfully but is recorded failed (by ${c.statusBy})`);
  return null;
}

function lost(c: CommandLife, window: RunWindow, why: string): Violation {
  return { invariant: 'no-lost-commands', time: window.endAt, message: `${c.id} (accepted at ${c.acceptedAt} µs on ${c.acceptedBy}) ${why}`, evidence: [] };
}
