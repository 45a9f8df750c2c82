import { formatTime, type Micros, type TraceEvent } from '../../sim-cluster/index.ts';
import type { FaultRecord } from '../../faults/fault-kind.ts';
import { formatBound } from '../../invariants/monitor.ts';
import { formatSchedule } from '../../harness/report.ts';
import type { Verdict } from '../../harness/run-case.ts';
import { faultBands } from './fault-bands.ts';
import { escapeHtml, LABEL_WIDTH, MIN_WIDTH_PX, PAD, renderFigure, TICK_MIN_PX, TICK_STEPS, type Mark } from './figure.ts';
import { messageArrows } from './messages.ts';
import type { Narrated } from '../../contract/explain.ts';
import type { AnySystem } from '../../contract/system.ts';
import { explainerOf, runTimeline } from './timeline.ts';

export interface ExplainInput {
  /** The system that ran: its Explainer draws the lanes and tells the key events. */
  system: AnySystem;
  title: string;
  subtitle?: string;
  /** The run's kept trace; with `net.recv`/`net.datagram` events (traceMessages) the page can show message arrows. */
  events: readonly TraceEvent[];
  schedule: readonly FaultRecord[];
  /** When each fault's effects end (the system's fault kinds know). */
  faultEnd: (fault: FaultRecord) => Micros;
  verdict: Verdict;
  /** Extra lines under the verdict (how it compares with an expectation, the seed...). */
  notes?: readonly string[];
  /** Most message arrows drawn (default 2000); the page says how many it left out. */
  messageCap?: number;
}

const DEFAULT_MESSAGE_CAP = 2000;
/** Horizontal scales offered, in pixels per simulated second. */
const SCALES = [0.5, 1, 2, 4, 8, 16, 32, 64, 128];
/** The initial scale is the largest that fits the run in about this many pixels. */
const FIT_PX = 1400;

/** When the run ends on the page: its last event, or the violation if found later (an end-of-run check). */
function runEnd(events: readonly TraceEvent[], verdict: Verdict): Micros {
  const last = events.at(-1)?.t ?? verdict.endAt;
  return Math.max(last, verdict.violation?.time ?? 0);
}

function marksFor(events: readonly TraceEvent[], verdict: Verdict, end: Micros): Mark[] {
  const marks: Mark[] = [
    { t: verdict.healAt, label: 'heal', detail: `${formatTime(verdict.healAt)}: heal, every fault stops`, tone: 'heal' },
    { t: verdict.healAt + verdict.boundUs, label: 'bound', detail: `heal + recovery bound: ${formatBound(verdict.bound)}`, tone: 'bound' },
  ];
  if (verdict.recoveryUs !== null) {
    marks.push({ t: verdict.healAt + verdict.recoveryUs, label: 'healthy', detail: `healthy ${formatTime(verdict.recoveryUs)} after the heal`, tone: 'healthy' });
  }
  const v = verdict.violation;
  if (v !== null) marks.push({ t: v.time, label: `✖ ${v.invariant}`, detail: `${formatTime(v.time)} VIOLATION ${v.invariant}: ${v.message}`, tone: 'violation' });
  if (verdict.modelFailure !== null) {
    const at = events.find((e) => e.k === 'sim.model-failure')?.t ?? end;
    marks.push({ t: at, label: '✖ model failure', detail: `${formatTime(at)} model failure: ${verdict.modelFailure}`, tone: 'violation' });
  }
  return marks.filter((m) => m.t <= end);
}

function initialScale(end: Micros): number {
  const seconds = Math.max(1, end / 1e6);
  return [...SCALES].reverse().find((k) => k * seconds <= FIT_PX) ?? SCALES[0]!;
}

function verdictHtml(v: Verdict): string {
  const outcome = v.outcome === 'pass' ? '<b class="ok">pass</b>' : `<b class="bad">${escapeHtml(v.outcome)}</b>`;
  const what = v.violation !== null ? ` at ${formatTime(v.violation.time)}: ${escapeHtml(v.violation.message)}`
    : v.modelFailure !== null ? `: ${escapeHtml(v.modelFailure)}` : '';
  const recovery = v.recoveryUs === null ? 'never healthy after the heal' : `healthy ${formatTime(v.recoveryUs)} after the heal`;
  return `<p class="verdict">Outcome ${outcome}${what}</p>`
    + `<p class="facts">heal at ${formatTime(v.healAt)}; ${recovery}; ${escapeHtml(formatBound(v.bound))}; trace hash <code>${v.hash}</code></p>`;
}

function keyEventsHtml(entries: readonly Narrated[]): string {
  const rows = entries.map((e) => `<tr class="${e.topic}"><td>${formatTime(e.t)}</td><td>${escapeHtml(e.p)}</td><td>${escapeHtml(e.what)}</td></tr>`);
  return `<details open><summary>Key events (${entries.length})</summary><table class="events"><tbody>${rows.join('')}</tbody></table></details>`;
}

