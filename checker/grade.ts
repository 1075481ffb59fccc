import { readHints } from '../kit/hints.ts';
import type { LabInfo } from '../kit/labs.ts';
import type { CheckReport, LabVerdict } from '../kit/report.ts';
import { analyse, type SpeedupAnalysis } from '../kit/speedup.ts';
import { findTodos } from '../kit/todos.ts';
import type { Track } from '../mini-queue/parts.ts';
import { runSpec, type SpecRun } from './run-spec.ts';

/** The `T(p)` figures of a spec (seconds at p workers) as an analysed curve, or undefined without a p = 1 point. */
export function curveOf(measurements: SpecRun['measurements']): SpeedupAnalysis | undefined {
  const points = measurements.flatMap((m) => {
    const match = /^T\((\d+)\)$/.exec(m.name);
    return match ? [{ workers: Number(match[1]), seconds: m.value }] : [];
  });
  return points.some((p) => p.workers === 1) ? analyse(points) : undefined;
}

/** Grades one lab on one track. */
export async function checkLab(
  lab: LabInfo,
  track: Track,
  env: Record<string, string> = {},
  only?: string,
): Promise<LabVerdict> {
  if (!lab.spec) {
    return {
      lab: lab.name,
      track,
      passed: 0,
      total: 0,
      verdict: 'fail',
      reason: 'no spec yet',
      checks: [],
      measurements: [],
      seconds: 0,
    };
  }
  const run = await runSpec(lab.spec, track, env, only);
  // Checks left out by `only` are reported skipped: they neither pass nor count.
  const ran = run.checks.filter((c) => c.status !== 'skipped');
  const passed = ran.filter((c) => c.status === 'passed').length;
  const total = ran.length;
  const verdict: LabVerdict = {
    lab: lab.name,
    track,
    passed,
    total,
    verdict: !run.error && total > 0 && passed === total ? 'pass' : 'fail',
    checks: run.checks,
    measurements: run.measurements,
    seconds: run.seconds,
  };
  const curve = curveOf(run.measurements);
  if (curve) verdict.speedup = curve;
  if (run.timelines.length > 0) verdict.timelines = run.timelines;
  if (verdict.verdict === 'pass') return verdict;
  const failed = run.checks.find((c) => c.status === 'failed');
  const todo = run.checks.find((c) => c.todo)?.todo;
  if (run.error) {
    verdict.reason = run.error;
  } else if (todo) {
    const where = findTodos(lab.folder).find((t) => t.id === todo.todo)?.where;
    verdict.todo = todo.todo;
    verdict.reason = `TODO(${todo.todo}) not done: ${todo.hint}${where ? ` (${where})` : ''}`;
    const hint = readHints(lab.folder).get(todo.todo)?.[0];
    if (hint) verdict.hint = hint;
  } else if (failed) {
    // A user-facing error (no Redis, a bad option) is the whole story; else the check's name and what missed.
    verdict.reason = failed.message?.startsWith('UserError:')
      ? failed.message.replace(/^UserError:\s*/, '')
      : `${failed.title}: ${failed.message ?? 'failed'}`;
  } else {
    verdict.reason = 'the spec ran no check';
  }
  return verdict;
}

/**
 * Runs a lab's spec `runs` times under chaos (MQ_CHAOS_SEED = seed, seed + 1, ...: random delays around every
 * Redis command, see checker/redis-chaos.ts), so a race that passes on a quiet machine by luck shows up. The
 * verdict is the first failing run's, or the last run's when all pass.
 */
export async function checkLabRepeated(
  lab: LabInfo,
  track: Track,
  runs: number,
  seed: number,
  env: Record<string, string> = {},
): Promise<LabVerdict> {
  let last: LabVerdict | undefined;
  let passed = 0;
  let failed: LabVerdict | undefined;
  let failedSeed: number | undefined;
  const seeds: number[] = [];
  for (let i = 0; i < runs; i++) {
    const runSeed = seed + i;
    seeds.push(runSeed);
    last = await checkLab(lab, track, { ...env, MQ_CHAOS_SEED: String(runSeed) });
    if (last.verdict === 'pass') passed++;
    else if (!failed) {
      failed = last;
      failedSeed = runSeed;
    }
  }
  const verdict = failed ?? last!;
  return {
    ...verdict,
    verdict: passed === runs ? 'pass' : 'fail',
    repeat: { runs, passed, seeds, ...(failedSeed === undefined ? {} : { failedSeed }) },
  };
}

export type { CheckReport, LabVerdict };
