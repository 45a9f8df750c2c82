import { formatTime, type Micros, type TraceEvent } from '../../sim-cluster/index.ts';

/**
 * A message delivered from one process to another. The trace records deliveries (`net.recv` on a
 * connection, `net.datagram`), not sends, so an arrow stands at the delivery instant.
 */
export interface MessageArrow {
  t: Micros;
  from: string;
  to: string;
  detail: string;
}

export interface MessageSelection {
  arrows: MessageArrow[];
  /** Messages in the trace, before the cap. */
  total: number;
}

/**
 * The messages of a run traced with `traceMessages`, at most `cap` of them: when there are more,
 * the `cap` consecutive ones around `focus` (the instant the page is about), so that the arrows
 * shown tell a continuous story.
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
        all.push({ t: e.t, from, to: e.p, detail: `${formatTime(e.t)} ${from} → ${e.p}: segment ${String(d['n'])} on ${String(d['c'])}` });
        break;
      }
      case 'net.datagram':
        all.push({ t: e.t, from: String(d['from']), to: e.p, detail: `${formatTime(e.t)} ${String(d['from'])} → ${e.p}: datagram` });
        break;
    }
  }
  if (all.length <= cap) return { arrows: all, total: all.length };
  let i = all.findIndex((a) => a.t >= focus);
  if (i === -1) i = all.length;
  const start = Math.min(Math.max(0, i - Math.floor(cap / 2)), all.length - cap);
  return { arrows: all.slice(start, start + cap), total: all.length };
}
