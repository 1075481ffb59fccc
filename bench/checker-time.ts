/**
 * Section 6: the checker's own time. `npm run check -- --solution` grades every lab on the reference track, the
 * command an attendee runs most; it must stay quick (under 90 s on a quiet 2-core machine). One run, in a fresh
 * process, its wall time measured here and its CPU time (user + sys of the whole process tree, which load disturbs
 * less) read from the kernel once the child is reaped; the per-lab seconds come from its JSON report.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, type Row, since } from './stats.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** The bar the issue sets, on a quiet 2-core machine. */
export const CHECKER_BAR_SECONDS = 90;

export interface CheckerTimeResult {
  wallSeconds: number;
  /** user + sys of the checker and every process it started (children waited for), s. */
  cpuSeconds: number;
  /** 1-minute load average when it started: above the core count, the wall time says more about the machine. */
  loadAtStart: number;
  passed: boolean;
  labs: Array<{ lab: string; seconds: number; passed: number; total: number }>;
}

interface CheckReportFile {
  passed: boolean;
  labs: Array<{ lab: string; seconds: number; passed: number; total: number }>;
}

export async function runCheckerTime(): Promise<CheckerTimeResult> {
  const folder = mkdtempSync(join(tmpdir(), 'mq-bench-check-'));
  const report = join(folder, 'check.json');
  const loadAtStart = loadavg()[0]!;
  // Children this process waited for before (other sections' runs) are in the same counter: take the difference.
  const cpuBefore = childrenCpuSeconds();
  const started = performance.now();
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'checker', '--solution', '--json', report], {
        cwd: ROOT,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      child.once('error', reject);
      child.once('exit', resolve);
    });
    const wallSeconds = since(started);
    const parsed = JSON.parse(readFileSync(report, 'utf8')) as CheckReportFile;
    return {
      wallSeconds,
      cpuSeconds: childrenCpuSeconds() - cpuBefore,
      loadAtStart,
      passed: code === 0 && parsed.passed,
      labs: parsed.labs.map(({ lab, seconds, passed, total }) => ({ lab, seconds, passed, total })),
    };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/**
 * CPU of the children (and theirs) this process has waited for, s: Node has no getrusage(RUSAGE_CHILDREN); Linux's
 * /proc does (NaN elsewhere).
 */
function childrenCpuSeconds(): number {
  try {
    // Fields 16 and 17 of /proc/self/stat: cutime and cstime, in clock ticks (100 a second on Linux).
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return Number.NaN;
  }
}

export function checkerRows(result: CheckerTimeResult): Row[] {
  return [
    {
      section: '6 checker',
      measure: `npm run check -- --solution: wall s (load ${result.loadAtStart.toFixed(1)} at start; ratio: bar / ours)`,
      ours: `${fmt(result.wallSeconds, 1)} s${result.passed ? '' : ' (FAILED)'}`,
      theirs: `bar ${CHECKER_BAR_SECONDS} s`,
      ratio: CHECKER_BAR_SECONDS / result.wallSeconds,
      spread: '-',
    },
  ];
}
