import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readTraceFile } from '../harness/trace-file.ts';
import { SYSTEMS } from '../systems/index.ts';
import { chromiumPath, launchChromium } from './browser/chromium.ts';
import { LAYOUT_PROBLEMS } from './browser/layout-problems.ts';
import { renderIndexHtml } from './campaign-index/html.ts';
import { campaignIndex } from './campaign-index/index-data.ts';
import { exampleIndexSource } from './campaign-index/testing/example.ts';
import { explainTrace } from './explain/page.ts';
import type { Chart } from './report/document.ts';
import { renderHtml } from './report/html.ts';

// Opens the three kinds of page hasim writes in headless Chromium and measures them as laid out.
// Without a Chromium the suite is skipped locally, saying so; .ci/run installs one and sets
// HASIM_BROWSER_REQUIRED, under which a missing Chromium fails instead.
const CHROMIUM = chromiumPath();
const REQUIRED = process.env['HASIM_BROWSER_REQUIRED'] === '1';
const MISSING = 'no Chromium at /usr/bin/chromium (or HASIM_CHROMIUM); apt-get install chromium';
if (CHROMIUM === null && !REQUIRED) console.warn(`browser tests SKIPPED: ${MISSING}`);
const WIDTHS = [760, 1400];
const dir = mkdtempSync(join(tmpdir(), 'hasim-pages-'));
const TRACE = fileURLToPath(new URL('../../traces/lost-command-during-long-execution.json', import.meta.url));
/** The pages committed under docs/: what a reader opens first must pass the same checks. */
const COMMITTED = ['docs/streamspace-seed-reports.html', 'docs/seed-004-report/streamspace-seed-reports.html', 'docs/campaign-example/index.html'];

/** A CDF's points from values (nulls: never happened), as the report computes them. */
function series(label: string, values: Array<number | null>): Chart['series'][number] {
  const xs = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  return { label, runs: values.length, never: values.length - xs.length, points: xs.map((x, i) => ({ x, y: (i + 1) / values.length })) };
}

const spread = (n: number, from: number, factor: number): number[] => Array.from({ length: n }, (_, i) => Math.round(from * factor ** (i / (n - 1))));

/** Charts that exercise every axis: log time over decades, linear time fitted away from 0, nines with exact 100%, never-happened runs, long legends. */
function reportPage(): string {
  const charts: Chart[] = [
    { title: 'routing-restored', unit: 'us', series: [series('as built', [...spread(80, 2_000, 40_000), ...Array<null>(20).fill(null)]), series('hardened', spread(100, 1_500_000, 30))] },
    { title: 'replacement-ready', unit: 'us', series: [series('as built', spread(100, 7_000_000, 1.006)), series('hardened', spread(100, 7_001_000, 1.004))] },
    { title: 'availability', unit: 'fraction', series: [series('as built', spread(100, 50, 20).map((v) => 1 - v / 10_000)), series('hardened', [...Array<number>(40).fill(1), ...spread(60, 1, 50).map((v) => 1 - v / 100_000)])] },
    { title: 'mapping-restored', unit: 'us', series: [series('as built (the profile with every flaw of the seed reports, named at length)', [...spread(50, 400_000, 1_200), ...Array<null>(50).fill(null)]), series('hardened', [null, ...spread(99, 300_000, 90)])] },
  ];
  return renderHtml([{ kind: 'heading', level: 1, text: 'charts' }, { kind: 'charts', charts }], 'charts');
}

