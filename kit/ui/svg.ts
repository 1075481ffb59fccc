/**
 * Charts as SVG strings, for the HTML reports (see html.ts): a line chart (speedup curves), a per-lane timeline
 * and horizontal bars (latencies). No dependencies and no scripts, so a page can inline them and stay
 * self-contained.
 *
 * Every chart is `<svg class="chart KIND-chart" role="img" viewBox=...>` opening with a `<title>`, and marks
 * its parts with stable classes and `data-*` attributes (`data-series`, `data-lane`, `data-label`) that tests and
 * stylesheets can rely on. Values that are not finite numbers are left out and counted in a note under the chart,
 * so a NaN never reaches a coordinate; a chart with nothing to draw says so instead.
 */
import { escapeHtml } from './html.ts';
import { compareLanes, type Span } from './timeline.ts';

export interface LineSeries {
  name: string;
  points: Array<[number, number]>;
  /** Drawn dashed: a model or a reference line rather than a measurement. */
  dashed?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
}

export interface TimelineChartOptions {
  title: string;
  spans: Span[];
}

export interface BarChartOptions {
  title: string;
  /** Appended to each value label ('ms', ' tasks/s'); '' for none. */
  unit: string;
  bars: Array<{ label: string; value: number }>;
}

/** Okabe–Ito: told apart by colour-blind readers too, and dark enough on white for a projector. */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#555555'];
const WIDTH = 800;
const FONT = 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif';
const INK = '#1a1a1a';
const MUTED = '#5b5b5b';
const GRID = '#e3e6ea';

