import { basename } from 'node:path';
import { formatTime } from '../../sim-cluster/index.ts';
import { formatSchedule } from '../../harness/report.ts';
import { bugWhat, incompleteTriage, selfCheckLines, unfinishedWhat, type BugRow } from '../campaign/summary.ts';
import { escapeHtml as esc } from '../html-escape.ts';
import type { CampaignIndex } from './index-data.ts';
import { progressSvg } from './progress-chart.ts';

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;max-width:1200px;margin:1.5em auto;padding:0 1em;color:#222}
h1{font-size:20px;margin:0 0 .3em}h2{border-top:2px solid #ddd;padding-top:.5em;margin-top:1.6em;font-size:17px}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px;vertical-align:top;text-align:left}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12px;background:#f4f4f4;padding:0 3px}
pre{background:#f7f7f7;padding:6px 8px;font-size:12px;overflow-x:auto;margin:4px 0}
.figures{display:flex;flex-wrap:wrap;gap:6px 22px;margin:.5em 0}.figures div{min-width:8em}.figures b{display:block;font-size:20px}
.ok{color:#1b7a2b}.bad{color:#c62828}.muted{color:#666}
.bug{border:1px solid #ddd;border-left:4px solid #c62828;padding:6px 10px;margin:10px 0}.bug h3{margin:0 0 4px;font-size:15px}
a:focus,summary:focus{outline:2px solid #1565c0;outline-offset:2px}
svg{border:1px solid #eee;background:#fff;max-width:100%;height:auto}svg .g{stroke:#eee}svg .a{font-size:10px;fill:#666}
svg .t{font-size:12px;font-weight:600}svg .l{font-size:11px}`;

const num = (n: number): string => n.toLocaleString('en-US');
const cell = (n: number): string => `<td class="n">${num(n)}</td>`;

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** A link to a trace file's timeline page when one was written, and its replay command. */
function runLinks(file: string, index: CampaignIndex): string {
  const page = index.files.get(file)?.explainPage ?? null;
  const explain = page === null ? '' : ` · <a href="${esc(basename(page))}">timeline</a>`;
  return `<code>npx hasim replay ${esc(file)}</code> · <a href="${esc(basename(file))}">trace file</a>${explain}`;
}

function spaceSection(x: CampaignIndex): string {
  const s = x.space;
  const rows: Array<[string, string]> = [
    ['system', x.system],
    ['profile', s.profile],
    ['deployment', s.deployment ?? '(none: the profile\'s configuration)'],
    ['fixes added', (s.fixes ?? []).join(', ') || 'none'],
    ['fault kinds', s.kinds === undefined ? 'every kind drawn by default (not those drawn only when named)' : s.kinds.join(', ') || 'none'],
    ['swarm schedules', s.swarm === false ? 'off' : 'on'],
    ['most faults', String(s.maxFaults ?? 8)],
    ['invariants', x.invariants.map((i) => i.invariant).join(', ')],
    ['seeds', `${x.range.total === null ? 'until the budget' : num(x.range.total)} from ${x.range.start}${x.range.shard === '1/1' ? '' : `, shard ${x.range.shard}`}`],
    ['configuration overrides', s.config === undefined ? 'none' : JSON.stringify(s.config)],
    ['digest', x.digest],
  ];
  return `<h2 id="space">Case space</h2><table><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</tbody></table>`;
}

function figuresSection(x: CampaignIndex): string {
  const t = x.totals;
  const state = t.interrupted ? ' <span class="bad">(interrupted)</span>' : t.budgetExhausted ? ' <span class="muted">(budget reached)</span>' : '';
  const figure = (value: string, label: string, cls = ''): string => `<div><b class="${cls}">${value}</b>${esc(label)}</div>`;
  const bugs = x.bugs === null ? figure('—', 'distinct bugs (not triaged)') : figure(num(x.bugs.length), 'distinct bugs', x.bugs.length > 0 ? 'bad' : 'ok');
  const chart = t.seedsRun === 0 || x.progress.length === 0 ? '' : progressSvg('Found within the first n seeds', t.seedsRun, x.progress);
  return `<h2 id="progress">Progress${state}</h2><div class="figures">`
    + figure(num(t.seedsRun), 'seeds run') + figure(num(t.passed), 'passed', 'ok') + figure(num(t.violating), 'violating', t.violating > 0 ? 'bad' : 'ok') + bugs
    + figure(t.seedsPerSecond.toFixed(1), 'seeds per second') + figure(num(Math.round(t.simSecondsPerSecond)), 'simulated s per wall s') + figure(duration(t.elapsedMs), 'wall time')
    + `</div>${chart}`;
}

function bugCard(b: BugRow, x: CampaignIndex): string {
  const schedule = x.files.get(b.example.file)?.schedule;
  const at = b.example.time === null ? '' : ` at ${formatTime(b.example.time)}`;
  const seeds = `${b.seeds.join(', ')}${b.count > b.seeds.length ? ', …' : ''}`;
  return `<div class="bug" id="bug-${esc(b.id)}"><h3><code>${esc(b.id)}</code> ${esc(b.invariant)}: ${num(b.count)} seed${b.count === 1 ? '' : 's'}</h3>`
    + `<div>${esc(bugWhat(b))}</div>`
    + `<div class="muted">signature <code>${esc(b.signature)}</code>; seeds ${esc(seeds)}</div>`
    + `<div>minimal case, seed ${b.example.seed}${esc(at)}: ${esc(b.example.message)}</div>`
    + (schedule === undefined ? '' : `<details><summary>minimal schedule (${schedule.length} fault${schedule.length === 1 ? '' : 's'})</summary><pre>${esc(formatSchedule(schedule))}</pre></details>`)
    + `<div>${runLinks(b.example.file, x)}</div></div>`;
}

function bugsSection(x: CampaignIndex): string {
  if (x.bugs === null) return '<h2 id="bugs">Distinct bugs</h2><p class="muted">Not triaged (<code>--no-triage</code>): one example per invariant below.</p>';
  const head = `<h2 id="bugs">Distinct bugs (${x.bugs.length})</h2>`;
  const intro = x.bugs.length === 0 ? '<p class="ok">No seed failed.</p>'
    : '<p class="muted">Failing seeds grouped by signature: the invariant, the fault kinds of the minimal case, and the design fixes that remove it (docs/triage.md).</p>';
  const unfinished = (x.triage?.unfinished ?? []).map((u) => `<li>unfinished: ${esc(unfinishedWhat(u))}</li>`);
  const unclassified = x.unclassified.map((u) => `<li>unclassified: ${esc(u.invariant)}, ${num(u.count)} seeds (${u.seeds.join(', ')}${u.count > u.seeds.length ? ', …' : ''}) that no bug above accounts for</li>`);
  const incomplete = incompleteTriage(x.triage);
  const notes = [...unfinished, ...unclassified, ...(incomplete === null ? [] : [`<li>${esc(incomplete)}</li>`])];
  return head + intro + x.bugs.map((b) => bugCard(b, x)).join('') + (notes.length === 0 ? '' : `<ul>${notes.join('')}</ul>`);
}

function invariantsSection(x: CampaignIndex): string {
  const rows = x.invariants.map((i) => {
    const ex = i.row?.example ?? null;
    const share = x.totals.seedsRun === 0 ? '' : `${((100 * i.runs) / x.totals.seedsRun).toFixed(1)}%`;
    const shrink = ex === null ? '' : ex.shrunk === null ? 'unshrunk' : `${ex.shrunk.faultsFound}→${ex.shrunk.faultsMinimal}`;
    const example = ex === null ? '<td class="ok">held on every seed</td>' : `<td>seed ${ex.seed}, faults ${shrink}: ${esc(ex.message)}<br>${runLinks(ex.file, x)}</td>`;
    return `<tr><td>${esc(i.invariant)}</td>${cell(i.runs)}<td class="n">${share}</td>${cell(i.bugs)}${example}</tr>`;
  });
  return `<h2 id="invariants">Per invariant</h2><table><thead><tr><th>invariant</th><th>seeds violating</th><th>share</th><th>distinct bugs</th><th>example (lowest failing seed)</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function deploymentsSection(x: CampaignIndex): string {
  const violated = x.invariants.filter((i) => i.runs > 0).map((i) => i.invariant);
  const head = ['deployment', 'seeds', 'failing', ...violated.map((v) => `failing ${v}`)];
  const rows = x.deployments.map((d) => {
    const failing = Object.values(d.failing).reduce((a, b) => a + b, 0);
    return `<tr><td>${esc(d.name)}</td>${cell(d.seeds)}${cell(failing)}${violated.map((v) => cell(d.failing[v] ?? 0)).join('')}</tr>`;
  });
  return `<h2 id="deployments">Per deployment</h2><table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function selfCheckSection(x: CampaignIndex): string {
  const lines = selfCheckLines(x.selfCheck.every, x.selfCheck.reran, x.selfCheck.mismatches).map((l) => l.trim());
  const cls = x.selfCheck.mismatches.length === 0 ? 'ok' : 'bad';
  return `<h2 id="self-check">Determinism self-check</h2><p class="${cls}">${esc(lines[0]!)}</p>${lines.length > 1 ? `<pre>${esc(lines.slice(1).join('\n'))}</pre>` : ''}`;
}

/**
 * A campaign's findings directory as one page, like a test store's index: the case space, the
 * progress figures, every distinct bug with its signature, counts, minimal schedule, replay command
 * and timeline page, per-invariant and per-deployment tables, and the self-check. Inline CSS and
 * SVG, no script: it opens offline, and the same campaign result gives the same bytes.
 */
export function renderIndexHtml(x: CampaignIndex): string {
  const verdict = x.totals.violating === 0 && x.selfCheck.mismatches.length === 0
    ? '<p class="ok">Nothing found.</p>'
    : `<p class="bad">${num(x.totals.violating)} of ${num(x.totals.seedsRun)} seeds failed${x.selfCheck.mismatches.length > 0 ? `; ${x.selfCheck.mismatches.length} determinism mismatches` : ''}.</p>`;
  const nav = [['space', 'case space'], ['progress', 'progress'], ['bugs', 'bugs'], ['invariants', 'invariants'], ['deployments', 'deployments'], ['self-check', 'self-check']]
    .map(([id, text]) => `<a href="#${id}">${text}</a>`).join(' · ');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(x.header)}</title><style>${STYLE}</style></head>
<body>
<h1>${esc(x.header)}</h1>
${verdict}
<nav>${nav}</nav>
${spaceSection(x)}
${figuresSection(x)}
${bugsSection(x)}
${invariantsSection(x)}
${deploymentsSection(x)}
${selfCheckSection(x)}
</body></html>
`;
}
