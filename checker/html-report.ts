/**
 * The checker's report as one self-contained HTML page (`npm run check -- --html FILE`): the machine, a verdict
 * per lab with its checks, the speedup curves against ideal and Amdahl, the per-lane timelines and the other
 * figures. Same facts as the terminal output; charts a room can read on a projector.
 */

import { busyWarning, type MachineFacts } from '../kit/machine.ts';
import { amdahl, type SpeedupAnalysis } from '../kit/speedup.ts';
import {
  type Cell,
  escapeHtml,
  htmlPage,
  htmlTable,
  numericCell,
  type PageSection,
  stamp,
} from '../kit/ui/html.ts';
import { formatValue, lineChart, timelineChart } from '../kit/ui/svg.ts';
import type { CheckReport, LabVerdict } from './grade.ts';

/** `generatedAt` is a parameter so a test can pin the date the page shows. */
export function checkReportHtml(report: CheckReport, generatedAt: Date = new Date()): string {
  const passing = report.labs.filter((v) => v.verdict === 'pass').length;
  const track = report.track === 'labs' ? 'your files (labs/)' : report.track;
  return htmlPage({
    title: 'mini-queue check report',
    subtitle: `${passing} of ${report.labs.length} lab(s) pass · ${track} · ${stamp(generatedAt)}`,
    sections: [
      { heading: 'Machine', body: machineSection(report.machine, track, generatedAt) },
      { heading: 'Verdicts', body: summarySection(report) },
      ...report.labs.map((v) => labSection(v, report.machine.cores)),
    ],
  });
}

function machineSection(machine: MachineFacts, track: string, generatedAt: Date): string {
  const quota = machine.cgroupQuota === undefined ? 'no cgroup quota' : `cgroup quota ${machine.cgroupQuota}`;
  const facts: Array<[string, string, string?]> = [
    ['Cores P', String(machine.cores), `${machine.availableParallelism} available · ${quota}`],
    ['CPU', machine.cpuModel],
    ['Node', machine.node],
    ['libuv', machine.libuv],
    ['Platform', machine.platform],
    ['Load (1 min)', String(machine.loadAverage)],
    ['Track', track],
    ['Date', stamp(generatedAt).slice(0, 10), stamp(generatedAt).slice(11)],
  ];
  const grid = facts
    .map(
      ([label, value, detail]) =>
        `<div class="fact" data-fact="${escapeHtml(label)}"><span class="label">${escapeHtml(label)}</span>` +
        `<span class="value">${escapeHtml(value)}</span>` +
        (detail ? `<span class="detail">${escapeHtml(detail)}</span>` : '') +
        `</div>`,
    )
    .join('\n');
  const warning = busyWarning(machine);
  return `<div class="facts">\n${grid}\n</div>${warning ? `\n<p class="warning">${escapeHtml(warning)}</p>` : ''}`;
}

function summarySection(report: CheckReport): string {
  const rows: Cell[][] = report.labs.map((v) => [
    v.lab,
    numericCell(`${v.passed}/${v.total}`),
    badge(v.verdict),
    v.todo ? `TODO(${v.todo})` : v.verdict === 'pass' ? '' : (v.reason ?? ''),
    numericCell(v.seconds.toFixed(1)),
  ]);
  return htmlTable(['lab', 'checks', 'verdict', 'first to fix', 'seconds'], rows);
}

