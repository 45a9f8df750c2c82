import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { runCase } from '../../harness/run-case.ts';
import { readTraceFile } from '../../harness/trace-file.ts';
import { caseOfExpectation } from '../../harness/replay.ts';
import { SYSTEMS, streamspace } from '../../systems/index.ts';
import { main } from '../main.ts';

const TRACE = fileURLToPath(new URL('../../../traces/redis-restart-loses-routing.json', import.meta.url));

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'hasim-explain-'));

describe('hasim explain', () => {
  test('writes a self-contained HTML timeline of the trace under its first profile', async () => {
    const file = join(tmp(), 'page.html');
    const r = await cli('explain', TRACE, '--out', file);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([expect.stringContaining('redis-restart-loses-routing (streamspace-v2): bounded-recovery at 331.800s'), file]);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('<svg id="timeline"');
    for (const lane of ['api-0', 'api-1', 'agent-0', 'agent-1', 'agent-2', 'redis', 'postgres', 'kube-api', 'Lease holder', 'Agent connection', 'Redis routing']) {
      expect(html).toContain(`>${lane}<title>`);
    }
    expect(html).toMatch(/<g class="band"><rect data-a="120000000" data-b="121000000"[^>]*>.*?<\/rect><text[^>]*>redis-restart<title>/);
    expect(html).toMatch(/<g class="mark violation"><line data-t="331800000"/);
    expect(html).toContain('Redis maps the agent to nothing, not api-0');
    expect(html).toContain('<g id="arrows" style="display:none"><line');
    // Opens offline: no resource is fetched from anywhere.
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
    expect(html.length).toBeLessThan(1_000_000);
  });

  test('by default the page goes next to the trace, named after it and the profile', async () => {
    const dir = tmp();
    copyFileSync(TRACE, join(dir, 'finding.json'));
    const r = await cli('explain', join(dir, 'finding.json'), '--profile', 'hardened', '--json');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out[0]!);
    expect(summary).toMatchObject({ profile: 'hardened', outcome: 'pass', expected: 'pass', match: true, violation: null, html: join(dir, 'finding.hardened.html') });
    const html = readFileSync(summary.html, 'utf8');
    expect(summary.bytes).toBe(Buffer.byteLength(html));
    expect(html).not.toContain('class="mark violation"');
    expect(html).toContain('class="mark healthy"');
  });

  test('a run that no longer matches its expectation still gets its page, and exits 1', async () => {
    const dir = tmp();
    const data = JSON.parse(readFileSync(TRACE, 'utf8'));
    data.expectations[0].hash = '0'.repeat(64);
    writeFileSync(join(dir, 't.json'), JSON.stringify(data));
    const r = await cli('explain', join(dir, 't.json'));
    expect(r.code).toBe(1);
    expect(r.out[0]).toContain('HASH DIFFERS');
    expect(existsSync(join(dir, 't.streamspace-v2.html'))).toBe(true);
  });

  const bad = (mutate: (t: Record<string, unknown>) => unknown): string => {
    const dir = tmp();
    const data = mutate(JSON.parse(readFileSync(TRACE, 'utf8')));
    writeFileSync(join(dir, 'bad.json'), typeof data === 'string' ? data : JSON.stringify(data));
    return join(dir, 'bad.json');
  };
  test.each([
    ['no file', () => [], 'explain: expected exactly one trace file'],
    ['missing file', () => ['/nonexistent/trace.json'], 'cannot read (ENOENT)'],
    ['malformed JSON', () => [bad(() => '{ not json')], 'not valid JSON'],
    ['not a trace', () => [bad(() => ({ hello: 1 }))], 'not a hasim trace file'],
    ['future version', () => [bad((t) => ({ ...t, version: 99 }))], 'format version 99 is newer than this build reads'],
    ['unknown profile', () => [TRACE, '--profile', 'nope'], "--profile: unknown profile 'nope' (known: streamspace-v2, hardened"],
    ['unwritable output', () => [TRACE, '--out', '/dev/null/page.html'], '--out /dev/null/page.html: /dev/null is not a directory'],
    ['unknown flag', () => [TRACE, '--svg'], "Unknown option '--svg'"],
  ])('%s: one line naming the problem, exit 2', async (_what, args, message) => {
    const r = await cli('explain', ...args());
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toContain(message);
    expect(r.out).toEqual([]);
  });

  test('the violation links to the violated command\'s life; arrows start at their send', async () => {
    const trace = fileURLToPath(new URL('../../../traces/leadership-lost-mid-command.json', import.meta.url));
    const file = join(tmp(), 'page.html');
    expect((await cli('explain', trace, '--out', file)).code).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/<g class="mark violation"><line [^>]*tabindex="0">.*?<\/line><a href="#command-life" class="to-life"><text /);
    const life = html.slice(html.indexOf('<h2 id="command-life">The violated command\'s life</h2>'));
    expect(life.length).toBeLessThan(html.length);
    const rows = life.slice(0, life.indexOf('</table>')).split('<tr').slice(1);
    expect(rows.length).toBeGreaterThan(3);
    for (const row of rows) expect(row).toMatch(/\bcmd-1\b/);
    // Every arrow starts at its send instant, no later than its delivery.
    const arrows = [...html.matchAll(/<line data-t1="(\d+)" data-t="(\d+)"/g)];
    expect(arrows.length).toBeGreaterThan(100);
    for (const [, sent, at] of arrows) expect(Number(sent)).toBeLessThanOrEqual(Number(at));
    expect(arrows.some(([, sent, at]) => Number(sent) < Number(at))).toBe(true);
  });

  test('tracing messages adds message events but leaves the run as it was', () => {
    const t = readTraceFile(TRACE, SYSTEMS);
    const c = caseOfExpectation(streamspace, t, t.expectations[0]!);
    const plain = runCase(streamspace, c, { keepEvents: true });
    const traced = runCase(streamspace, c, { keepEvents: true, traceMessages: true });
    expect(plain.hash).toBe(t.expectations[0]!.hash);
    expect(traced.hash).not.toBe(plain.hash);
    expect(traced.outcome).toBe(plain.outcome);
    const messages = traced.events!.filter((e) => e.k === 'net.recv' || e.k === 'net.datagram');
    expect(messages.length).toBeGreaterThan(100);
    expect(traced.events!.filter((e) => !messages.includes(e))).toEqual(plain.events);
  });
});

