import type { Micros, TraceEvent } from '../../../sim-cluster/index.ts';
import { diagnostics, events } from '../events.ts';

/**
 * A command an agent replica ran inside its readPump, as built (spec §7.5: the handler runs
 * synchronously, its `agent` actor in `executing`): no frame was read on its WebSocket meanwhile,
 * pongs included, so its read deadline, which only a pong read moves, could pass.
 */
export interface ReaderHold {
  replica: string;
  command: string;
  action: string;
  from: Micros;
  /** When readPump read again (the actor left `executing`); null while the handler still runs. */
  to: Micros | null;
  /** The WebSocket left unread (the replica's last `agent.connected`), null before any. */
  conn: string | null;
  /** Commands the API pod wrote to that connection while the reader was held: none of them was read. */
  unread: { command: string; t: Micros }[];
}

/** The holds that ended in a read-deadline failure, found from both ends. */
export interface ReaderHolds {
  /** By the `agent.read-error` (why `read deadline`) the hold caused at the instant it ended. */
  byReadError: Map<TraceEvent, ReaderHold>;
  /** By the `agent.execute` that began it. */
  byExecute: Map<TraceEvent, ReaderHold>;
}

/**
 * Finds every hold of an agent's reader that ended in a read-deadline failure. When the handler
 * returns, readPump checks the deadline before reading anything (k8s-agent.ts `readNext`), so a
 * deadline that passed during the handler fails the read at the very instant the handler ends; a
 * read-deadline failure at any other instant (the replica paused, its pongs lost) is not a hold's.
 * With the `agent-async-handlers` fix the actor never enters `executing`, and nothing is found.
 */
export function readerHolds(trace: readonly TraceEvent[]): ReaderHolds {
  const byReadError = new Map<TraceEvent, ReaderHold>();
  const byExecute = new Map<TraceEvent, ReaderHold>();
  const conns = new Map<string, string>();
  /** Replica → the instant its agent actor entered `executing` (recorded just before `agent.execute`). */
  const entering = new Map<string, Micros>();
  const running = new Map<string, { hold: ReaderHold; execute: TraceEvent }>();
  /** Replica → its last hold that ended, to match the read failure at the same instant. */
  const ended = new Map<string, { hold: ReaderHold; execute: TraceEvent }>();
  for (const e of trace) {
    const state = diagnostics.details(e, 'actor.state');
    if (state !== undefined) {
      if (state.actor !== 'agent') continue;
      if (state.state === 'executing') {
        entering.set(e.p, e.t);
        continue;
      }
      entering.delete(e.p);
      const run = running.get(e.p);
      if (run === undefined) continue;
      run.hold.to = e.t;
      ended.set(e.p, run);
      running.delete(e.p);
      continue;
    }
    const connected = events.details(e, 'agent.connected');
    if (connected !== undefined) {
      conns.set(e.p, connected.conn);
      continue;
    }
    const execute = events.details(e, 'agent.execute');
    if (execute !== undefined) {
      if (entering.get(e.p) !== e.t) continue;
      const hold: ReaderHold = { replica: e.p, command: execute.command, action: execute.action, from: e.t, to: null, conn: conns.get(e.p) ?? null, unread: [] };
      running.set(e.p, { hold, execute: e });
      continue;
    }
    const frame = events.details(e, 'ws.frame-out');
    if (frame !== undefined) {
      for (const { hold } of running.values()) {
        if (hold.conn === frame.conn) for (const command of frame.commands) hold.unread.push({ command, t: e.t });
      }
      continue;
    }
    const failed = diagnostics.details(e, 'agent.read-error');
    if (failed !== undefined) {
      const last = ended.get(e.p);
      if (failed.why === 'read deadline' && last !== undefined && last.hold.to === e.t) {
        byReadError.set(e, last.hold);
        byExecute.set(last.execute, last.hold);
      }
      continue;
    }
    if (e.k === 'proc.crash' || e.k === 'proc.exit' || e.k === 'proc.start') {
      // A handler dies with its process: it no longer holds anything.
      running.delete(e.p);
      entering.delete(e.p);
      conns.delete(e.p);
    }
  }
  return { byReadError, byExecute };
}
