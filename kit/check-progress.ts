/**
 * A grading run as it happens, one line per check: ✓ or ✗, its name and a running count, and under a failed
 * check its message with the learner's file:line. `npm run check`, the menu and watch mode all print these lines,
 * so each says the same thing the same way.
 */
import { readFileSync } from 'node:fs';
import type { CheckEvent, CheckResult, LabVerdict } from './report.ts';
import { columns, style } from './ui/style.ts';

export class CheckProgress {
  private total = 0;
  private done = 0;
  private readonly said = new Set<string>();
  private stopped = false;

  constructor(
    private readonly out: (line: string) => void,
    /** Characters a line may take; a longer check name is cut. @default the terminal's width (80 on a pipe) */
    private readonly width = columns(),
  ) {}

  take(event: CheckEvent): void {
    switch (event.type) {
      case 'collected':
        this.total = Math.max(this.total, event.titles.length);
        return;
      case 'start':
        return;
      case 'slow':
        this.out(
          style.yellow(
            `  … ${cut(event.title, this.width - 40)}: still running after ${event.seconds} s ` +
              `(it is called hung at ${event.limitS} s)`,
          ),
        );
        return;
      case 'check':
        this.check(event.check);
        return;
    }
  }

  private check(check: CheckResult): void {
    if (check.status === 'skipped') return;
    this.done++;
    if (check.notRun) {
      // The run stopped (a hang): one line for the rest, not one per check that never ran.
      if (!this.stopped)
        this.out(
          style.dim(
            `  · the other ${this.total - this.done + 1} check(s) did not run: ${check.message ?? 'the run stopped'}`,
          ),
        );
      this.stopped = true;
      return;
    }
    const count = style.dim(`${String(this.done).padStart(String(this.total).length)}/${this.total}`);
    const mark =
      check.status === 'passed' ? style.green('✓') : check.notRun ? style.dim('·') : style.red('✗');
    const took =
      check.seconds !== undefined && check.seconds >= 1 ? style.dim(` ${check.seconds.toFixed(1)} s`) : '';
    this.out(`  ${count} ${mark} ${cut(check.title, this.width - 20)}${took}`);
    if (check.status !== 'failed' || !check.message) return;
    // The same stub fails many checks: it is named once (its hint comes with the verdict).
    const text = check.todo
      ? `TODO(${check.todo.todo}) is not done yet${check.where ? ` (${check.where})` : ''}`
      : failureLine(check);
    if (this.said.has(text)) return;
    this.said.add(text);
    this.out(style.dim(`      ${cut(text, this.width * 2)}`));
  }
}

/** `file:line: message` (the message alone when it already starts with its place, as a compile error does). */
export function failureLine(check: Pick<CheckResult, 'where' | 'message'>): string {
  const message = check.message ?? 'failed';
  return check.where && !message.startsWith(check.where) ? `${check.where}: ${message}` : message;
}

/**
 * A failed verdict in a few lines, for every place that shows one: the first failing check in TODO order, the
 * learner's file:line and the message. A stub not written yet reads as its TODO's guidance instead.
 */
export function firstFailureLines(verdict: LabVerdict): string[] {
  const first = verdict.firstFailure;
  if (!first) return verdict.reason ? [verdict.reason] : [];
  if (first.stub) {
    return [
      `TODO(${first.todo}) is not done yet${first.where ? ` (${first.where})` : ''}: ${stubHint(first.message)}`,
    ];
  }
  return [
    `✗ ${first.check}`,
    `  ${first.where && !first.message.startsWith(first.where) ? `${first.where}: ` : ''}${first.message}`,
  ];
}

function stubHint(message: string): string {
  return message.replace(/^TODO\(\d\d\.\d+\) is not done yet:\s*/, '');
}

/** How long the last check of this lab took, or how many checks it has: what "Checking…" can promise. */
export function estimate(lastSeconds: number | undefined, checks: number | undefined): string {
  if (lastSeconds !== undefined) return `about ${Math.max(1, Math.round(lastSeconds))} s last time`;
  if (checks) return `${checks} checks, usually under a minute`;
  return 'usually under a minute';
}

function cut(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, Math.max(10, width - 1))}…` : text;
}

/** How many checks a spec file holds (its `it(` calls, plus the compile check): an estimate before any run. */
export function countChecks(spec: string | undefined): number | undefined {
  if (!spec) return undefined;
  try {
    return (readFileSync(spec, 'utf8').match(/^\s*it(\.each\(.*?\))?\(/gm) ?? []).length + 1;
  } catch {
    return undefined;
  }
}
