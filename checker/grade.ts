import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readHints } from '../kit/hints.ts';
import type { LabInfo } from '../kit/labs.ts';
import { machineFacts } from '../kit/machine.ts';
import type { CheckReport, CheckResult, FirstFailure, LabVerdict } from '../kit/report.ts';
import { repoPath } from '../kit/source-errors.ts';
import { analyse, type SpeedupAnalysis } from '../kit/speedup.ts';
import { findTodos, REPO_ROOT } from '../kit/todos.ts';
import type { Track } from '../mini-queue/parts.ts';
import { type CompileResult, compileLabLua, compileMessage, parseLab, typeCheckLab } from './compile.ts';
import { todoOfTitle } from './failure.ts';
import { runSpec, type SpecEvent, type SpecRun } from './run-spec.ts';

/** The `T(p)` figures of a spec (seconds at p workers) as an analysed curve, or undefined without a p = 1 point. */
export function curveOf(measurements: SpecRun['measurements']): SpeedupAnalysis | undefined {
  const points = measurements.flatMap((m) => {
    const match = /^T\((\d+)\)$/.exec(m.name);
    return match ? [{ workers: Number(match[1]), seconds: m.value }] : [];
  });
  return points.some((p) => p.workers === 1) ? analyse(points, machineFacts().cores) : undefined;
}

export interface CheckLabOptions {
  /** Each check as it finishes, so a terminal can stream them: see SpecEvent. */
  onEvent?: (event: SpecEvent) => void;
  /** Type-check the lab's files as part of "NN compiles". @default true */
  types?: boolean;
  /**
   * The other labs this run grades on the same track: type-checked in the same program as this one, their
   * results kept for their turn (one compiler program per run, not per lab).
   */
  alongside?: string[];
  /**
   * The lab's turn, when it is started ahead of it (`npm run check` starts the next lab while one runs): its Lua
   * is compiled and its spec process boots and collects its checks now, and waits for the turn to run them.
   * Nothing is reported before the turn; the verdict's seconds start with it.
   */
  turn?: Promise<void>;
  /**
   * Called once the lab's files are compiled (or found not to compile). The type check is seconds of synchronous
   * CPU on this thread: a caller that grades labs side by side starts the next one after it, so no Redis round
   * trip of another lab waits out its time limit behind it.
   */
  onCompiled?: () => void;
  /**
   * What runs the spec: a process of its own (runSpec) unless given, e.g. SpecBatch's runners, which grade many
   * tracks one after another (checker/spec-batch.ts). @default runSpec
   */
  runSpec?: typeof runSpec;
}

/**
 * Grades one lab on one track: its files compile ("NN compiles": parse, types, floating promises, Lua), then its
 * spec. The verdict names the first failing check in TODO order with its own message and the learner's file:line;
 * a stub not written yet is shown as its TODO's guidance.
 */
