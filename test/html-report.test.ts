/**
 * The HTML report (`npm run check -- --html FILE`): the SVG builders on their own, then the whole page rendered
 * by a real browser (test/helpers/browser.ts: headless Chromium, its DOM, a screenshot decoded with node:zlib),
 * and proof that the page loads nothing from the network.
 *
 * Chromium is required, not optional: the browser tests fail (never skip) when it is missing, with the command
 * that installs it. .ci/run installs it on CI.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkReportHtml } from '../checker/html-report.ts';
import { CSP, escapeHtml, htmlPage, htmlTable } from '../kit/ui/html.ts';
import { barChart, lineChart, timelineChart } from '../kit/ui/svg.ts';
import { generatedAt, report } from './fixtures/check-report.ts';
import {
  BROWSER_TIMEOUT_MS,
  chromium,
  expectNoNetwork,
  expectPageScreenshot,
  findChromium,
  geometryValues,
  noNetwork,
  polylinePoints,
  renderPage,
} from './helpers/browser.ts';
import { run } from './helpers/cli.ts';

describe('SVG charts', () => {
  it('line chart: accessible svg, one polyline and a marker per point for each series, a legend', () => {
    const svg = lineChart({
      title: 'speedup',
      xLabel: 'workers p',
      yLabel: 'S',
      series: [
        {
          name: 'measured',
          points: [
            [1, 1],
            [2, 1.9],
            [3, 2.1],
          ],
        },
        {
          name: 'Amdahl fit',
          points: [
            [1, 1],
            [2, 1.8],
            [3, 2.4],
          ],
          dashed: true,
        },
      ],
    });
    expect(svg).toMatch(/^<svg class="chart line-chart" role="img" viewBox="0 0 \d+ \d+(\.\d)?"/);
    expect(svg).toContain('<title>speedup</title>');
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg.match(/class="series-point"/g)).toHaveLength(6);
    expect(svg).toContain('<g class="series" data-series="measured" data-points="3">');
    expect(svg).toMatch(/data-series="Amdahl fit"[^>]*>[\s\S]*?stroke-dasharray/);
    expect(svg.match(/class="legend-item"/g)).toHaveLength(2);
    for (const points of polylinePoints(svg)) {
      expect(points).toHaveLength(6);
      for (const n of points) expect(Number.isFinite(n), `coordinate ${n}`).toBe(true);
    }
    // Whole worker counts on the x axis: no tick at 1.5 workers.
    const xTicks = [...svg.matchAll(/text-anchor="middle" class="tick"[^>]*>([^<]*)</g)].map((m) => m[1]);
    expect(xTicks).toEqual(['1', '2', '3']);
  });

  it('escapes every piece of text: title, labels, series names', () => {
    const evil = `<script>alert("x")</script> & 'quotes'`;
    const charts = [
      lineChart({ title: evil, xLabel: evil, yLabel: evil, series: [{ name: evil, points: [[0, 1]] }] }),
      timelineChart({ title: evil, spans: [{ lane: evil, startedAt: 0, finishedAt: 5 }] }),
      barChart({ title: evil, unit: evil, bars: [{ label: evil, value: 3 }] }),
    ];
    for (const svg of charts) {
      expect(svg).not.toContain('<script');
      expect(svg).not.toContain(`"x"`);
      expect(svg).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;');
    }
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('empty input: a note instead of an empty or NaN-filled chart', () => {
    const charts = [
      lineChart({ title: 'none', xLabel: 'x', yLabel: 'y', series: [] }),
      lineChart({ title: 'no points', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [] }] }),
      timelineChart({ title: 'none', spans: [] }),
      barChart({ title: 'none', unit: ' ms', bars: [] }),
    ];
    for (const svg of charts) {
      expect(svg).toContain('data-empty="true"');
      expect(svg).toMatch(/class="chart-empty"[^>]*>no (data|data to plot|task ran)/);
      expect(svg).toContain('role="img"');
      for (const value of geometryValues(svg)) expect(value).not.toMatch(/NaN|Infinity/);
    }
  });

  it('NaN and Infinity are left out and counted, never drawn', () => {
    const line = lineChart({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        {
          name: 'a',
          points: [
            [1, 1],
            [2, Number.NaN],
            [3, Number.POSITIVE_INFINITY],
            [4, 2],
          ],
        },
        { name: 'b', points: [[Number.NaN, 1]] },
      ],
    });
    expect(line).toContain('3 value(s) left out');
    expect(line).toContain('data-series="a" data-points="2"');
    expect(line).toContain('data-series="b" data-points="0"');
    const allBad = lineChart({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      series: [{ name: 'a', points: [[1, Number.NaN]] }],
    });
    expect(allBad).toContain('data-empty="true"');
    const timeline = timelineChart({
      title: 't',
      spans: [
        { lane: 'main', startedAt: 0, finishedAt: 10 },
        { lane: 'main', startedAt: Number.NaN, finishedAt: 10 },
      ],
    });
    expect(timeline).toContain('1 value(s) left out');
    const bars = barChart({
      title: 't',
      unit: ' ms',
      bars: [
        { label: 'threads', value: 4.2 },
        { label: 'processes', value: Number.NaN },
        { label: 'negative', value: -1 },
      ],
    });
    expect(bars).toContain('class="bar bar-missing" data-label="processes"');
    expect(bars).toContain('>4.2 ms</text>');
    // One value everywhere (a flat line, a single point) must not divide by a zero range either.
    const flat = lineChart({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      series: [{ name: 'a', points: [[5, 0]] }],
    });
    for (const svg of [line, timeline, bars, flat]) {
      for (const value of geometryValues(svg)) expect(value).not.toMatch(/NaN|Infinity/);
    }
  });

  it('timeline: one row per lane, lanes in numeric order, a rect per span, time in ms', () => {
    const svg = timelineChart({
      title: 'threads',
      spans: [
        { lane: 'thread-10', startedAt: 1000, finishedAt: 1100 },
        { lane: 'thread-2', startedAt: 1000, finishedAt: 1050 },
        { lane: 'thread-1', startedAt: 1050, finishedAt: 1200 },
        { lane: 'thread-1', startedAt: 1200, finishedAt: 1210 },
      ],
    });
    expect([...svg.matchAll(/data-lane="([^"]+)"/g)].map((m) => m[1])).toEqual([
      'thread-1',
      'thread-2',
      'thread-10',
    ]);
    expect(svg.match(/<rect class="span"/g)).toHaveLength(4);
    expect(svg).toContain('data-lanes="3" data-spans="4"');
    expect(svg).toContain('(ms)</text>');
  });

  it('bar chart: a bar and a value label per entry, with the unit', () => {
    const svg = barChart({
      title: 'p99 latency',
      unit: ' ms',
      bars: [
        { label: 'event-loop', value: 180 },
        { label: 'threads', value: 3.5 },
      ],
    });
    expect(svg).toMatch(/^<svg class="chart bar-chart" role="img"/);
    expect(svg.match(/<g class="bar" /g)).toHaveLength(2);
    expect(svg).toContain('data-label="event-loop" data-value="180"');
    expect(svg).toContain('>180 ms</text>');
    expect(svg).toContain('>3.5 ms</text>');
  });
});

describe('HTML page', () => {
  it('a table escapes its cells and right-aligns numbers', () => {
    const table = htmlTable(['a<b'], [['<i>x</i>'], [42], [{ html: '<b>ok</b>', numeric: true }]]);
    expect(table).toContain('<th>a&lt;b</th>');
    expect(table).toContain('<td>&lt;i&gt;x&lt;/i&gt;</td>');
    expect(table).toContain('<td class="num">42</td>');
    expect(table).toContain('<td class="num"><b>ok</b></td>');
  });

  it('one self-contained page with a policy that forbids loading anything', () => {
    const page = htmlPage({
      title: 'T <1>',
      subtitle: 'sub',
      sections: [{ heading: 'H & h', body: '<p>b</p>' }],
    });
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain(`<meta http-equiv="Content-Security-Policy" content="${CSP}">`);
    expect(page).toContain('<title>T &lt;1&gt;</title>');
    expect(page).toContain('<h2>H &amp; h</h2>');
    expect(noNetwork(page)).toEqual([]);
  });
});

describe('the check report in headless Chromium', () => {
  // Tall enough for the whole fixture page, so every chart is in the picture.
  const WINDOW = { width: 1280, height: 3000 };
  let dir = '';
  let html = '';
  let dom = '';
  let consoleLog = '';
  let screenshot = '';
  let browser = '';

  beforeAll(
    async () => {
      browser = findChromium();
      dir = mkdtempSync(join(tmpdir(), 'mq-html-report-'));
      html = checkReportHtml(report, generatedAt);
      ({ dom, consoleLog, screenshot } = await renderPage(html, {
        dir,
        name: 'report',
        window: WINDOW,
        binary: browser,
      }));
    },
    2 * BROWSER_TIMEOUT_MS + 10_000,
  );

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the DOM holds the charts, their series, the labs and the machine', () => {
    const charts = dom.match(/<svg class="chart [a-z-]+"/g) ?? [];
    expect(charts, 'one speedup chart and two timelines').toHaveLength(3);
    expect(dom.match(/<svg class="chart line-chart"/g)).toHaveLength(1);
    expect(dom.match(/<svg class="chart timeline-chart"/g)).toHaveLength(2);
    const lines = polylinePoints(dom);
    expect(lines).toHaveLength(3);
    for (const points of lines) {
      expect(points.length).toBeGreaterThanOrEqual(4);
      for (const n of points) expect(Number.isFinite(n), `polyline coordinate ${n}`).toBe(true);
    }
    for (const series of ['measured', 'ideal S = p', 'Amdahl fit (f = 0.211)']) {
      expect(dom).toContain(`data-series="${series}"`);
    }
    for (const lab of ['00-broker', '01-event-loop', '03-threads']) expect(dom).toContain(lab);
    expect(dom).toContain('<h2>01-event-loop: FAIL</h2>');
    expect(dom).toContain('TODO(01.2)');
    expect(dom).toMatch(
      /data-fact="Cores P"><span class="label">Cores P<\/span><span class="value">2<\/span>/,
    );
    for (const fact of ['v20.19.5', '1.46.0', '0.42', 'linux-x64', 'your files (labs/)', '2026-11-24']) {
      expect(dom).toContain(fact);
    }
    // Amdahl's predictions at 8, 16 and 64 cores for f = 0.211.
    expect(dom).toMatch(
      /S <strong>3\.2<\/strong> at 8 cores, <strong>3\.8<\/strong> at 16, <strong>4\.5<\/strong> at 64/,
    );
    const lanes = [...dom.matchAll(/data-lane="(thread-\d+)"/g)].map((m) => m[1]);
    expect(lanes).toEqual(['thread-1', 'thread-2', 'thread-10']);
    // The check's message carried markup: it arrives as text, and the page has no script at all.
    expect(dom).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(dom).not.toMatch(/<script/i);
  });

  it('the screenshot is a real picture of the page, charts drawn in their colours', () => {
    const counts = expectPageScreenshot(screenshot, WINDOW);
    // The series colours, exactly as svg.ts draws them: the timelines' spans and the measured line (blue), the
    // ideal line (vermillion), the Amdahl fit (green). The legend alone has a few hundred pixels of each, so
    // the bars sit well above that: only drawn lines and spans reach them.
    expect(counts.get(0x0072b2) ?? 0, 'blue: spans, measured').toBeGreaterThan(20_000);
    expect(counts.get(0xd55e00) ?? 0, 'vermillion: ideal').toBeGreaterThan(1000);
    expect(counts.get(0x009e73) ?? 0, 'green: Amdahl fit').toBeGreaterThan(800);
    expect(counts.get(0xc62828) ?? 0, 'red: the FAIL badges').toBeGreaterThan(1000);
  });

  it('needs no network: nothing in the markup to fetch, and the browser blocked nothing', () => {
    expectNoNetwork(html, consoleLog, CSP);
  });

  it(
    'the console check would catch a page that fetches something',
    async () => {
      const page = join(dir, 'fetches.html');
      writeFileSync(
        page,
        htmlPage({
          title: 'fetches',
          sections: [{ heading: 'x', body: '<img src="https://example.invalid/x.png">' }],
        }),
      );
      const { stderr } = await chromium(browser, join(dir, 'profile-control'), [
        '--dump-dom',
        pathToFileURL(page).href,
      ]);
      expect(stderr).toMatch(/Content Security Policy/);
    },
    BROWSER_TIMEOUT_MS + 5_000,
  );
});

describe('npm run check -- --html', () => {
  it('without a FILE: one line saying what to pass, exit 1, before any lab runs', async () => {
    const ran = await run(['checker', '00', '--html']);
    expect(ran.code).toBe(1);
    expect(ran.stderr.trim().split('\n')).toEqual([
      '--html needs a FILE to write the page to, e.g. `npm run check -- 03 --html report.html`.',
    ]);
    expect(ran.stdout).toBe('');
  });
});
