import { formatTime, type Micros, type TraceEvent } from '../../sim-cluster/index.ts';
import type { FaultRecord } from '../../faults/fault-kind.ts';
import { formatBound } from '../../invariants/monitor.ts';
import { formatSchedule } from '../../harness/report.ts';
import type { Verdict } from '../../harness/run-case.ts';
import { faultBands } from './fault-bands.ts';
import { escapeHtml } from '../html-escape.ts';
import { AXIS, LABEL_WIDTH, MIN_WIDTH_PX, PAD, renderFigure, type Mark } from './figure.ts';
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
/**
 * Horizontal scales offered, in pixels per simulated second: up to 2 px per millisecond, where a
 * message arrow's slope shows the usual latency of a link (0.2-5 ms) and not only held-back messages.
 */
const SCALES = [0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048];
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
  return `<details open id="key-events"><summary>Key events (${entries.length})</summary><table class="events"><tbody>${rows.join('')}</tbody></table></details>`;
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
.fig{display:flex;border:1px solid #ccc}.scroll{overflow-x:auto;flex:1;cursor:grab}
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
#arrows line.dropped{stroke:#d50000;stroke-opacity:.8;stroke-dasharray:3 2;marker-end:url(#cross)}.cross{stroke:#d50000;stroke-width:1.5}
#tip{position:absolute;max-width:60ch;background:#222;color:#fff;padding:4px 7px;border-radius:3px;font-size:12px;z-index:2;pointer-events:none}
[tabindex]:focus{outline:2px solid #1565c0;outline-offset:1px}circle:focus,line:focus,rect:focus{stroke:#1565c0;stroke-width:3}
h2{font-size:15px;margin:14px 0 4px}
.mark line{stroke-width:1.5;stroke-dasharray:5 3}.mark text{font-weight:600}
.mark.heal line{stroke:#1565c0}.mark.heal text{fill:#1565c0}.mark.bound line{stroke:#757575}.mark.bound text{fill:#757575}
.mark.healthy line{stroke:#2e7d32}.mark.healthy text{fill:#2e7d32}
.mark.violation line{stroke:#d50000;stroke-width:2.5;stroke-dasharray:none}.mark.violation text{fill:#d50000}
table.events{border-collapse:collapse;margin-top:6px}.events td{padding:1px 10px 1px 0;vertical-align:top;white-space:nowrap}
.events td:last-child{white-space:normal}.events tr.failure{color:#d50000;font-weight:600}.events tr.fault{color:#b71c1c}.events tr.command{color:#6a1b9a}
`;

/**
 * Zoom and pan, the tooltip, and the message-arrow switch; no network, no libraries. Zoom changes the
 * level (a scale of SCALES), re-lays out every element from its data-* instants keeping the instant
 * under the pointer (or the middle) in place, and shows that level's ticks; the select, the − and +
 * buttons, + and − keys on the figure, and Ctrl (or ⌘) with the wheel all zoom. Dragging pans, as do
 * the arrow keys on the focused figure. Everything with a tooltip that Tab reaches (key events,
 * faults, the marks) shows it while focused, so no mouse is needed.
 */
const SCRIPT = `
(function(){
  var svg=document.getElementById('timeline'),end=+svg.dataset.end,scales=JSON.parse(svg.dataset.scales),level=+svg.dataset.level;
  var scroll=document.getElementById('scroll'),zoom=document.getElementById('zoom'),tip=document.getElementById('tip');
  function layout(){
    var f=scales[level]/1e6,r=function(v){return Math.round(v*10)/10};
    svg.setAttribute('width',Math.ceil(end*f)+${PAD * 2});
    svg.querySelectorAll('[data-a]').forEach(function(el){var a=+el.dataset.a,b=+el.dataset.b;el.setAttribute('x',r(a*f));el.setAttribute('width',r(Math.max(${MIN_WIDTH_PX},(b-a)*f)))});
    svg.querySelectorAll('[data-t]').forEach(function(el){var v=r(+el.dataset.t*f+(+el.dataset.dx||0));
      if(el.tagName==='line'){el.setAttribute('x1',el.dataset.t1===undefined?v:r(+el.dataset.t1*f));el.setAttribute('x2',v)}else if(el.tagName==='circle'){el.setAttribute('cx',v)}else{el.setAttribute('x',v)}});
    svg.querySelectorAll('text[data-span]').forEach(function(el){el.style.display=(+el.dataset.span*f>=+el.dataset.w)?'':'none'});
  }
  var grid=document.getElementById('grid'),table=JSON.parse(grid.dataset.ticks);
  function ticks(){
    var f=scales[level]/1e6,ns=svg.namespaceURI;
    grid.replaceChildren();
    table[level].forEach(function(s){
      var t=Math.round(s*1e6),x=Math.round(t*f*10)/10,g=document.createElementNS(ns,'g'),l=document.createElementNS(ns,'line'),tx=document.createElementNS(ns,'text');
      g.setAttribute('class','tick');
      l.setAttribute('data-t',t);l.setAttribute('x1',x);l.setAttribute('x2',x);l.setAttribute('y1',${AXIS - 4});l.setAttribute('y2',grid.dataset.y2);
      tx.setAttribute('data-t',t);tx.setAttribute('data-dx',2);tx.setAttribute('x',Math.round((t*f+2)*10)/10);tx.setAttribute('y',12);tx.setAttribute('class','tick-label');
      tx.textContent=(+s.toPrecision(6))+'s';
      g.appendChild(l);g.appendChild(tx);grid.appendChild(g);
    });
  }
  function setLevel(n,anchor){
    n=Math.max(0,Math.min(scales.length-1,n));if(n===level)return;
    var ax=anchor===undefined?scroll.clientWidth/2:anchor,t=(scroll.scrollLeft+ax-${PAD})/scales[level];
    level=n;zoom.value=String(n);ticks();layout();scroll.scrollLeft=t*scales[level]+${PAD}-ax;
  }
  zoom.addEventListener('change',function(){setLevel(+zoom.value)});
  document.getElementById('zoom-in').addEventListener('click',function(){setLevel(level+1)});
  document.getElementById('zoom-out').addEventListener('click',function(){setLevel(level-1)});
  scroll.addEventListener('wheel',function(e){if(!e.ctrlKey&&!e.metaKey)return;e.preventDefault();setLevel(level+(e.deltaY<0?1:-1),e.clientX-scroll.getBoundingClientRect().left)},{passive:false});
  scroll.addEventListener('keydown',function(e){if(e.key==='+'||e.key==='=')setLevel(level+1);else if(e.key==='-')setLevel(level-1)});
  var drag=null;
  scroll.addEventListener('pointerdown',function(e){if(e.button===0&&e.target.closest('a')===null)drag={x:e.clientX,s:scroll.scrollLeft}});
  window.addEventListener('pointermove',function(e){if(drag!==null)scroll.scrollLeft=drag.s-(e.clientX-drag.x)});
  window.addEventListener('pointerup',function(){drag=null});
  function show(el){
    var t=el.querySelector('title');if(t===null)return;
    tip.textContent=t.textContent;tip.hidden=false;
    var b=el.getBoundingClientRect(),left=Math.max(4,Math.min(b.left,document.documentElement.clientWidth-tip.offsetWidth-4));
    tip.style.left=(window.scrollX+left)+'px';tip.style.top=(window.scrollY+b.bottom+6)+'px';
  }
  svg.addEventListener('focusin',function(e){show(e.target)});
  svg.addEventListener('focusout',function(){tip.hidden=true});
  var box=document.getElementById('show-arrows');
  box.addEventListener('change',function(){document.getElementById('arrows').style.display=box.checked?'':'none'});
  layout();
})();
`;

/**
 * The violated command's whole life: the key events the system tells under the `command` topic,
 * which are those of the command the violation is about (an Explainer narrates that one's life).
 * Null when there are none (a violation about no command).
 */
function commandLife(entries: readonly Narrated[]): Narrated[] | null {
  const life = entries.filter((e) => e.topic === 'command');
  return life.length === 0 ? null : life;
}

function commandLifeHtml(life: readonly Narrated[]): string {
  const rows = life.map((e) => `<tr class="${e.topic}"><td>${formatTime(e.t)}</td><td>${escapeHtml(e.p)}</td><td>${escapeHtml(e.what)}</td></tr>`);
  return `<h2 id="command-life">The violated command's life</h2><table class="events"><tbody>${rows.join('')}</tbody></table>`;
}

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
  const level = SCALES.indexOf(initialScale(end));
  const life = verdict.violation === null ? null : commandLife(timeline);
  // A run halted by a violation never reached its later faults: they are in the schedule, not on the timeline.
  const bands = faultBands(schedule, input.faultEnd, events, verdict.healAt).filter((b) => b.from <= end).map((b) => ({ ...b, to: Math.min(b.to, end) }));
  const figure = renderFigure({ lanes, bands, markers, arrows: messages.arrows, marks: marksFor(events, verdict, end), end, scales: SCALES, level, violationHref: life === null ? '#key-events' : '#command-life' });

  const dropped = messages.dropped === 0 ? '' : `, ${messages.dropped} dropped (red, stopped halfway)`;
  const arrowsNote = messages.total === 0
    ? 'no message events in this trace (record them with message tracing on)'
    : messages.total > messages.arrows.length
      ? `${messages.arrows.length} of ${messages.total} messages, ${formatTime(messages.arrows[0]!.t)} to ${formatTime(messages.arrows.at(-1)!.t)}${dropped}; each from its send to its delivery`
      : `${messages.total} messages${dropped}; each from its send to its delivery`;
  const scaleOptions = SCALES.map((s, i) => `<option value="${i}"${i === level ? ' selected' : ''}>${s} px/s</option>`).join('');
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
<span><button type="button" id="zoom-out" aria-label="zoom out">−</button> <label>Scale <select id="zoom">${scaleOptions}</select></label> <button type="button" id="zoom-in" aria-label="zoom in">+</button></span>
<label><input type="checkbox" id="show-arrows"${messages.total === 0 ? ' disabled' : ''}> message arrows</label><span class="note">${escapeHtml(arrowsNote)}</span>
</div>
<div class="legend">${legend}<span class="note">red bands: faults in effect; hover anything, or Tab to it, for details; drag or arrow keys to pan, Ctrl+wheel or +/− to zoom</span></div>
<div class="fig" style="min-height:${figure.height}px"><div style="width:${LABEL_WIDTH}px;flex:none">${figure.labels}</div><div class="scroll" id="scroll" tabindex="0" aria-label="timeline: arrow keys pan, + and − zoom">${figure.timeline}</div></div>
<div id="tip" role="tooltip" hidden></div>
${life === null ? '' : commandLifeHtml(life)}
${keyEventsHtml(timeline)}
<script>${SCRIPT}</script>
</body></html>
`;
}
