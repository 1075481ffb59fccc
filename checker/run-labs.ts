/**
 * Grades several labs on one track, heard one after another as a learner reads them, in less time than one after
 * the other: the next lab runs beside the one shown, its checks sharing the cores with it, except that a check
 * that measures the machine runs alone (checker/schedule.ts). A lab's spec process is started with the lab before
 * (run-spec.ts `turn`), so its vitest start-up is paid beside that lab, not between the two. A lab's events are
 * held until the one before is done. Every lab's files are type-checked in one compiler program (compile.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabInfo } from '../kit/labs.ts';
import type { Track } from '../mini-queue/parts.ts';
import { checkLab, type LabVerdict, type SpecEvent } from './grade.ts';
import { arbitrate, Schedule } from './schedule.ts';

export interface CheckLabsOptions {
  /** Only the checks whose names match (vitest's -t). */
  only?: string | undefined;
  /** A lab's turn to be heard: its events follow, then its verdict. */
  onLabStart?: (lab: LabInfo) => void;
  onEvent?: (lab: LabInfo, event: SpecEvent) => void;
  onLabDone?: (lab: LabInfo, verdict: LabVerdict) => void;
}

interface Started {
  lab: LabInfo;
  verdict: Promise<LabVerdict>;
  /** Its files are compiled: the next lab may start (see CheckLabOptions.onCompiled). */
  compiled: Promise<void>;
  /** Its spec may run its checks. */
  go(): void;
  /** Its events may be heard (those held so far first). */
  show(): void;
}

export async function checkLabs(
  labs: LabInfo[],
  track: Track,
  options: CheckLabsOptions = {},
): Promise<LabVerdict[]> {
  const alongside = labs.map((l) => l.name);
  const folder = mkdtempSync(join(tmpdir(), 'mq-schedule-'));
  const schedule = new Schedule(folder);
  const env = (lab: LabInfo) => ({ MQ_CHECK_SCHEDULE: folder, MQ_CHECK_LAB: lab.name });
  const start = (lab: LabInfo): Started => {
    let go = () => {};
    const turn = new Promise<void>((resolve) => {
      go = resolve;
    });
    const held: SpecEvent[] = [];
    let shown = false;
    const onEvent = (event: SpecEvent) => (shown ? options.onEvent?.(lab, event) : held.push(event));
    const show = () => {
      shown = true;
      // "Still running" said while the lab was not shown is stale once that check's result is in.
      const over = new Set(held.flatMap((e) => (e.type === 'check' ? [e.check.title] : [])));
      for (const event of held.splice(0)) {
        if (event.type === 'slow' && over.has(event.title)) continue;
        options.onEvent?.(lab, event);
      }
    };
    let onCompiled = () => {};
    const compiled = new Promise<void>((resolve) => {
      onCompiled = resolve;
    });
    const verdict = checkLab(lab, track, env(lab), options.only, { onEvent, alongside, turn, onCompiled });
    // However it ends (a thrown error included), it no longer holds up the next lab.
    verdict.then(onCompiled, onCompiled);
    return { lab, verdict, compiled, go, show };
  };
  const verdicts: LabVerdict[] = [];
  let current: Started | undefined;
  let next: Started | undefined;
  const referee = setInterval(() => {
    if (current) arbitrate(schedule, current.lab.name, next?.lab.name);
  }, 10);
  try {
    next = labs[0] ? start(labs[0]) : undefined;
    for (const [index, lab] of labs.entries()) {
      current = next!;
      // Shown now: nothing holds it any more.
      schedule.clear(lab.name, 'hold');
      options.onLabStart?.(lab);
      current.go();
      current.show();
      const after = labs[index + 1];
      // The first lab type-checks every lab of the run (seconds of CPU on this thread): the next starts after.
      await current.compiled;
      next = after ? start(after) : undefined;
      next?.go();
      const verdict = await current.verdict;
      verdicts.push(verdict);
      options.onLabDone?.(lab, verdict);
    }
  } finally {
    clearInterval(referee);
    rmSync(folder, { recursive: true, force: true });
  }
  return verdicts;
}
