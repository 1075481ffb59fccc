/**
 * Lab 06's HTML report (`npx tsx labs/06-showdown --html FILE`, kit/showdown/report.ts): a realistic
 * run (test/fixtures/showdown-report.ts) rendered by headless Chromium (test/helpers/browser.ts). The charts
 * are drawn with numbers for coordinates, the figures and the advice reach the DOM, the screenshot is a picture
 * and not a blank page, and nothing is fetched. Then the parts a run can leave out (`--part`, skipped pools).
 *
 * Chromium is required, not optional: the browser tests fail (never skip) when it is missing, with the command
 * that installs it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { showdownHtml } from '../kit/showdown/report.ts';
import { CSP } from '../kit/ui/html.ts';
import { generatedAt, report } from './fixtures/showdown-report.ts';
import {
  BROWSER_TIMEOUT_MS,
  expectNoNetwork,
  expectPageScreenshot,
  geometryValues,
  renderPage,
} from './helpers/browser.ts';

const POOLS = ['solo', 'event-loop', 'coroutines', 'threads', 'processes', 'prefork'];

/** Every number in a coordinate attribute (a viewBox holds four, a transform its arguments). */
function coordinates(markup: string): number[] {
  return geometryValues(markup).flatMap((value) =>
    (value.match(/[^\s,()a-zA-Z]+|NaN|Infinity/g) ?? []).map(Number),
  );
}

/** The rects of one chart's bars, by label: where they are drawn, and how wide. */
function bars(svg: string): Array<{ label: string; value: number; rect: number[] }> {
  return [
    ...svg.matchAll(/<g class="bar" data-label="([^"]*)" data-value="([^"]*)">[\s\S]*?<rect ([^>]*)>/g),
  ].map((m) => ({
    label: m[1]!,
    value: Number(m[2]),
    rect: ['x', 'y', 'width', 'height'].map((a) => Number(new RegExp(`\\b${a}="([^"]*)"`).exec(m[3]!)?.[1])),
  }));
}

function charts(markup: string, kind: string): string[] {
  return markup.match(new RegExp(`<svg class="chart ${kind}"[\\s\\S]*?</svg>`, 'g')) ?? [];
}

