import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import type { CheckEvent, CheckResult, SpecRun, Timeline } from '../kit/report.ts';
import { reapOrphans } from '../kit/throwaway.ts';
import { REPO_ROOT } from '../kit/todos.ts';
import type { Span } from '../kit/ui/timeline.ts';
import type { Track } from '../mini-queue/parts.ts';
import { describeFailure, firstLine } from './failure.ts';
import type { RawError, StreamEvent } from './stream-events.ts';
import { checkTimeLimitS } from './time-limits.ts';

// vitest's CLI entry, found through its package.json (its `exports` do not list the bin file).
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const REPORTER = fileURLToPath(new URL('./stream-reporter.ts', import.meta.url));

/**
 * The backstop: a spec that runs longer than this is stopped, whatever its checks' own limits. Each check has its
 * own, much shorter, limit (checker/time-limits.ts); this one catches what vitest cannot interrupt (a loop that
 * never yields on vitest's side), and the report names the check that was running. MQ_CHECK_SPEC_LIMIT_S changes
 * it (the kit's own tests shorten it).
 */
export const SPEC_TIME_LIMIT_MS = 180_000;

function specTimeLimitMs(): number {
  const given = Number(process.env.MQ_CHECK_SPEC_LIMIT_S);
  return Number.isFinite(given) && given > 0 ? given * 1000 : SPEC_TIME_LIMIT_MS;
}

export type SpecEvent = CheckEvent;

export interface RunSpecOptions {
  /** Only the checks whose names match (vitest's -t). */
  only?: string | undefined;
  onEvent?: (event: SpecEvent) => void;
  /** The kit root holding the track folder. @default REPO_ROOT */
  root?: string;
  /** Stops the run (the grader found a file that does not parse: every check would fail on it). */
  signal?: AbortSignal;
  /**
   * The spec's turn: its process starts now, boots vitest, loads the spec and collects its checks, then waits
   * (checker/spec-setup.ts) until this resolves before any hook or check of the spec runs. Its events, time
   * limits and seconds start with its turn. `npm run check` starts the next lab this way while one lab runs, so
   * the seconds of a vitest start-up are paid beside a lab's first checks rather than between two labs.
   */
  turn?: Promise<void>;
}

/**
 * Spec process groups still running. Detached (so a time-out can kill a whole group), they miss the terminal's
 * Ctrl-C: while any runs we listen for it, stop them, and exit unless the program has its own handler (the lab
 * menu goes back to its menu).
 */
const running = new Set<number>();
function onSignal(signal: NodeJS.Signals): void {
  for (const pid of running) killGroup(pid);
  if (process.listenerCount(signal) === 1) process.exit(130);
}
function watchGroup(pid: number): void {
  if (running.size === 0) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', killAll);
  }
  running.add(pid);
}
function unwatchGroup(pid: number): void {
  running.delete(pid);
  if (running.size === 0) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killAll);
  }
}
function killAll(): void {
  for (const pid of running) killGroup(pid);
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {}
}

/**
 * Runs one lab's spec file in its own vitest process, against one track. A process of its own keeps one lab's hung
 * thread or crash out of the others, and keeps timing runs alone. Checks stream in as they finish (a reporter
 * writes one JSON line each, tailed here). The first check that hangs past its time limit stops the run: the next
 * ones would most likely hang on the same code, minutes of silence for nothing.
 */
