import { formatTime, SECOND, type CommandLife, type Micros, type Monitor, type RunWindow, type StreamSpaceView, type TraceEvent, type Violation } from 'hasim';

/**
 * How long a command may wait between its acceptance and the start of its execution on the agent,
 * once the cluster is healthy. The path (API pod, Redis pub/sub, the hub, the WebSocket, the agent)
 * takes a few milliseconds when nothing is wrong; a second leaves room for that path to be slow, and
 * is still far below the minutes `no-lost-commands` allows before it calls a command lost, so a
 * command stuck in a queue for tens of seconds is caught here and not there.
 */
export const PROMPT_DISPATCH_US: Micros = 1 * SECOND;

const ID = 'prompt-dispatch';

/**
 * Judged only for commands accepted once the recovery probe has found the cluster healthy: before
 * that a fault may stand in the way, and recovering is `bounded-recovery`'s business. A run without
 * faults heals right after settling, so it is judged almost from the start.
 */
function judged(life: CommandLife, view: StreamSpaceView): boolean {
  return view.recoveredAt !== null && life.acceptedAt >= view.recoveredAt;
}

/**
 * Steady-state dispatch latency. The bundled invariants promise that every command ends up
 * completed or failed within the recovery bound; this one promises that, on a healthy cluster, a
 * command does not queue behind others: its first execution starts within PROMPT_DISPATCH_US of its
 * acceptance. A command the agent refuses without running (an unknown action, recorded failed)
 * never starts, which is an answer, not a wait.
 */
export const promptDispatch: Monitor<StreamSpaceView> = {
  id: ID,
  definition:
    `Every command accepted after the cluster recovered starts executing on the agent (agent.execute) within ${formatTime(PROMPT_DISPATCH_US)} of its acceptance, `
    + 'unless it is completed or failed without running.',

  onEvent(e: TraceEvent, view: StreamSpaceView): Violation | null {
    if (e.k !== 'agent.execute') return null;
    const life = view.commands.get(e.d?.['command'] as string);
    // Only the first execution: a retry after a lost attempt is redelivery, not dispatch.
    if (life === undefined || life.executions.length !== 1 || !judged(life, view)) return null;
    const waited = e.t - life.acceptedAt;
    if (waited <= PROMPT_DISPATCH_US) return null;
    return {
      invariant: ID,
      time: e.t,
      message: `${life.id} (accepted at ${formatTime(life.acceptedAt)} on ${life.acceptedBy}) waited ${formatTime(waited)} before ${e.p} started it`,
      evidence: [e],
    };
  },

  // A command that never starts produces no event to judge it by: the end of the run does.
  atEnd(view: StreamSpaceView, window: RunWindow): Violation | null {
    for (const life of view.commands.values()) {
      if (!judged(life, view) || life.executions.length > 0 || life.status === 'completed' || life.status === 'failed') continue;
      if (life.acceptedAt + PROMPT_DISPATCH_US > window.endAt) continue; // its second is not over yet
      return {
        invariant: ID,
        time: window.endAt,
        message: `${life.id} (accepted at ${formatTime(life.acceptedAt)} on ${life.acceptedBy}) never started; it is still ${life.status} (written by ${life.statusBy})`,
        evidence: [],
      };
    }
    return null;
  },
};