describe('hasim replay --timeline', () => {
  test('prints the key events after the verdict, ending with the violation', async () => {
    const r = await cli('replay', TRACE, '--timeline');
    expect(r.code).toBe(0);
    const start = r.out.indexOf('  timeline (streamspace-v2):');
    expect(start).toBeGreaterThan(0);
    const lines = r.out.slice(start + 1, r.out.findIndex((l) => l.startsWith('[ok] hardened')));
    expect(lines).toContainEqual(expect.stringMatching(/^ +120\.000s +faults +fault redis-restart \(fromSnapshot false, down 1\.000s\)$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ +120\.000s +redis +redis crashed$/));
    expect(lines).toContainEqual(expect.stringMatching(/agent-\d leads \(lease transitions 0\)$/));
    expect(lines).toContainEqual(expect.stringMatching(/api-0 hub registered k8s-prod-us-east-1/));
    expect(lines.at(-1)).toMatch(/^ +331\.800s +checker +VIOLATION bounded-recovery: not healthy 240\.800s after the heal/);
  });

  test('with --json each result carries its timeline', async () => {
    const r = await cli('replay', TRACE, '--timeline', '--json');
    const results = JSON.parse(r.out[0]!).results as { profile: string; timeline: { t: number; topic: string; what: string }[] }[];
    expect(results.map((x) => x.timeline.at(-1)!.topic)).toEqual(['failure', 'recovery']);
    expect(results[0]!.timeline.at(-1)).toMatchObject({ t: 331_800_000, what: expect.stringContaining('VIOLATION bounded-recovery') });
  });

  test('the violated command\'s life is in the timeline', async () => {
    const trace = fileURLToPath(new URL('../../../traces/leadership-lost-mid-command.json', import.meta.url));
    const r = await cli('replay', trace, '--timeline');
    const lines = r.out.slice(r.out.indexOf('  timeline (streamspace-v2):'));
    for (const step of ['cmd-1: row committed (accepted) by api-0', 'cmd-1: agent-2 executes it (lease transitions 0, leading: yes)', 'cmd-1: status ack → sent (dispatcher.sent from api-0)', 'agent-2 stopped leading', 'cmd-1: agent-2 finished it: ok', 'VIOLATION no-lost-commands: cmd-1']) {
      expect(lines).toContainEqual(expect.stringContaining(step));
    }
  });
});