describe.skipIf(CHROMIUM === null && !REQUIRED)(`pages in Chromium${CHROMIUM === null ? ` (SKIPPED: ${MISSING})` : ''}`, () => {
  let browser: Browser;
  const pages: Record<'report' | 'index' | 'explain', string> = { report: '', index: '', explain: '' };

  beforeAll(async () => {
    if (CHROMIUM === null) throw new Error(`HASIM_BROWSER_REQUIRED=1 but ${MISSING}`);
    browser = await launchChromium(CHROMIUM);
    const trace = readTraceFile(TRACE, SYSTEMS);
    const write = (name: string, html: string): string => {
      const path = join(dir, name);
      writeFileSync(path, html);
      return `file://${path}`;
    };
    pages.report = write('report.html', reportPage());
    pages.index = write('index.html', renderIndexHtml(campaignIndex(exampleIndexSource(dir))));
    pages.explain = write('explain.html', explainTrace(trace, trace.expectations[0]!.profile).html);
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** Opens a page at a width; fails the test on any console error or uncaught exception. */
  async function open(url: string, width: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    const errors: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    expect(errors).toEqual([]);
    return page;
  }

  const problems = (page: Page): Promise<string[]> => page.evaluate(LAYOUT_PROBLEMS) as Promise<string[]>;
  const svgSizes = (page: Page): Promise<string[]> => page.evaluate('[...document.querySelectorAll("svg")].map((s) => s.getAttribute("width") + "x" + s.getAttribute("height"))') as Promise<string[]>;

  test.each(['report', 'index', 'explain'] as const)('the %s page: no console errors, no overlapping legends or clipped tick labels, the same charts at two widths', async (name) => {
    const sizes: string[][] = [];
    for (const width of WIDTHS) {
      const page = await open(pages[name], width);
      expect(await problems(page)).toEqual([]);
      sizes.push(await svgSizes(page));
      await page.screenshot({ path: join(dir, `${name}-${width}.png`), fullPage: true });
      await page.close();
    }
    expect(sizes[0]!.length).toBeGreaterThan(0);
    expect(sizes[1]).toEqual(sizes[0]);
  });

  test.each(COMMITTED)('the committed %s: no console errors, no overlapping legends or clipped tick labels', async (path) => {
    const page = await open(new URL(`../../${path}`, import.meta.url).href, WIDTHS[1]!);
    expect(await problems(page)).toEqual([]);
    await page.close();
  });

  test('the checks catch a planted overlap and a planted clipped label', async () => {
    const page = await open(pages.report, WIDTHS[0]!);
    expect(await problems(page)).toEqual([]);
    await page.evaluate('document.querySelectorAll("svg.cdf")[0].querySelectorAll(".legend-item")[1].setAttribute("transform", "translate(3,-6)")');
    await page.evaluate('const t = [...document.querySelectorAll("svg.cdf")[1].querySelectorAll(".tick-label")].at(-1); t.setAttribute("x", "396"); t.setAttribute("text-anchor", "start")');
    const found = await problems(page);
    expect(found).toEqual(expect.arrayContaining([
      expect.stringMatching(/^CDF of routing-restored: legend entries "as built.*" and "hardened.*" overlap$/),
      expect.stringMatching(/^CDF of replacement-ready: ".*" is clipped by the chart's edge$/),
    ]));
    await page.close();
  });

  test('the timeline: the violation is visible, Tab reaches tooltips, zoom re-lays out, the violation links to the command\'s life', async () => {
    const page = await open(pages.explain, 1280);
    // Its label in view once scrolled to, and its line across the lanes (a vertical line has no width, so no 'visible' of its own).
    const label = page.locator('.mark.violation text');
    await label.scrollIntoViewIfNeeded();
    expect(await label.isVisible()).toBe(true);
    const inView = await label.boundingBox();
    expect(inView!.x).toBeGreaterThanOrEqual(0);
    expect(inView!.x + inView!.width).toBeLessThanOrEqual(1280);
    const line = await page.locator('.mark.violation line').boundingBox();
    expect(line!.height).toBeGreaterThan(100);

    // Keyboard only: Tab until focus is on something of the timeline, whose tooltip then shows.
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate('document.getElementById("timeline").contains(document.activeElement)') as boolean;
    }
    expect(reached).toBe(true);
    const tip = page.locator('#tip');
    expect(await tip.isVisible()).toBe(true);
    expect((await tip.textContent())!.length).toBeGreaterThan(5);
    await page.keyboard.press('Shift+Tab');
    expect(await tip.isVisible()).toBe(false);

    const width = async (): Promise<number> => Number(await page.locator('#timeline').getAttribute('width'));
    const before = await width();
    const ticksBefore = await page.locator('#grid .tick').count();
    await page.click('#zoom-in');
    expect(await width()).toBeGreaterThan(before * 1.9);
    // The zoomed level's ticks: about as far apart as before, so about twice as many.
    expect(await page.locator('#grid .tick').count()).toBeGreaterThan(ticksBefore * 1.5);
    expect(await problems(page)).toEqual([]);

    // Arrows go from the send to the delivery: never backwards in time.
    await page.check('#show-arrows');
    const backwards = await page.evaluate('[...document.querySelectorAll("#arrows line")].filter((l) => +l.getAttribute("x2") < +l.getAttribute("x1")).length');
    expect(backwards).toBe(0);

    await page.locator('.mark.violation a').click();
    expect(page.url()).toMatch(/#command-life$/);
    expect(await page.locator('#command-life + table tr').count()).toBeGreaterThan(1);
    await page.close();
  });
});
