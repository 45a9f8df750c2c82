import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { main } from './main.ts';
import { parseReportArgs, REPORT_FILE } from './report-command.ts';
import { inline } from './report/html.ts';

async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

describe('hasim report', () => {
  test.each([
    [['report', '--scenario', 'no-such-scenario'], /unknown scenario 'no-such-scenario'/],
    [['report', '--scenario', 'r002-failover-redis,nope'], /unknown scenario 'nope'/],
    [['report', '--seeds', '0'], /--seeds: expected at least 1/],
    [['report', '--seeds', 'many'], /--seeds: expected a non-negative integer/],
    [['report', '--profiles', 'as-built'], /unknown profile 'as-built'/],
    [['report', '--jobs', '0'], /--jobs: expected at least 1/],
    [['report', '--bogus'], /bogus/],
    [['report', 'extra'], /unexpected argument 'extra'/],
  ])('bad input %j is one line on stderr and exit 2', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(message);
  });

  test('--scenario is repeatable and takes comma lists; defaults are every scenario, both profiles, docs/', () => {
    const o = parseReportArgs(['--scenario', 'r002-failover-redis,r002-heartbeat-timing', '--scenario', 'r003-cross-pod-routing', '--jobs', '1']);
    expect(o.scenarios.map((s) => s.name)).toEqual(['r002-failover-redis', 'r002-heartbeat-timing', 'r003-cross-pod-routing']);
    expect(o.profiles).toEqual(['streamspace-v2', 'hardened']);
    expect(o.out).toBe('docs');
    expect(parseReportArgs([]).scenarios.length).toBeGreaterThan(10);
  });

  test('writes a Markdown and a self-contained HTML report with claims, distributions, replay commands and CDFs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hasim-report-'));
    const r = await run(['report', '--scenario', 'r003-redis-unavailable', '--seeds', '2', '--jobs', '1', '--out', dir]);
    expect(r.code).toBe(1); // as built, Redis coming back empty breaks routing for good: bounded-recovery
    const md = readFileSync(join(dir, `${REPORT_FILE}.md`), 'utf8');
    expect(md).toContain('## r003-redis-unavailable');
    expect(md).toContain('"Commands to agents on same pod still work"');
    expect(md).toMatch(/\| routing-stable \| as built \| 2 \| \d \|/);
    expect(md).toContain('npx hasim run --scenario r003-redis-unavailable --seed 0 --profile streamspace-v2');
    expect(md).toContain('Availability is the fraction of simulated time');
    expect(md).toContain('seeds 0-1');
    const html = readFileSync(join(dir, `${REPORT_FILE}.html`), 'utf8');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<(script|link|img)\b|src=|href="http/);
  });

  test('HTML text is escaped before `code`, **bold** and [links](#x) become markup', () => {
    expect(inline('a <b> `x<y>` **z** [r](#r000-a)')).toBe('a &lt;b&gt; <code>x&lt;y&gt;</code> <strong>z</strong> <a href="#r000-a">r</a>');
  });
});