const LEGEND: readonly [string, string][] = [
  ['up', 'up'], ['leader', 'leader'], ['follower', 'follower (up, not leading)'], ['paused', 'paused'], ['crashed', 'crashed'],
  ['restarting', 'restarting'], ['exited', 'exited'], ['none', 'nobody holds it'], ['conflict', 'held by two pods'], ['down', 'Redis down'],
];

const STYLE = `
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 4px}.sub{margin:0 0 8px;color:#444;max-width:110ch}
.verdict{margin:4px 0}.facts{margin:4px 0;color:#555}.ok{color:#1b7a2b}.bad{color:#c62828}
.controls{margin:10px 0;display:flex;gap:18px;align-items:center;flex-wrap:wrap}.note{color:#666}
.legend span{display:inline-block;margin-right:10px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px;border:1px solid #0003}
.fig{display:flex;border:1px solid #ccc}.scroll{overflow-x:auto;flex:1}
svg text{font:11px system-ui,sans-serif}.lane-label{text-anchor:end}.lane-label.process{font-weight:600}
.lane-bg{fill:#f6f6f6}.seg{stroke:#fff;stroke-width:.5}.seg-label{pointer-events:none;fill:#111}
.up{fill:#8fd19e;background:#8fd19e}.leader{fill:#2e7d32;background:#2e7d32}.follower{fill:#c5e8cc;background:#c5e8cc}
.paused{fill:#ffb74d;background:#ffb74d}.crashed{fill:#e57373;background:#e57373}.restarting{fill:#ce93d8;background:#ce93d8}
.exited{fill:#bdbdbd;background:#bdbdbd}.none{fill:#fff;stroke:#999;stroke-dasharray:3 2;background:#fff}
.conflict{fill:#d32f2f;background:#d32f2f}.down{fill:#9e9e9e;background:#9e9e9e}.unknown{fill:#e0e0e0}
.leader+.seg-label,.conflict+.seg-label{fill:#fff}
.c0{fill:#64b5f6}.c1{fill:#ffd54f}.c2{fill:#4db6ac}.c3{fill:#f06292}.c4{fill:#9575cd}.c5{fill:#aed581}.c6{fill:#ff8a65}.c7{fill:#90a4ae}
.tick line{stroke:#e4e4e4}.tick text{fill:#777}
.band-area{fill:#e53935;fill-opacity:.09;stroke:#e53935;stroke-opacity:.35;pointer-events:none}.band-label{fill:#b71c1c;font-weight:600}
.marker{stroke:#fff;stroke-width:1}.marker.fault{fill:#b71c1c}.marker.process{fill:#424242}.marker.leadership{fill:#f9a825}
.marker.connection{fill:#1565c0}.marker.routing{fill:#00838f}.marker.command{fill:#6a1b9a}.marker.recovery{fill:#2e7d32}.marker.failure{fill:#d50000;r:5}
#arrows line{stroke:#1e88e5;stroke-opacity:.55;stroke-width:1;marker-end:url(#head)}.head{fill:#1e88e5}
.mark line{stroke-width:1.5;stroke-dasharray:5 3}.mark text{font-weight:600}
.mark.heal line{stroke:#1565c0}.mark.heal text{fill:#1565c0}.mark.bound line{stroke:#757575}.mark.bound text{fill:#757575}
.mark.healthy line{stroke:#2e7d32}.mark.healthy text{fill:#2e7d32}
.mark.violation line{stroke:#d50000;stroke-width:2.5;stroke-dasharray:none}.mark.violation text{fill:#d50000}
table.events{border-collapse:collapse;margin-top:6px}.events td{padding:1px 10px 1px 0;vertical-align:top;white-space:nowrap}
.events td:last-child{white-space:normal}.events tr.failure{color:#d50000;font-weight:600}.events tr.fault{color:#b71c1c}.events tr.command{color:#6a1b9a}
`;

