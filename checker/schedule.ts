/**
 * How `npm run check` grades two labs at once without blurring what they measure. The lab shown runs beside the
 * next one (checker/run-labs.ts); a check that measures the machine (a speedup, a latency under load, a
 * throughput: marked `{ meta: { measures: true } }`, see MEASURES) runs alone: before it starts, the neighbour
 * finishes the check it is running and starts no other until the measurement is over. Every other check is judged
 * on evidence no load blurs (the checker passes the reference with two busy loops beside it), so sharing the
 * cores only stretches it.
 *
 * The two spec processes and the grader speak through four files per lab in one folder (MQ_CHECK_SCHEDULE, the
 * lab in MQ_CHECK_LAB), each an empty file whose existence is the message:
 *   `<lab>.busy`   the lab runs a check (set before it looks at `hold`, cleared after the check's own clean-up);
 *   `<lab>.hold`   the grader asks the lab to start no check (set before it looks at `busy`: neither can miss the
 *                  other);
 *   `<lab>.want`   the lab is about to run a measuring check;
 *   `<lab>.alone`  the grader's answer: it is the lab shown and its neighbour is idle and held.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The test option that marks a check as measuring: `it(title, { ...MEASURES }, fn)`. */
export const MEASURES = { meta: { measures: true } } as const;

declare module 'vitest' {
  interface TaskMeta {
    /** The check measures the machine: it runs alone (checker/schedule.ts). */
    measures?: boolean;
    /** Milliseconds it waited for its turn to run, not counted in its time. */
    heldMs?: number;
  }
}

export type Flag = 'busy' | 'hold' | 'want' | 'alone';

export class Schedule {
  constructor(readonly folder: string) {}

  private file(lab: string, flag: Flag): string {
    return join(this.folder, `${lab}.${flag}`);
  }

  has(lab: string, flag: Flag): boolean {
    return existsSync(this.file(lab, flag));
  }

  set(lab: string, flag: Flag): void {
    writeFileSync(this.file(lab, flag), '');
  }

  clear(lab: string, flag: Flag): void {
    rmSync(this.file(lab, flag), { force: true });
  }
}

/**
 * The grader's side, one step of it (run every few milliseconds): the lab shown (`current`) wants to measure?
 * Hold its neighbour, and say "alone" once the neighbour's running check is over. Measured? Let both go on.
 */
export function arbitrate(schedule: Schedule, current: string, neighbour: string | undefined): void {
  if (schedule.has(current, 'want')) {
    if (schedule.has(current, 'alone')) return;
    if (neighbour) {
      schedule.set(neighbour, 'hold');
      if (schedule.has(neighbour, 'busy')) return;
    }
    schedule.set(current, 'alone');
  } else if (schedule.has(current, 'alone')) {
    schedule.clear(current, 'alone');
    if (neighbour) schedule.clear(neighbour, 'hold');
  }
}

/** The spec's side: from the schedule in the environment, if `npm run check` gave one. */
export function scheduleOfRun(): { schedule: Schedule; lab: string } | undefined {
  const folder = process.env.MQ_CHECK_SCHEDULE;
  const lab = process.env.MQ_CHECK_LAB;
  return folder && lab ? { schedule: new Schedule(folder), lab } : undefined;
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 10));

/**
 * Before each check (checker/spec-setup.ts): a measuring one waits until the grader says it is alone; any check
 * waits while the grader holds this lab. Resolves the milliseconds it waited.
 */
export async function untilMayRun(schedule: Schedule, lab: string, measures: boolean): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (measures) {
      schedule.set(lab, 'want');
      while (!schedule.has(lab, 'alone')) await pause();
    }
    schedule.set(lab, 'busy');
    if (!schedule.has(lab, 'hold')) return Date.now() - started;
    schedule.clear(lab, 'busy');
    while (schedule.has(lab, 'hold')) await pause();
  }
}

/** After each check, its clean-up done. */
export function checkDone(schedule: Schedule, lab: string): void {
  schedule.clear(lab, 'busy');
  schedule.clear(lab, 'want');
}
