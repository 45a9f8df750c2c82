import { formatTime, type Micros, type TraceEvent } from '../../sim-cluster/index.ts';

/**
 * A message from one process to another: sent at `sent`, delivered (or dropped) at `t`. Drawn as an
 * arrow from the sender's lane at its send instant to the receiver's lane at its delivery, so its
 * slope is the latency; a dropped one stops halfway, marked.
 */
export interface MessageArrow {
  sent: Micros;
  t: Micros;
  from: string;
  to: string;
  /** Why the network dropped it (`loss`, `unreachable`, `process-down`, `no-such-process`), or null when delivered. */
  dropped: string | null;
  detail: string;
}

export interface MessageSelection {
  arrows: MessageArrow[];
  /** Messages in the trace, before the cap. */
  total: number;
  /** How many of the arrows were dropped. */
  dropped: number;
}

/** A latency to the microsecond: most are under a millisecond, which formatTime would round away. */
const latency = (us: Micros): string => `${(us / 1000).toFixed(3)} ms`;

/** The send instant a delivery event carries (`sent`, recorded with message events); the delivery itself for traces without it. */
function sentAt(e: TraceEvent): Micros {
  const s = e.d?.['sent'];
  return typeof s === 'number' ? s : e.t;
}

/**
 * The messages of a run traced with `traceMessages`, at most `cap` of them: when there are more,
 * the `cap` consecutive ones around `focus` (the instant the page is about), so that the arrows
 * shown tell a continuous story. Datagrams the network dropped are included (`net.drop`, recorded
 * whatever the tracing); a connection's segments lost with it are not traced, so not drawn.
 */
export function messageArrows(events: readonly TraceEvent[], cap: number, focus: Micros): MessageSelection {
  const ends = new Map<string, { client: string; server: string }>();
  const all: MessageArrow[] = [];
  for (const e of events) {
    const d = e.d ?? {};
    switch (e.k) {
      case 'conn.dial':
        ends.set(String(d['c']), { client: e.p, server: String(d['to']) });
        break;
      case 'net.recv': {
        const c = ends.get(String(d['c']));
        if (c === undefined) break;
        const from = e.p === c.client ? c.server : c.client;
        const sent = sentAt(e);
        all.push({ sent, t: e.t, from, to: e.p, dropped: null, detail: `${from} → ${e.p}: segment ${String(d['n'])} on ${String(d['c'])}, sent ${formatTime(sent)}, received ${formatTime(e.t)}, latency ${latency(e.t - sent)}` });
        break;
      }
      case 'net.datagram': {
        const sent = sentAt(e);
        all.push({ sent, t: e.t, from: String(d['from']), to: e.p, dropped: null, detail: `${String(d['from'])} → ${e.p}: datagram, sent ${formatTime(sent)}, received ${formatTime(e.t)}, latency ${latency(e.t - sent)}` });
        break;
      }
      case 'net.drop':
        all.push({ sent: e.t, t: e.t, from: e.p, to: String(d['to']), dropped: String(d['why']), detail: `${e.p} → ${String(d['to'])}: datagram DROPPED at ${formatTime(e.t)} (${String(d['why'])})` });
        break;
    }
  }
  const count = (arrows: readonly MessageArrow[]): number => arrows.filter((a) => a.dropped !== null).length;
  if (all.length <= cap) return { arrows: all, total: all.length, dropped: count(all) };
  let i = all.findIndex((a) => a.t >= focus);
  if (i === -1) i = all.length;
  const start = Math.min(Math.max(0, i - Math.floor(cap / 2)), all.length - cap);
  const arrows = all.slice(start, start + cap);
  return { arrows, total: all.length, dropped: count(arrows) };
}