/** Zoom (re-lays out every element from its data-* instants) and the message-arrow switch; no network, no libraries. */
const SCRIPT = `
(function(){
  var svg=document.getElementById('timeline'),end=+svg.dataset.end,steps=${JSON.stringify(TICK_STEPS)};
  function layout(k){
    var f=k/1e6,r=function(v){return Math.round(v*10)/10};
    svg.setAttribute('width',Math.ceil(end*f)+${PAD * 2});
    svg.querySelectorAll('[data-a]').forEach(function(el){var a=+el.dataset.a,b=+el.dataset.b;el.setAttribute('x',r(a*f));el.setAttribute('width',r(Math.max(${MIN_WIDTH_PX},(b-a)*f)))});
    svg.querySelectorAll('[data-t]').forEach(function(el){var v=r(+el.dataset.t*f+(+el.dataset.dx||0));
      if(el.tagName==='line'){el.setAttribute('x1',v);el.setAttribute('x2',v)}else if(el.tagName==='circle'){el.setAttribute('cx',v)}else{el.setAttribute('x',v)}});
    svg.querySelectorAll('text[data-span]').forEach(function(el){el.style.display=(+el.dataset.span*f>=+el.dataset.w)?'':'none'});
    var step=steps.find(function(s){return s*k>=${TICK_MIN_PX}})||steps[steps.length-1];
    svg.querySelectorAll('.tick').forEach(function(el){el.style.display=(+el.dataset.s%step===0)?'':'none'});
  }
  var zoom=document.getElementById('zoom');
  zoom.addEventListener('change',function(){layout(+zoom.value)});
  layout(+zoom.value);
  var box=document.getElementById('show-arrows');
  box.addEventListener('change',function(){document.getElementById('arrows').style.display=box.checked?'':'none'});
})();
`;

/**
 * A self-contained HTML page explaining one run: one lane per process with its states (and, for
 * agent replicas, leadership and the pod their WebSocket uses), lanes for the Lease holder, the
 * pods holding the agent's connection and the Redis routing key, shaded fault intervals, the heal,
 * the bound and the violation as vertical lines, hover details on everything, key events as a
 * table, and message arrows on demand. Inline SVG, CSS and script only: it opens offline.
 */
export function renderExplainHtml(input: ExplainInput): string {
  const { events, schedule, verdict } = input;
  const end = runEnd(events, verdict);
  const timeline = runTimeline(input.system, events, verdict);
  const lanes = explainerOf(input.system).lanes(events, end);
  const evidence = verdict.violation?.evidence[0];
  const markers = evidence === undefined ? timeline
    : [...timeline, { t: verdict.violation!.time, p: evidence.p, topic: 'failure' as const, what: `VIOLATION ${verdict.violation!.invariant}: ${verdict.violation!.message}` }];
  // The arrows shown are those around where the story starts: the violated command, else the first fault.
  const focus = timeline.find((e) => e.topic === 'command')?.t ?? schedule[0]?.at ?? verdict.violation?.time ?? 0;
  const cap = input.messageCap ?? DEFAULT_MESSAGE_CAP;
  const messages = messageArrows(events, cap, focus);
  const k = initialScale(end);
  // A run halted by a violation never reached its later faults: they are in the schedule, not on the timeline.
  const bands = faultBands(schedule, input.faultEnd, events, verdict.healAt).filter((b) => b.from <= end).map((b) => ({ ...b, to: Math.min(b.to, end) }));
  const figure = renderFigure({ lanes, bands, markers, arrows: messages.arrows, marks: marksFor(events, verdict, end), end, pxPerSecond: k });

  const arrowsNote = messages.total === 0
    ? 'no message events in this trace (record them with message tracing on)'
    : messages.total > messages.arrows.length
      ? `${messages.arrows.length} of ${messages.total} messages, ${formatTime(messages.arrows[0]!.t)} to ${formatTime(messages.arrows.at(-1)!.t)}; drawn at delivery (sends are not traced)`
      : `${messages.total} messages, drawn at delivery (sends are not traced)`;
  const scaleOptions = SCALES.map((s) => `<option value="${s}"${s === k ? ' selected' : ''}>${s} px/s</option>`).join('');
  const legend = LEGEND.map(([cls, text]) => `<span><i class="${cls}"></i>${text}</span>`).join('');

  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(input.title)}</h1>
${input.subtitle === undefined ? '' : `<p class="sub">${escapeHtml(input.subtitle)}</p>`}
${verdictHtml(verdict)}
${(input.notes ?? []).map((n) => `<p class="facts">${escapeHtml(n)}</p>`).join('\n')}
<details><summary>Fault schedule (${schedule.length})</summary><pre>${escapeHtml(formatSchedule(schedule))}</pre></details>
<div class="controls">
<label>Scale <select id="zoom">${scaleOptions}</select></label>
<label><input type="checkbox" id="show-arrows"${messages.total === 0 ? ' disabled' : ''}> message arrows</label><span class="note">${escapeHtml(arrowsNote)}</span>
</div>
<div class="legend">${legend}<span class="note">red bands: faults in effect; hover anything for details</span></div>
<div class="fig" style="min-height:${figure.height}px"><div style="width:${LABEL_WIDTH}px;flex:none">${figure.labels}</div><div class="scroll">${figure.timeline}</div></div>
${keyEventsHtml(timeline)}
<script>${SCRIPT}</script>
</body></html>
`;
}
