import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runTask } from '../campaign/tasks.ts';
import { fuzzCommand } from '../fuzz-command.ts';
import { renderIndexHtml } from './html.ts';
import { campaignIndex } from './index-data.ts';
import { exampleIndexSource } from './testing/example.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'hasim-index-'));

/** Runs the campaign's tasks in this thread: no worker pool to start for two seeds. */
const inline = () => ({ concurrency: 1, run: async (task: Parameters<typeof runTask>[0]) => runTask(task), close: async () => undefined });

describe('the campaign index', () => {
  test('its data: every invariant checked, seeds per deployment, findings as they grew', () => {
    const index = campaignIndex(exampleIndexSource(tmp()));
    expect(index.invariants.map((i) => [i.invariant, i.runs, i.bugs])).toEqual([['no-split-brain', 4, 1], ['no-lost-commands', 12, 1], ['bounded-recovery', 0, 0]]);
    // The swarm's seeds, each counted under the deployment it drew, add up to the campaign.
    expect(index.deployments.reduce((n, d) => n + d.seeds, 0)).toBe(60);
    expect(index.deployments.reduce((n, d) => n + (d.failing['no-lost-commands'] ?? 0), 0)).toBe(12);
    const bugs = index.progress.find((s) => s.label === 'distinct bugs')!;
    expect(bugs.steps).toEqual([[4, 1], [8, 2]]);
    expect(index.progress.find((s) => s.label === 'failing seeds, no-lost-commands')!.steps.at(-1)).toEqual([59, 12]);
  });

  test('its page: each bug with its replay command and timeline link, offline, the same bytes twice', () => {
    const dir = tmp();
    const html = renderIndexHtml(campaignIndex(exampleIndexSource(dir)));
    expect(html).toBe(renderIndexHtml(campaignIndex(exampleIndexSource(dir))));
    expect(html).toContain('<div class="bug" id="bug-a1b2c3">');
    expect(html).toContain(`<code>npx hasim replay ${join(dir, 'no-lost-commands-x-seed-3.json')}</code> · <a href="no-lost-commands-x-seed-3.json">trace file</a> · <a href="explain.html">timeline</a>`);
    // A bug whose page could not be written is listed without the link.
    expect(html).toContain('<a href="no-split-brain-x-seed-7.json">trace file</a></div>');
    expect(html).toContain('<td>bounded-recovery</td><td class="n">0</td>');
    expect(html).toContain('determinism self-check: 2 seeds rerun, 0 mismatches');
    expect(html).not.toMatch(/(src|href)="https?:|<script|<link/);
  });

  test('hasim fuzz --html writes index.html and a timeline page for each counterexample it links', async () => {
    const out = tmp();
    const err: string[] = [];
    const code = await fuzzCommand(['--profile', 'streamspace-v2', '--deployment', 'seed-000', '--seeds', '2', '--workers', '1', '--self-check', '0', '--no-triage', '--max-shrink-runs', '10', '--out', out, '--html'], {
      out: () => undefined, err: (l) => err.push(l), env: {}, executor: inline,
    });
    expect(code).toBe(1);
    expect(err.at(-1)).toBe(`campaign index: ${join(out, 'index.html')}`);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    const links = [...html.matchAll(/<a href="([^"#]+\.html)">timeline<\/a>/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(0);
    for (const page of links) {
      expect(existsSync(join(out, page))).toBe(true);
      expect(readFileSync(join(out, page), 'utf8')).toContain('<svg id="timeline"');
    }
    expect(html).toContain('Not triaged');
    expect(html).toContain('<td>seed-000</td><td class="n">2</td>');
  });

  test('a campaign that finds nothing still gets its index, in a directory it creates', async () => {
    const out = join(tmp(), 'new', 'findings');
    const code = await fuzzCommand(['--profile', 'hardened', '--deployment', 'seed-000', '--seeds', '1', '--workers', '1', '--self-check', '0', '--out', out, '--html'], {
      out: () => undefined, err: () => undefined, env: {}, executor: inline,
    });
    expect(code).toBe(0);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain('<p class="ok">Nothing found.</p>');
    expect(html).toContain('<h2 id="bugs">Distinct bugs (0)</h2><p class="ok">No seed failed.</p>');
  });
});