function labSection(v: LabVerdict, cores: number): PageSection {
  const parts: string[] = [];
  if (v.verdict === 'fail' && v.reason) {
    parts.push(
      `<div class="reason"><p><strong>Why:</strong> ${escapeHtml(v.reason)}</p>` +
        (v.hint ? `<p><strong>Hint:</strong> ${escapeHtml(v.hint)}</p>` : '') +
        `</div>`,
    );
  }
  if (v.repeat) {
    const { runs, passed, seeds, failedSeed } = v.repeat;
    parts.push(
      `<p>${passed}/${runs} chaos runs passed (seeds ${seeds[0]}..${seeds.at(-1)})` +
        (failedSeed === undefined
          ? '.'
          : `; reproduce the first failure: <code>npm run check -- ${escapeHtml(v.lab.slice(0, 2))} --repeat 1 --seed ${failedSeed}</code>`) +
        `</p>`,
    );
  }
  // Charts before the list of checks: they are what a room looks at, and a long list would push them off screen.
  if (v.speedup) parts.push(speedupPart(v.lab, v.speedup, cores));
  for (const { label, spans } of v.timelines ?? []) {
    parts.push(`<figure class="timeline">${timelineChart({ title: label, spans })}</figure>`);
  }
  if (v.checks.length > 0) {
    const messages = v.checks.some((c) => c.message);
    // A passing lab's checks fold away (no script: <details> opens by itself); a failing lab's stay open.
    parts.push(
      `<details class="checks"${v.verdict === 'pass' ? '' : ' open'}>` +
        `<summary>Checks: ${v.passed} of ${v.total} passed</summary>`,
      htmlTable(
        messages ? ['check', 'result', 'message'] : ['check', 'result'],
        v.checks.map((c) => [c.title, badge(c.status), ...(messages ? [c.message ?? ''] : [])]),
      ),
      `</details>`,
    );
  }
  const figures = v.measurements.filter((m) => !/^T\(\d+\)$/.test(m.name));
  if (figures.length > 0) {
    parts.push(
      `<h3>Measurements</h3>`,
      htmlTable(
        ['figure', 'value', 'unit'],
        figures.map((m) => [m.name, numericCell(formatValue(m.value)), m.unit]),
      ),
    );
  }
  return { heading: `${v.lab}: ${v.verdict === 'pass' ? 'pass' : 'FAIL'}`, body: parts.join('\n') };
}

function speedupPart(lab: string, analysis: SpeedupAnalysis, cores: number): string {
  const { points, serialFraction: f, predicted, fitNote } = analysis;
  const maxP = Math.max(...points.map((p) => p.workers));
  // Whole worker counts: a fraction of a worker means nothing, and the curves are smooth enough between them.
  const workers = Array.from({ length: Math.max(1, Math.ceil(maxP)) }, (_, i) => i + 1);
  const chart = lineChart({
    title: `${lab}: speedup S against workers p`,
    xLabel: 'workers p',
    yLabel: 'speedup S = T(1) / T(p)',
    series: [
      { name: 'measured', points: points.map((p) => [p.workers, p.speedup]) },
      { name: 'ideal S = p', points: workers.map((p) => [p, p]) },
      // No curve for a fit that means nothing (see fitNote): a line drawn is a claim.
      ...(predicted
        ? [
            {
              name: `Amdahl fit (f = ${f.toFixed(3)})`,
              points: workers.map((p): [number, number] => [p, amdahl(f, p)]),
              dashed: true,
            },
          ]
        : []),
    ],
  });
  const table = htmlTable(
    ['workers p', 'seconds', 'speedup S', 'efficiency E', 'Karp–Flatt e'],
    points.map((p) => [
      p.workers,
      numericCell(p.seconds.toFixed(3)),
      numericCell(p.speedup.toFixed(2)),
      numericCell(`${Math.round(p.efficiency * 100)}%`),
      numericCell(p.karpFlatt === undefined ? '–' : p.karpFlatt.toFixed(3)),
    ]),
  );
  const prediction = predicted
    ? `<p>Amdahl fit: serial fraction <strong>${f.toFixed(3)}</strong>; it predicts S ` +
      `<strong>${predicted[8].toFixed(1)}</strong> at 8 cores, <strong>${predicted[16].toFixed(1)}</strong> at 16, ` +
      `<strong>${predicted[64].toFixed(1)}</strong> at 64 (at most ${f > 0 ? (1 / f).toFixed(1) : '∞'} on any number).</p>`
    : `<p>Amdahl fit: ${escapeHtml(fitNote ?? 'not measurable here')}.</p>`;
  // The chart has no cores marker of its own: the caption says where P is and what past it means.
  const past = points.filter((p) => p.workers > cores).map((p) => p.workers);
  const caption =
    `P = ${cores} core(s) on this machine` +
    (past.length > 0 ? `; at ${past.join(', ')} worker(s), past P, S has no core left to grow on.` : '.');
  return (
    `<h3>Speedup</h3>\n<figure class="speedup">${chart}<figcaption>${escapeHtml(caption)}</figcaption></figure>\n` +
    `${table}\n${prediction}`
  );
}

function badge(status: 'pass' | 'fail' | 'passed' | 'failed' | 'skipped'): Cell {
  const cls = status.startsWith('pass') ? 'pass' : status.startsWith('fail') ? 'fail' : 'skipped';
  const label = cls === 'pass' ? 'PASS' : cls === 'fail' ? 'FAIL' : 'SKIP';
  return { html: `<span class="badge ${cls}">${label}</span>` };
}
