/**
 * A spec's run as the grader hears it: the lines the stream reporter appends (checker/stream-reporter.ts), tailed
 * and turned into check results as they arrive, and the run's outcome once its process has ended or been stopped.
 * Shared by a spec run in a process of its own (run-spec.ts) and a spec run in a long-lived runner (spec-batch.ts).
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { stripVTControlCharacters } from 'node:util';
import type { CheckEvent, CheckResult, SpecRun } from '../kit/report.ts';
import type { Span } from '../kit/ui/timeline.ts';
import { describeFailure, firstLine } from './failure.ts';
import type { RawError, StreamEvent } from './stream-events.ts';
import { specTimeLimitMs } from './time-limits.ts';

/**
 * The run's outcome from what was heard: every check in spec order, the figures it recorded, and why it stopped
 * when it did not end by itself (a hung check, the backstop) or ran no check at all (`output`: what its process
 * printed).
 */
export function specRunOf(state: RunState, output: string, measurements: string, seconds: number): SpecRun {
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
}

/** The checks as the stream reports them, turned into results as they arrive. */
export class RunState {
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
    private readonly onEvent: ((event: CheckEvent) => void) | undefined,
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
export class Tail {
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
export function readMeasurements(file: string): Pick<SpecRun, 'measurements' | 'timelines'> {
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
export function firstMeaningfulLine(output: string): string {
  // Without colours, and without vitest's banners ("⎯⎯⎯ Unhandled Error ⎯⎯⎯"): the line under one says what.
  const lines = stripVTControlCharacters(output)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => !l.includes('⎯'));
  return firstLine(
    lines.find((l) => /error|cannot|no redis/i.test(l)) ?? lines.find(Boolean) ?? 'the spec did not run',
  );
}
