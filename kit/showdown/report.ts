/**
 * Lab 06's results as one self-contained HTML page (`npx tsx labs/06-showdown --html FILE`): the web demo's
 * /health latencies, every pool on every workload, the advice next to Celery's, and one timeline. Pure: data
 * in, markup out, so a test can render a fixture in a browser without measuring anything.
 */
import { LOOP_DELAY_RESOLUTION_MS as RESOLUTION_MS } from '../../mini-queue/loop-health.ts';
import type { PoolKind } from '../../mini-queue/pool.ts';
import {
  type Cell,
  escapeHtml,
  htmlPage,
  htmlTable,
  numericCell,
  type PageSection,
  stamp,
} from '../ui/html.ts';
import { barChart, timelineChart } from '../ui/svg.ts';
import { CELERY, CELERY_SAYS, celeryVerdict } from './celery.ts';
import { CHEAP_VISITORS, HEAVY_VISITORS, RATIO, RUSH_MS } from './constants.ts';
import type { Advice } from './contract.ts';
import { poolGridRows } from './pool-grid.ts';
import { timelineCell } from './timeline-cell.ts';
import type { ShowdownCell, ShowdownReport, WebResult } from './types.ts';

/** `generatedAt` is a parameter so a test can pin the date the page shows. */
export function showdownHtml(input: ShowdownReport, generatedAt: Date = new Date()): string {
  const sections: PageSection[] = [];
  if (input.web) sections.push(webSection(input.web));
  if (input.cells.length > 0) sections.push(...showdownSections(input));
  return htmlPage({
    title: 'concurrency-lab 06: the showdown',
    subtitle: `${stamp(generatedAt)}, ${input.cores} core(s), Node ${input.node}`,
    sections,
  });
}

function webSection(web: WebResult): PageSection {
  const { inline, offload } = web;
  return {
    heading: 'A web app that stays fast',
    body:
      `<p>${HEAVY_VISITORS} visitors ask for thumbnails (size ${web.size}, ~${web.ms.toFixed(0)} ms of CPU each) while ` +
      `${CHEAP_VISITORS} others keep asking <code>GET /health</code>, for ${RUSH_MS / 1000} s per design. ` +
      `Offloaded to a worker process, /health's p99 is <strong>${web.ratio.toFixed(0)}x</strong> lower (bar: ${RATIO}x).</p>\n` +
      barChart({
        title: 'GET /health latency while thumbnails are being made (ms)',
        unit: ' ms',
        bars: [
          { label: 'inline p50', value: legible(inline.cheap.p50) },
          { label: 'inline p99', value: legible(inline.cheap.p99) },
          { label: 'offloaded p50', value: legible(offload.cheap.p50) },
          { label: 'offloaded p99', value: legible(offload.cheap.p99) },
        ],
      }) +
      htmlTable(
        [
          'POST /thumbnail',
          '/health p50 ms',
          'p99 ms',
          'max ms',
          'req/s',
          'answered in (p50) ms',
          'thumbnails',
        ],
        (
          [
            ['computed inline', inline],
            ['offloaded (202)', offload],
          ] as const
        ).map(([label, result]) => [
          label,
          fixed(result.cheap.p50, 1),
          fixed(result.cheap.p99, 1),
          fixed(result.cheap.max, 0),
          fixed(result.cheap.perSecond, 0),
          fixed(result.heavy.answered.p50, 1),
          `${result.heavy.succeeded}/${result.heavy.sent}`,
        ]),
      ),
  };
}

function showdownSections({ cells, advice: advised, loopLimitMs }: ShowdownReport): PageSection[] {
  const workloads = [...new Set(cells.map((c) => c.row.workload))];
  const sections: PageSection[] = [
    {
      heading: 'Every pool on every kind of work',
      body:
        poolTable(cells, workloads, loopLimitMs) +
        workloads
          .map((w) =>
            barChart({
              title: `Throughput on ${w} work (tasks/s)`,
              unit: ' tasks/s',
              bars: cells
                .filter((c) => c.row.workload === w)
                .map((c) => ({
                  label: `${c.row.pool} x${c.row.concurrency}`,
                  value: legible(c.row.throughput),
                })),
            }),
          )
          .join('\n') +
        // Every figure of every row, for whoever wants the tasks counted; folded, since the table above says it.
        `\n<details>\n<summary>Every figure, one row per pool and workload</summary>\n${rowsTable(cells)}\n</details>`,
    },
    { heading: 'Which pool for which work', body: adviceList(cells, advised) },
  ];
  const shown = timelineCell(cells, advised);
  if (shown) {
    sections.push({
      heading: `Timeline: ${shown.row.pool} on ${shown.row.workload} work`,
      body: timelineChart({
        title: `${shown.row.pool} x${shown.row.concurrency}, ${shown.row.workload}: one row per lane`,
        spans: shown.spans,
      }),
    });
  }
  return sections;
}