export async function checkLab(
  lab: LabInfo,
  track: Track,
  env: Record<string, string> = {},
  only?: string,
  options: CheckLabOptions = {},
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
  const root = dirname(dirname(lab.folder));
  let started = Date.now();
  let turnAt = options.turn ? undefined : started;
  void options.turn?.then(() => {
    started = Date.now();
    turnAt = started;
  });
  const compileTitle = `${lab.id} compiles`;
  const unparsable = ' (no check ran: a file that does not compile cannot be loaded)';
  const lua = await compileLabLua(root, track, lab.name);
  if (lua.unparsable) {
    options.onCompiled?.();
    await options.turn;
    return compileOnly(lab, track, compileCheck(compileTitle, lua, unparsable), options);
  }
  // The compile check is shown first, once the spec's checks are counted: events wait for both.
  let compiled: CheckResult | undefined;
  let collected: string[] | undefined;
  let shown = false;
  const held: SpecEvent[] = [];
  const show = () => {
    if (shown || !compiled) return;
    shown = true;
    const titles = compiled.status === 'skipped' ? [] : [compileTitle];
    options.onEvent?.({ type: 'collected', titles: [...titles, ...(collected ?? [])] });
    options.onEvent?.({ type: 'check', check: compiled });
    for (const event of held.splice(0)) options.onEvent?.(event);
  };
  // The spec's process starts first: vitest boots while the compiler works here.
  const stop = new AbortController();
  const spec = (options.runSpec ?? runSpec)(lab.spec, track, env, {
    only,
    root,
    signal: stop.signal,
    ...(options.turn ? { turn: options.turn } : {}),
    onEvent: (event) => {
      if (event.type === 'collected') {
        collected = event.titles;
        show();
      } else if (shown) options.onEvent?.(event);
      else held.push(event);
    },
  });
  const parsed = await parseLab(root, track, lab.name);
  if (parsed.unparsable) {
    // Every check would fail on importing the file: say where it does not parse, and stop the spec.
    options.onCompiled?.();
    stop.abort();
    await spec;
    await options.turn;
    return compileOnly(lab, track, compileCheck(compileTitle, parsed, unparsable), options);
  }
  if (options.types === false) {
    // Types not wanted (the kit's own tests of wrong variants, whose flaws are all behaviour: seconds of compiler
    // per run, 157 times); the parse and Lua steps above still ran, since no check loads without them.
    compiled = { title: compileTitle, status: 'skipped', seconds: 0 };
  } else {
    const typed = await typeCheckLab(root, track, lab.name, options.alongside);
    const seconds = lua.seconds + parsed.seconds + typed.seconds;
    // Started ahead of its turn, the lab was compiled while another ran: only what is left at its turn is waited.
    const waited = turnAt === undefined ? 0 : Math.min(seconds, (Date.now() - turnAt) / 1000);
    compiled = compileCheck(compileTitle, { ...typed, seconds: waited });
  }
  options.onCompiled?.();
  if (collected) show();
  const run = await spec;
  show();
  const checks = [compiled, ...run.checks];
  // Checks left out by `only` are reported skipped: they neither pass nor count.
  const ran = checks.filter((c) => c.status !== 'skipped');
  const passed = ran.filter((c) => c.status === 'passed').length;
  const total = ran.length;
  const verdict: LabVerdict = {
    lab: lab.name,
    track,
    passed,
    total,
    // The compile check alone passes nothing: a lab passes when its spec ran checks, and every check passed.
    verdict:
      !run.error && run.checks.some((c) => c.status !== 'skipped') && passed === total ? 'pass' : 'fail',
    checks,
    measurements: run.measurements,
    seconds: Number(((Date.now() - started) / 1000).toFixed(1)),
  };
  const curve = curveOf(run.measurements);
  if (curve) verdict.speedup = curve;
  if (run.timelines.length > 0) verdict.timelines = run.timelines;
  if (verdict.verdict === 'pass') return verdict;
  const failed = firstFailing(checks);
  if (!failed) {
    verdict.reason = run.error ?? 'the spec ran no check';
    return verdict;
  }
  const first: FirstFailure = { check: failed.title, message: failed.message ?? 'failed' };
  if (failed.where) first.where = failed.where;
  const todo = failed.todo?.todo ?? todoOfTitle(failed.title);
  if (todo) first.todo = todo;
  if (failed.todo) {
    // A stub not written yet: the TODO's guidance, where its marker is in the files graded.
    first.stub = true;
    const graded = join(root, track, lab.name);
    const marker = existsSync(graded) ? findTodos(graded).find((t) => t.id === failed.todo!.todo) : undefined;
    const where = marker ? repoPath(join(REPO_ROOT, marker.where), root) : failed.where;
    if (where) first.where = where;
    verdict.reason = `TODO(${failed.todo.todo}) not done: ${failed.todo.hint}${where ? ` (${where})` : ''}`;
  } else if (failed.message?.startsWith('UserError:')) {
    // A user-facing error (no Redis, a bad option) is the whole story.
    first.message = failed.message.replace(/^UserError:\s*/, '');
    verdict.reason = first.message;
  } else {
    verdict.reason = `${failed.title}: ${first.message}${first.where && !first.message.startsWith(first.where) ? ` (${first.where})` : ''}`;
  }
  verdict.firstFailure = first;
  if (todo) {
    verdict.todo = todo;
    const hint = readHints(lab.folder).get(todo)?.[0];
    if (hint) verdict.hint = hint;
  }
  return verdict;
}

/** A lab whose files do not compile: that check alone, failed, and its verdict (the spec did not run). */
function compileOnly(lab: LabInfo, track: Track, check: CheckResult, options: CheckLabOptions): LabVerdict {
  options.onEvent?.({ type: 'collected', titles: [check.title] });
  options.onEvent?.({ type: 'check', check });
  const first: FirstFailure = { check: check.title, message: check.message ?? 'failed' };
  if (check.where) first.where = check.where;
  return {
    lab: lab.name,
    track,
    passed: 0,
    total: 1,
    verdict: 'fail',
    reason: `${check.title}: ${first.message}`,
    firstFailure: first,
    checks: [check],
    measurements: [],
    seconds: check.seconds ?? 0,
  };
}

function compileCheck(title: string, result: CompileResult, after = ''): CheckResult {
  const message = compileMessage(result);
  const check: CheckResult = {
    title,
    status: message ? 'failed' : 'passed',
    seconds: Number(result.seconds.toFixed(2)),
  };
  if (message) {
    check.message = `${message}${after}`;
    check.where = result.problems[0]!.where;
  }
  return check;
}

/**
 * The check to fix first: failed ones in TODO order (the compile check, then `NN.1`, `NN.2`, ... by their title,
 * then the lab's whole-part checks), spec order among equals. A check that did not run comes last: the one that
 * stopped the run is the story.
 */
export function firstFailing(checks: CheckResult[]): CheckResult | undefined {
  const rank = (c: CheckResult, index: number): [number, number, number] => {
    if (c.notRun) return [3, 0, index];
    if (/^\d\d compiles$/.test(c.title)) return [0, 0, index];
    const todo = todoOfTitle(c.title);
    return todo ? [1, Number(todo.split('.')[1]), index] : [2, 0, index];
  };
  const failed = checks.flatMap((c, i) => (c.status === 'failed' ? [{ c, key: rank(c, i) }] : []));
  failed.sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.key[2] - b.key[2]);
  return failed[0]?.c;
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
  options: CheckLabOptions = {},
): Promise<LabVerdict> {
  let last: LabVerdict | undefined;
  let passed = 0;
  let failed: LabVerdict | undefined;
  let failedSeed: number | undefined;
  const seeds: number[] = [];
  for (let i = 0; i < runs; i++) {
    const runSeed = seed + i;
    seeds.push(runSeed);
    last = await checkLab(lab, track, { ...env, MQ_CHAOS_SEED: String(runSeed) }, undefined, options);
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

export type { CheckReport, LabVerdict, SpecEvent };