export async function runSpec(
  spec: string,
  track: Track,
  env: Record<string, string> = {},
  options: RunSpecOptions = {},
): Promise<SpecRun> {
  const root = options.root ?? REPO_ROOT;
  const lab = basename(spec).replace(/\.spec\.ts$/, '');
  const limitS = checkTimeLimitS(lab);
  const dir = mkdtempSync(join(tmpdir(), 'mq-check-'));
  const stream = join(dir, 'checks.jsonl');
  const measurements = join(dir, 'measurements.jsonl');
  const gate = join(dir, 'turn');
  let started = Date.now();
  const args = [
    VITEST,
    'run',
    '--config',
    'checker/vitest.config.ts',
    spec,
    `--reporter=${REPORTER}`,
    `--testTimeout=${limitS * 1000}`,
    `--hookTimeout=${limitS * 1000}`,
    // Only the checks whose names match (vitest's -t): the kit's own test runs a wrong variant against the checks
    // written for its flaw, not the whole spec.
    ...(options.only ? ['-t', options.only] : []),
  ];

  // Until its turn, the spec's events wait here: it only collects its checks before then.
  let held: SpecEvent[] | undefined = options.turn ? [] : undefined;
  const state = new RunState(root, track, lab, (event) =>
    held ? held.push(event) : options.onEvent?.(event),
  );
  const output = await new Promise<string>((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: {
        ...process.env,
        ...env,
        MQ_TRACK: track,
        MQ_CHECK_MEASUREMENTS: measurements,
        MQ_CHECK_STREAM: stream,
        ...(options.turn ? { MQ_CHECK_GATE: gate, MQ_CHECK_PARENT: String(process.pid) } : {}),
        FORCE_COLOR: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a time-out can stop everything it started.
      detached: true,
    });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    const tail = new Tail(stream);
    const stop = (why: 'hang' | 'backstop' | 'aborted') => {
      state.stopped ??= why;
      killGroup(child.pid!);
    };
    const poll = setInterval(() => {
      for (const event of tail.read()) state.take(event);
      if (state.hung) stop('hang');
      state.noticeSlow(limitS);
    }, 100);
    // Past the backstop, the whole process group goes: vitest's workers and any thread or child a lab started.
    let backstop: NodeJS.Timeout | undefined;
    let closed = false;
    const go = () => {
      started = Date.now();
      state.turnStarts();
      // What it said before its turn (its checks collected; or why it could not start) is told now.
      for (const event of held?.splice(0) ?? []) options.onEvent?.(event);
      held = undefined;
      if (closed) return;
      backstop = setTimeout(() => stop('backstop'), specTimeLimitMs());
      if (options.turn) writeFileSync(gate, '');
    };
    if (options.turn) options.turn.then(go, () => stop('aborted'));
    else go();
    const abort = () => stop('aborted');
    options.signal?.addEventListener('abort', abort);
    watchGroup(child.pid!);
    child.on('close', () => {
      closed = true;
      unwatchGroup(child.pid!);
      clearInterval(poll);
      clearTimeout(backstop);
      options.signal?.removeEventListener('abort', abort);
      for (const event of tail.read()) state.take(event);
      tail.close();
      resolve(text);
    });
  });
  // A spec killed mid-run (hung check, backstop) could not drop its queues: drop them now, not at the TTL.
  if (state.stopped) await reapOrphans().catch(() => {});
  // A spec that ended before its turn (it could not start) is reported on its turn.
  await options.turn?.catch(() => {});
  const seconds = (Date.now() - started) / 1000;
  try {
    const checks = state.finish();
    const run: SpecRun = { checks, ...readMeasurements(measurements), seconds };
    if (state.stopped === 'backstop') {
      const at = state.running ? ` while '${state.running}' was running` : '';
      run.error = `the spec took longer than ${specTimeLimitMs() / 1000} s and was stopped${at}: is something blocking forever (a loop that never yields, a task that never settles)?`;
      if (state.running) run.running = state.running;
    } else if (checks.length === 0) {
      run.error = firstMeaningfulLine(output);
    }
    if (state.hung) run.hung = state.hung;
    return run;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The checks as the stream reports them, turned into results as they arrive. */
class RunState {
  private readonly order: string[] = [];
  private readonly results = new Map<string, CheckResult>();
  private readonly skipped = new Set<string>();
  private moduleErrors: RawError[] = [];
  /** The check running now, and since when. */
  running: string | undefined;
  /** When the running check started: its start event, else the end of the one before (or the run's start). */
  private runningSince = Date.now();
  private slowNoticed = false;
  /** The first check that ran past its time limit. */
  hung: string | undefined;
  stopped: 'hang' | 'backstop' | 'aborted' | undefined;

  constructor(
    private readonly root: string,
    private readonly track: string,
    private readonly lab: string,
    private readonly onEvent: RunSpecOptions['onEvent'],
  ) {}

  take(event: StreamEvent): void {
    switch (event.type) {
      case 'collected': {
        for (const t of event.tests) {
          this.order.push(t.title);
          if (t.skip) this.skipped.add(t.title);
        }
        this.runningSince = Date.now();
        this.onEvent?.({ type: 'collected', titles: event.tests.filter((t) => !t.skip).map((t) => t.title) });
        return;
      }
      case 'start':
        this.running = event.title;
        this.runningSince = Date.now();
        this.slowNoticed = false;
        this.onEvent?.({ type: 'start', title: event.title });
        return;
      case 'end': {
        if (this.running === event.title) this.running = undefined;
        this.runningSince = Date.now();
        if (event.state === 'skipped' && this.skipped.has(event.title)) return;
        const check = this.result(event.title, event.state, event.errors, event.seconds);
        this.results.set(event.title, check);
        if (check.hung) this.hung ??= event.title;
        this.onEvent?.({ type: 'check', check });
        return;
      }
      case 'module-error':
      case 'run-end':
        this.moduleErrors.push(...event.errors);
        return;
    }
  }

  /** The spec's turn came (it may have collected its checks long before): time limits count from now. */
  turnStarts(): void {
    this.runningSince = Date.now();
  }

  noticeSlow(limitS: number): void {
    if (!this.running || this.slowNoticed) return;
    const seconds = (Date.now() - this.runningSince) / 1000;
    if (seconds < limitS / 2) return;
    this.slowNoticed = true;
    this.onEvent?.({ type: 'slow', title: this.running, seconds: Math.round(seconds), limitS });
  }

  private result(
    title: string,
    state: 'passed' | 'failed' | 'skipped',
    errors: RawError[],
    seconds: number,
  ): CheckResult {
    const check: CheckResult = { title, status: state, seconds: Number(seconds.toFixed(2)) };
    const error = errors[0];
    if (state !== 'failed' || !error) return check;
    const failure = describeFailure(error, { root: this.root, track: this.track, lab: this.lab, title });
    check.message = failure.message;
    if (failure.where) check.where = failure.where;
    if (failure.todo) check.todo = failure.todo;
    if (failure.hung) check.hung = true;
    return check;
  }

  /** Every check in spec order: those cut short by a hang or the backstop are reported as not run. */
  finish(): CheckResult[] {
    // Checks run one after another: with no start heard (a worker stuck in a loop cannot even report it), the
    // first one without a result is the one that was running.
    this.running ??= this.order.find((t) => !this.skipped.has(t) && !this.results.has(t));
    if (this.stopped === 'backstop' && this.running) this.hung ??= this.running;
    const checks: CheckResult[] = [];
    for (const title of this.order) {
      if (this.skipped.has(title)) {
        checks.push({ title, status: 'skipped' });
        continue;
      }
      const done = this.results.get(title);
      if (done) {
        checks.push(done);
        continue;
      }
      if (title === this.running && this.stopped === 'backstop') {
        // Stuck where vitest's own time limit could not fire (a loop that never yields): named all the same.
        const ran = Date.now() - this.runningSince;
        const timedOut = { name: 'Error', message: `Test timed out in ${ran}ms` };
        const check = this.result(title, 'failed', [timedOut], ran / 1000);
        check.message = `${check.message} It blocked its whole process, so not even its own time limit could fire: a loop that never awaits?`;
        checks.push(check);
        this.onEvent?.({ type: 'check', check });
        continue;
      }
      if (title === this.running) {
        const check: CheckResult = {
          title,
          status: 'failed',
          message:
            'the spec ended while this check ran: something ended or crashed its process (process.exit()?)',
        };
        checks.push(check);
        this.onEvent?.({ type: 'check', check });
        continue;
      }
      const message = this.hung ? `the run stopped after '${this.hung}' hung` : 'the spec stopped first';
      const check: CheckResult = { title, status: 'failed', notRun: true, message };
      checks.push(check);
      this.onEvent?.({ type: 'check', check });
    }
    const [error] = this.moduleErrors;
    if (error && !checks.some((c) => c.status === 'failed' && !c.notRun)) {
      const title = 'the spec loads';
      checks.unshift(this.result(title, 'failed', [error], 0));
    }
    return checks;
  }
}

/** Reads the lines appended to a file since the last read (the reporter appends whole lines). */
class Tail {
  private fd: number | undefined;
  private offset = 0;
  private rest = '';

  constructor(private readonly file: string) {}

  read(): StreamEvent[] {
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.file, 'r');
      } catch {
        return []; // not written yet
      }
    }
    const events: StreamEvent[] = [];
    const buffer = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(this.fd, buffer, 0, buffer.length, this.offset);
      if (n === 0) break;
      this.offset += n;
      this.rest += buffer.subarray(0, n).toString('utf8');
    }
    const lines = this.rest.split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        events.push(JSON.parse(line) as StreamEvent);
      } catch {
        // a line cut by a kill: nothing to learn from it
      }
    }
    return events;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
  }
}

/** The spec's figures and timelines, one JSON object a line, in the order it recorded them. */
function readMeasurements(file: string): Pick<SpecRun, 'measurements' | 'timelines'> {
  const found: Pick<SpecRun, 'measurements' | 'timelines'> = { measurements: [], timelines: [] };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return found;
  }
  for (const line of text.split('\n').filter(Boolean)) {
    const entry = JSON.parse(line) as SpecRun['measurements'][number] | { timeline: string; spans: Span[] };
    if ('timeline' in entry) found.timelines.push({ label: entry.timeline, spans: entry.spans });
    else found.measurements.push(entry);
  }
  return found;
}

/** The line of a crashed run worth showing: an error, not vitest's banner. */
function firstMeaningfulLine(output: string): string {
  // Without colours, and without vitest's banners ("⎯⎯⎯ Unhandled Error ⎯⎯⎯"): the line under one says what.
  const lines = stripVTControlCharacters(output)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => !l.includes('⎯'));
  return firstLine(
    lines.find((l) => /error|cannot|no redis/i.test(l)) ?? lines.find(Boolean) ?? 'the spec did not run',
  );
}

export type { CheckResult, SpecRun, Timeline };