export function lineChart({ title, xLabel, yLabel, series }: LineChartOptions): string {
  let dropped = 0;
  const clean = series.map((s) => {
    const points = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    dropped += s.points.length - points.length;
    return { ...s, points };
  });
  const all = clean.flatMap((s) => s.points);
  if (all.length === 0) return emptyChart('line-chart', title, 'no data to plot', dropped);

  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const [xMin, xMax] = extent(xs);
  const [yMin, yMax] = extent(ys);
  const xAxis = niceScale(xMin, xMax, 6, xs.every(Number.isInteger));
  // Speedups, latencies and counts read wrong without their zero, so the y axis keeps it unless data go below.
  const yAxis = niceScale(Math.min(0, yMin), yMax, 6, false);

  const legend = legendRows(clean.map((s) => s.name));
  const top = 48 + legend.rows * 26 + 8;
  const left = 78;
  const right = 28;
  const height = top + 300 + 64 + (dropped ? 24 : 0);
  const plotBottom = top + 300;
  const x = (v: number) => left + ((v - xAxis.min) / (xAxis.max - xAxis.min)) * (WIDTH - left - right);
  const y = (v: number) => plotBottom - ((v - yAxis.min) / (yAxis.max - yAxis.min)) * 300;

  const grid = [
    ...yAxis.ticks.map((t) => line(left, y(t), WIDTH - right, y(t), GRID)),
    ...xAxis.ticks.map((t) => line(x(t), top, x(t), plotBottom, GRID)),
  ];
  const axes = [
    `<g class="axis x-axis">`,
    line(left, plotBottom, WIDTH - right, plotBottom, MUTED),
    ...xAxis.ticks.map(
      (t) =>
        `${line(x(t), plotBottom, x(t), plotBottom + 5, MUTED)}` +
        text(x(t), plotBottom + 22, formatTick(t, xAxis.step), { anchor: 'middle', cls: 'tick' }),
    ),
    text((left + WIDTH - right) / 2, plotBottom + 48, xLabel, {
      anchor: 'middle',
      cls: 'axis-label',
      size: 15,
    }),
    `</g>`,
    `<g class="axis y-axis">`,
    line(left, top, left, plotBottom, MUTED),
    ...yAxis.ticks.map(
      (t) =>
        `${line(left - 5, y(t), left, y(t), MUTED)}` +
        text(left - 9, y(t) + 5, formatTick(t, yAxis.step), { anchor: 'end', cls: 'tick' }),
    ),
    `<text class="axis-label" transform="translate(20 ${num((top + plotBottom) / 2)}) rotate(-90)" ` +
      `text-anchor="middle" font-size="15" fill="${INK}">${escapeHtml(yLabel)}</text>`,
    `</g>`,
  ];
  const plotted = clean.map((s, i) => {
    const colour = PALETTE[i % PALETTE.length]!;
    const coords = s.points.map(([px, py]) => `${num(x(px))},${num(y(py))}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="9 6"' : '';
    const markers = s.points.map(
      ([px, py]) =>
        `<circle class="series-point" cx="${num(x(px))}" cy="${num(y(py))}" r="${s.dashed ? 3.5 : 5}" ` +
        `fill="${colour}"><title>${escapeHtml(`${s.name}: ${formatValue(px)}, ${formatValue(py)}`)}</title></circle>`,
    );
    return [
      `<g class="series" data-series="${escapeHtml(s.name)}" data-points="${s.points.length}">`,
      s.points.length > 0
        ? `<polyline class="series-line" points="${coords}" fill="none" stroke="${colour}" stroke-width="3" ` +
          `stroke-linejoin="round" stroke-linecap="round"${dash}/>`
        : '',
      ...markers,
      `</g>`,
    ].join('');
  });
  const legendMarks = legend.items.map(({ name, x: lx, row }, i) => {
    const colour = PALETTE[i % PALETTE.length]!;
    const ly = 54 + row * 26;
    const dash = clean[i]!.dashed ? ' stroke-dasharray="7 4"' : '';
    return (
      `<g class="legend-item" data-series="${escapeHtml(name)}">` +
      `<line x1="${num(lx)}" y1="${ly}" x2="${num(lx + 28)}" y2="${ly}" stroke="${colour}" stroke-width="3"${dash}/>` +
      `<circle cx="${num(lx + 14)}" cy="${ly}" r="4" fill="${colour}"/>` +
      text(lx + 36, ly + 5, name, {}) +
      `</g>`
    );
  });
  return svg('line-chart', title, height, [
    `<g class="grid">${grid.join('')}</g>`,
    ...axes,
    // The first series is the one the chart is about (the measurement): drawn last, so it lies on top.
    ...plotted.reverse(),
    `<g class="legend">${legendMarks.join('')}</g>`,
    droppedNote(dropped, height),
  ]);
}

export function timelineChart({ title, spans }: TimelineChartOptions): string {
  const clean = spans.filter((s) => Number.isFinite(s.startedAt) && Number.isFinite(s.finishedAt));
  const dropped = spans.length - clean.length;
  if (clean.length === 0) return emptyChart('timeline-chart', title, 'no task ran', dropped);

  const start = extent(clean.map((s) => s.startedAt))[0];
  const end = extent(clean.map((s) => s.finishedAt))[1];
  const lanes = [...new Set(clean.map((s) => s.lane))].sort(compareLanes);
  // A mark ('█', '▒') told kinds of work apart in the terminal; here each distinct mark gets a colour.
  const marks = [...new Set(clean.map((s) => s.mark ?? '█'))];
  const axis = niceScale(0, Math.max(end - start, 1e-3), 8, false);
  const rowHeight = lanes.length <= 14 ? 30 : Math.max(12, 420 / lanes.length);
  const fontSize = Math.min(14, rowHeight - 2);
  const labelChars = Math.min(22, extent(lanes.map((l) => l.length))[1]);
  const left = Math.max(70, 16 + labelChars * fontSize * 0.6);
  const right = 28;
  const top = 52 + (marks.length > 1 ? 28 : 0);
  const plotBottom = top + lanes.length * rowHeight;
  const height = plotBottom + 60 + (dropped ? 24 : 0);
  const x = (ms: number) => left + (ms / axis.max) * (WIDTH - left - right);
  const withTitles = clean.length <= 600;

  // Bands first, grid over them, spans on top: the grid stays visible on every row and never hides a span.
  const bands = lanes.map((_, i) =>
    i % 2 === 0
      ? `<rect class="lane-band" x="${left}" y="${num(top + i * rowHeight)}" width="${WIDTH - left - right}" ` +
        `height="${num(rowHeight)}" fill="#f3f5f8"/>`
      : '',
  );
  const rows = lanes.map((lane, i) => {
    const rowTop = top + i * rowHeight;
    const bars = clean
      .filter((s) => s.lane === lane)
      .map((s) => {
        const from = x(s.startedAt - start);
        const width = Math.max(1, x(s.finishedAt - start) - from);
        const colour = PALETTE[marks.indexOf(s.mark ?? '█') % PALETTE.length]!;
        const tip = withTitles
          ? `<title>${escapeHtml(`${lane}: ${formatValue(s.startedAt - start)}–${formatValue(s.finishedAt - start)} ms`)}</title>`
          : '';
        return (
          `<rect class="span" x="${num(from)}" y="${num(rowTop + rowHeight * 0.15)}" width="${num(width)}" ` +
          `height="${num(rowHeight * 0.7)}" fill="${colour}" stroke="#ffffff" stroke-width="0.5">${tip}</rect>`
        );
      });
    const label = lane.length > labelChars ? `${lane.slice(0, labelChars - 1)}…` : lane;
    return (
      `<g class="lane" data-lane="${escapeHtml(lane)}" data-spans="${bars.length}">` +
      text(left - 8, rowTop + rowHeight / 2 + fontSize * 0.35, label, {
        anchor: 'end',
        size: fontSize,
        cls: 'lane-label',
      }) +
      `${bars.join('')}</g>`
    );
  });
  const ticks = axis.ticks.map(
    (t) =>
      `${line(x(t), top, x(t), plotBottom, GRID)}${line(x(t), plotBottom, x(t), plotBottom + 5, MUTED)}` +
      text(x(t), plotBottom + 22, formatTick(t, axis.step), { anchor: 'middle', cls: 'tick' }),
  );
  const legend =
    marks.length > 1
      ? `<g class="legend">${marks
          .map(
            (m, i) =>
              `<g class="legend-item" data-mark="${escapeHtml(m)}">` +
              `<rect x="${24 + i * 90}" y="50" width="18" height="14" fill="${PALETTE[i % PALETTE.length]}"/>` +
              text(24 + i * 90 + 24, 62, m, {}) +
              `</g>`,
          )
          .join('')}</g>`
      : '';
  return svg(
    'timeline-chart',
    title,
    height,
    [
      `<g class="lane-bands">${bands.join('')}</g>`,
      `<g class="grid axis x-axis">${ticks.join('')}`,
      line(left, plotBottom, WIDTH - right, plotBottom, MUTED),
      text((left + WIDTH - right) / 2, plotBottom + 48, 'time since the first task started (ms)', {
        anchor: 'middle',
        cls: 'axis-label',
        size: 15,
      }),
      `</g>`,
      ...rows,
      legend,
      droppedNote(dropped, height),
    ],
    `data-lanes="${lanes.length}" data-spans="${clean.length}"`,
  );
}

export function barChart({ title, unit, bars }: BarChartOptions): string {
  if (bars.length === 0) return emptyChart('bar-chart', title, 'no data', 0);
  const finite = bars.map((b) => b.value).filter(Number.isFinite);
  const [low, high] = finite.length > 0 ? extent(finite) : [0, 0];
  const axis = niceScale(Math.min(0, low), Math.max(0, high), 6, false);
  const labelChars = Math.min(28, extent(bars.map((b) => b.label.length))[1]);
  const left = Math.max(80, 20 + labelChars * 8.6);
  const right = 110;
  const top = 52;
  const rowHeight = 36;
  const plotBottom = top + bars.length * rowHeight;
  const height = plotBottom + 40;
  const x = (v: number) => left + ((v - axis.min) / (axis.max - axis.min)) * (WIDTH - left - right);

  const rows = bars.map((b, i) => {
    const rowTop = top + i * rowHeight;
    const label = b.label.length > labelChars ? `${b.label.slice(0, labelChars - 1)}…` : b.label;
    const labelText = text(left - 10, rowTop + rowHeight / 2 + 5, label, { anchor: 'end' });
    if (!Number.isFinite(b.value)) {
      return (
        `<g class="bar bar-missing" data-label="${escapeHtml(b.label)}" data-value="${escapeHtml(String(b.value))}">` +
        `${labelText}${text(x(0) + 8, rowTop + rowHeight / 2 + 5, 'n/a (not measured)', { cls: 'value', fill: MUTED })}</g>`
      );
    }
    const from = Math.min(x(0), x(b.value));
    const width = Math.max(1, Math.abs(x(b.value) - x(0)));
    const valueX = b.value < 0 ? x(0) + 8 : x(b.value) + 8;
    return (
      `<g class="bar" data-label="${escapeHtml(b.label)}" data-value="${b.value}">${labelText}` +
      `<rect x="${num(from)}" y="${num(rowTop + 6)}" width="${num(width)}" height="${rowHeight - 12}" ` +
      `fill="${PALETTE[0]}" rx="2"/>` +
      text(valueX, rowTop + rowHeight / 2 + 5, `${formatValue(b.value)}${unit}`, {
        cls: 'value',
        weight: 600,
      }) +
      `</g>`
    );
  });
  const ticks = axis.ticks.map(
    (t) =>
      `${line(x(t), top, x(t), plotBottom, GRID)}` +
      text(x(t), plotBottom + 20, formatTick(t, axis.step), { anchor: 'middle', cls: 'tick', fill: MUTED }),
  );
  return svg('bar-chart', title, height, [
    `<g class="grid axis x-axis">${ticks.join('')}${line(x(0), top, x(0), plotBottom, MUTED)}</g>`,
    ...rows,
  ]);
}

/** [min, max] of a non-empty list; a loop, since Math.min(...xs) overflows the stack past ~100k values. */
function extent(values: number[]): [number, number] {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

function svg(kind: string, title: string, height: number, parts: string[], data = ''): string {
  return [
    `<svg class="chart ${kind}" role="img" viewBox="0 0 ${WIDTH} ${num(height)}" width="${WIDTH}" ` +
      `height="${num(height)}" font-family="${FONT}" font-size="14"${data ? ` ${data}` : ''}>`,
    `<title>${escapeHtml(title)}</title>`,
    `<rect class="chart-bg" width="${WIDTH}" height="${num(height)}" fill="#ffffff"/>`,
    text(20, 30, title, { cls: 'chart-title', size: 17, weight: 700 }),
    ...parts.filter(Boolean),
    `</svg>`,
  ].join('\n');
}

function emptyChart(kind: string, title: string, note: string, dropped: number): string {
  const why = dropped > 0 ? `${note} (${dropped} value(s) were not finite numbers)` : note;
  return svg(
    kind,
    title,
    110,
    [text(WIDTH / 2, 76, why, { anchor: 'middle', cls: 'chart-empty', fill: MUTED })],
    'data-empty="true"',
  );
}

function droppedNote(dropped: number, height: number): string {
  if (dropped === 0) return '';
  return text(20, height - 10, `${dropped} value(s) left out: not finite numbers (NaN or Infinity).`, {
    cls: 'chart-note',
    fill: MUTED,
  });
}

/** Lays legend entries left to right, wrapping to a new row when the chart's width runs out. */
function legendRows(names: string[]): {
  rows: number;
  items: Array<{ name: string; x: number; row: number }>;
} {
  const items: Array<{ name: string; x: number; row: number }> = [];
  let x = 24;
  let row = 0;
  for (const name of names) {
    const width = 36 + name.length * 8 + 28;
    if (x + width > WIDTH - 20 && x > 24) {
      row++;
      x = 24;
    }
    items.push({ name, x, row });
    x += width;
  }
  return { rows: row + 1, items };
}

interface Scale {
  min: number;
  max: number;
  step: number;
  ticks: number[];
}

/** Axis bounds and ticks on round numbers (1, 2, 2.5, 5 × 10^k); whole steps for whole-number data (workers). */
function niceScale(lo: number, hi: number, target: number, integers: boolean): Scale {
  let min = lo;
  let max = hi;
  if (!(max - min > 0) || !Number.isFinite(max - min)) {
    const pad = Math.abs(min) > 0 && Number.isFinite(min) ? Math.abs(min) * 0.1 : 1;
    min = Number.isFinite(min) ? min - (min === 0 ? 0 : pad) : 0;
    max = Number.isFinite(max) ? max + pad : 1;
  }
  const raw = (max - min) / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  let step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * magnitude;
  if (integers) step = Math.max(1, Math.ceil(step));
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const ticks = Array.from({ length: last - first + 1 }, (_, i) => roundTo((first + i) * step, step));
  return { min: first * step, max: last * step, step, ticks };
}

function roundTo(value: number, step: number): number {
  return Number(value.toFixed(decimalsOf(step) + 2));
}

/** Enough decimals for a step of 1, 2, 2.5 or 5 × 10^k (the one extra covers 2.5). */
function decimalsOf(step: number): number {
  return Math.max(0, Math.min(10, 1 - Math.floor(Math.log10(step) + 1e-9)));
}

function formatTick(value: number, step: number): string {
  const decimals = Number.isInteger(step) ? 0 : (String(step).split('.')[1]?.length ?? decimalsOf(step));
  return value.toFixed(Math.min(decimals, 10));
}

/** A value for a label or a tooltip: at most 3 significant digits after the point, no exponent for everyday sizes. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e7 || abs < 1e-3)) return value.toExponential(2);
  if (abs >= 100) return String(Math.round(value));
  return String(Number(value.toPrecision(3)));
}

/** A coordinate: one decimal is finer than a pixel at any zoom a report is read at. */
function num(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function line(x1: number, y1: number, x2: number, y2: number, stroke: string): string {
  return `<line x1="${num(x1)}" y1="${num(y1)}" x2="${num(x2)}" y2="${num(y2)}" stroke="${stroke}" stroke-width="1"/>`;
}

function text(
  x: number,
  y: number,
  content: string,
  opts: { anchor?: 'start' | 'middle' | 'end'; cls?: string; size?: number; weight?: number; fill?: string },
): string {
  const attrs = [
    `x="${num(x)}"`,
    `y="${num(y)}"`,
    opts.anchor && opts.anchor !== 'start' ? `text-anchor="${opts.anchor}"` : '',
    opts.cls ? `class="${opts.cls}"` : '',
    opts.size ? `font-size="${num(opts.size)}"` : '',
    opts.weight ? `font-weight="${opts.weight}"` : '',
    `fill="${opts.fill ?? INK}"`,
  ].filter(Boolean);
  return `<text ${attrs.join(' ')}>${escapeHtml(content)}</text>`;
}