describe('the showdown report in headless Chromium', () => {
  // Tall enough for the whole fixture page, so the timeline at the bottom is in the picture too.
  const WINDOW = { width: 1280, height: 3400 };
  let dir = '';
  let html = '';
  let dom = '';
  let consoleLog = '';
  let screenshot = '';

  beforeAll(
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'mq-showdown-report-'));
      html = showdownHtml(report, generatedAt);
      ({ dom, consoleLog, screenshot } = await renderPage(html, { dir, name: 'showdown', window: WINDOW }));
    },
    2 * BROWSER_TIMEOUT_MS + 10_000,
  );

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the DOM holds every chart: the latency bars, one throughput chart per workload, the timeline', () => {
    expect(dom.match(/<svg class="chart [a-z-]+"/g), 'four bar charts and a timeline').toHaveLength(5);
    const barCharts = charts(dom, 'bar-chart');
    expect(barCharts).toHaveLength(4);
    expect(charts(dom, 'timeline-chart')).toHaveLength(1);
    expect(dom).not.toContain('data-empty="true"');

    const latency = bars(barCharts[0]!);
    // Whole above 10, one decimal below: as the table and the terminal print them.
    expect(latency.map((b) => [b.label, b.value])).toEqual([
      ['inline p50', 200],
      ['inline p99', 741],
      ['offloaded p50', 0.5],
      ['offloaded p99', 4.1],
    ]);
    for (const label of ['200 ms', '741 ms', '0.5 ms', '4.1 ms'])
      expect(barCharts[0]).toContain(`>${label}</text>`);

    for (const [i, workload] of ['I/O', 'CPU', 'mixed'].entries()) {
      const chart = barCharts[i + 1]!;
      expect(chart).toContain(`<title>Throughput on ${workload} work (tasks/s)</title>`);
      const drawn = bars(chart);
      expect(drawn.map((b) => b.label.split(' ')[0])).toEqual(POOLS);
      const expected = report.cells.filter((c) => c.row.workload === workload).map((c) => c.row.throughput);
      for (const [j, b] of drawn.entries()) expect(b.value, b.label).toBeCloseTo(expected[j]!, 0);
    }
    for (const label of ['388 tasks/s', '1.3 tasks/s', '50 tasks/s'])
      expect(dom).toContain(`>${label}</text>`);
    expect(dom).not.toMatch(/>(388\.4|1\.28|49\.7) tasks\/s</);
    // Every bar a rect at finite coordinates, and longer for the larger value: the scale runs the right way.
    for (const chart of barCharts) {
      const drawn = bars(chart);
      for (const b of drawn) {
        for (const n of b.rect) expect(Number.isFinite(n), `${b.label}: ${b.rect}`).toBe(true);
        expect(b.rect[2]!, b.label).toBeGreaterThan(0);
      }
      const widest = drawn.reduce((a, b) => (b.value > a.value ? b : a));
      for (const b of drawn) expect(b.rect[2]!).toBeLessThanOrEqual(widest.rect[2]!);
    }
    for (const n of coordinates(dom)) expect(Number.isFinite(n), `coordinate ${n}`).toBe(true);
    expect(dom).not.toMatch(/="[^"]*(NaN|Infinity)[^"]*"/);

    const timeline = charts(dom, 'timeline-chart')[0]!;
    expect(timeline).toContain('data-lanes="2" data-spans="142"');
    expect([...timeline.matchAll(/data-lane="([^"]+)"/g)].map((m) => m[1])).toEqual([
      'pid-16586',
      'pid-16587',
    ]);
    expect(timeline.match(/<rect class="span"/g)).toHaveLength(142);
  });

  it('the DOM holds the figures: latencies, the ratio, every pool and workload, the late loops in bold', () => {
    expect(dom).toContain('2026-11-24 16:30 UTC, 2 core(s), Node 20.19.5');
    expect(dom).toContain('<strong>181x</strong> lower (bar: 10x)');
    for (const figure of ['199.8', '741.4', '0.5', '4.1', '611', '46/46', '42/42']) {
      expect(dom).toContain(`>${figure}</td>`);
    }
    for (const pool of POOLS) expect(dom).toContain(`<td>${pool}</td>`);
    for (const celery of [
      '-P solo',
      'asyncio-style',
      '-P gevent',
      '-P threads',
      'fork per task',
      '-P prefork',
    ]) {
      expect(dom).toContain(`<td>${celery}</td>`);
    }
    expect(dom).toMatch(/<th>I\/O<\/th><th>CPU<\/th><th>mixed<\/th>/);
    // Fixed decimals, so a column's points line up: 2.0, not 2.
    expect(dom).toContain('48/s x2.0<br>');
    // Over the advice's 100 ms bar: bold. Under it, however close: not.
    expect(dom).toContain('<strong>loop 2101.8 ms</strong>');
    expect(dom).toContain('<strong>loop 584.5 ms</strong>');
    expect(dom).toContain('<span class="note">loop 92.0 ms</span>');
    expect(dom).toContain('over 100 ms');
    // The full table, folded: one row per pool and workload.
    expect(dom).toMatch(/<details>\s*<summary>Every figure/);
    expect(dom.match(/<tr><td>[a-z-]+<\/td><td>[^<]+<\/td><td>(I\/O|CPU|mixed)<\/td>/g)).toHaveLength(18);
  });

  it('the DOM holds the advice, with Celery next to it', () => {
    for (const advice of report.advice) {
      const item = new RegExp(
        `<li data-workload="${advice.workload.replace('/', '\\/')}">([\\s\\S]*?)</li>`,
      ).exec(dom)?.[1];
      expect(item, advice.workload).toBeDefined();
      expect(item).toContain(`<strong>${advice.pool}</strong>`);
      expect(item).toContain(advice.reason);
    }
    expect(dom.match(/Measured: agrees\./g)).toHaveLength(2);
    expect(dom).toContain('Celery: split it.');
    expect(dom).toContain("Node's worker threads can");
    expect(dom).toContain('<h2>Timeline: prefork on CPU work</h2>');
    expect(dom).not.toMatch(/<script/i);
  });

  it('the screenshot is a real picture of the page, bars and spans drawn in their colour', () => {
    const counts = expectPageScreenshot(screenshot, WINDOW);
    // svg.ts's first colour fills every bar and span: ~200k pixels of it on this page. The timeline's lane bands
    // and the tables' header rows have colours of their own, so each shows up only if its part was drawn.
    expect(counts.get(0x0072b2) ?? 0, 'blue: bars and spans').toBeGreaterThan(100_000);
    expect(counts.get(0xf3f5f8) ?? 0, 'lane band: the timeline').toBeGreaterThan(5_000);
    expect(counts.get(0xf6f7f9) ?? 0, 'panel: the tables').toBeGreaterThan(20_000);
  });

  it('needs no network: nothing in the markup to fetch, and the browser blocked nothing', () => {
    expectNoNetwork(html, consoleLog, CSP);
  });
});

describe('the showdown report without some of its parts', () => {
  it('--part web: the web app only, no empty showdown', () => {
    const page = showdownHtml({ ...report, cells: [], advice: [] }, generatedAt);
    expect(page).toContain('<h2>A web app that stays fast</h2>');
    expect(page).not.toContain('Every pool on every kind of work');
    expect(page).not.toContain('Which pool for which work');
    expect(page.match(/<svg class="chart /g)).toHaveLength(1);
  });

  it('--part showdown: the pools only', () => {
    const { web: _, ...rest } = report;
    const page = showdownHtml(rest, generatedAt);
    expect(page).not.toContain('A web app that stays fast');
    expect(page.match(/<svg class="chart /g)).toHaveLength(4);
  });

  it('a pool skipped (a lab not finished): a disagreement is put down to it; a failure is shown', () => {
    const cells = report.cells
      .filter((c) => c.row.pool !== 'prefork')
      .map((c) =>
        c.row.pool === 'threads' && c.row.workload === 'CPU' ? { ...c, row: { ...c.row, failed: 3 } } : c,
      );
    // Without prefork, CPU goes to threads (Celery agrees); say I/O went to threads too (Celery does not).
    const advice = report.advice.map((a) =>
      a.workload === 'mixed' ? a : { ...a, pool: 'threads' as const },
    );
    const page = showdownHtml({ ...report, cells, advice }, generatedAt);
    expect(page.match(/Measured: agrees\./g)).toHaveLength(1);
    expect(page).toContain('Measured without 1 of the pools: finish their labs and race again.');
    expect(page).toContain('<strong>3 failed</strong>');
    expect(page).not.toContain('<td>prefork</td>');
    for (const n of coordinates(page)) expect(Number.isFinite(n)).toBe(true);
  });

  it('every pool raced and Celery disagrees: the machine says otherwise', () => {
    const advice = report.advice.map((a) =>
      a.workload === 'CPU' ? { ...a, pool: 'coroutines' as const } : a,
    );
    const page = showdownHtml({ ...report, advice }, generatedAt);
    expect(page).toContain('Measured: this machine says otherwise.');
  });
});