/**
 * The terminal's table: one row per pool, one column per workload, each cell its tasks/s, speedup and how late
 * the main loop ran its timers. Loops later than `loopLimitMs` (the bar recommendPool holds pools to) are in bold;
 * the terminal reddens anything over the meter's resolution, which here would be most of the table.
 */
function poolTable(cells: ShowdownCell[], workloads: string[], loopLimitMs: number): string {
  const table = htmlTable(
    ['pool', 'Celery', 'C', ...workloads],
    poolGridRows(cells, workloads, (row): Cell => {
      const speed = Number.isFinite(row.speedup) ? ` x${row.speedup.toFixed(1)}` : '';
      const loop = `loop ${row.loopDelayP99.toFixed(1)} ms`;
      return {
        html:
          `${row.throughput.toFixed(0)}/s${speed}<br>` +
          (row.loopDelayP99 > loopLimitMs
            ? `<strong>${loop}</strong>`
            : `<span class="note">${loop}</span>`) +
          (row.failed > 0 ? `<br><strong>${row.failed} failed</strong>` : ''),
        numeric: true,
      };
    }),
  );
  const note =
    `Each cell: tasks/s, speedup against solo, and how late the main thread ran its timers (monitorEventLoopDelay ` +
    `p99 minus its ${RESOLUTION_MS} ms resolution). <strong>In bold</strong>: over ${loopLimitMs} ms, so a worker ` +
    'on that pool would also renew its leases and notice a shutdown that late: recommendPool passes such a pool ' +
    'over unless every pool was that late.';
  return `${table}\n<p class="note">${note}</p>\n`;
}

function rowsTable(cells: ShowdownCell[]): string {
  return htmlTable(
    ['pool', 'Celery', 'workload', 'C', 'tasks', 'failed', 'tasks/s', 'x solo', 'main loop p99 ms'],
    cells.map(({ row }) => [
      row.pool,
      CELERY[row.pool],
      row.workload,
      row.concurrency,
      row.tasks,
      row.failed,
      fixed(row.throughput, 1),
      Number.isFinite(row.speedup) ? fixed(row.speedup, 2) : '',
      fixed(row.loopDelayP99, 1),
    ]),
  );
}

/** The advice, each with Celery's words under it and whether the measurements agree, as in the terminal. */
function adviceList(cells: ShowdownCell[], advised: Advice[]): string {
  // Pools with no row were skipped (a lab of the attendee's not finished): disagreeing without them proves little.
  const raced = new Set(cells.map((c) => c.row.pool));
  const missing = (Object.keys(CELERY) as PoolKind[]).filter((p) => !raced.has(p)).length;
  const items = advised.map((a) => {
    const celery = CELERY_SAYS[a.workload];
    const verdict = celeryVerdict(a.workload, a.pool, missing);
    const said = verdict ? ` ${verdict.text}` : '';
    return (
      `<li data-workload="${escapeHtml(a.workload)}"><strong>${escapeHtml(a.workload)}</strong> → ` +
      `<strong>${escapeHtml(a.pool)}</strong> (${escapeHtml(CELERY[a.pool])}): ${escapeHtml(a.reason)}.` +
      (celery ? `<br><em class="note">${escapeHtml(celery.says)}${escapeHtml(said)}</em>` : '') +
      `</li>`
    );
  });
  return `<ul>\n${items.join('\n')}\n</ul>`;
}

/** A fixed number of decimals: 2.0 stays 2.0, so a column's points line up. */
function fixed(value: number, digits: number): Cell {
  return numericCell(value.toFixed(digits));
}

/**
 * A value for a bar: whole above 10, one decimal below, as the terminal and the tables print it. The chart labels
 * each bar with three significant digits, which put '49.7 tasks/s' next to '50 tasks/s' and '0.988 ms' next to
 * '1.0' in the table; a pixel of bar length is all the rounding costs.
 */
function legible(value: number): number {
  return Math.abs(value) >= 10 ? Math.round(value) : Math.round(value * 10) / 10;
}
