/**
 * A lab's status, from facts rather than from what the attendee clicked:
 *   done         the last check passed;
 *   in progress  the files differ from the starter, or a hint or a check is on record;
 *   not started  otherwise.
 * "Done" needs a passing check on purpose: other kits' users complain that "done" is unclear.
 */

import type { LabProgress, Progress } from '../kit/progress.ts';
import type { Lab } from './labs.ts';
import { differences, type GitState } from './pristine.ts';
import { when } from './text.ts';

export type Status = 'done' | 'in progress' | 'not started';

export interface LabStatus {
  lab: Lab;
  status: Status;
  /** Files that differ from the starter (kit-relative). */
  changed: string[];
  record: LabProgress;
  /** One short line: the last check, hints seen, what is missing. */
  detail: string;
}

export function labStatuses(labs: Lab[], progress: Progress, git: GitState, now = new Date()): LabStatus[] {
  // One git call for every lab; a kit without git just cannot see edits, the rest still works.
  const diffs =
    git.ok && labs.length > 0
      ? differences(
          git.pristine,
          labs.map((l) => l.path),
        )
      : [];
  return labs.map((lab) => {
    const record = progress.labs[lab.name] ?? { hints: {} };
    const changed = diffs
      .filter((d) => d.change !== 'A' && d.path.startsWith(`${lab.path}/`))
      .map((d) => d.path);
    const hintsSeen = Object.values(record.hints ?? {}).reduce((a, b) => a + b, 0);
    const status: Status =
      record.check?.verdict === 'pass'
        ? 'done'
        : changed.length > 0 || hintsSeen > 0 || record.check
          ? 'in progress'
          : 'not started';
    return { lab, status, changed, record, detail: detail(lab, record, changed.length, hintsSeen, now) };
  });
}

function detail(lab: Lab, record: LabProgress, changed: number, hintsSeen: number, now: Date): string {
  const missing = [!lab.has.demo && 'demo', !lab.has.spec && 'checks', !lab.has.hints && 'hints'].filter(
    Boolean,
  );
  if (missing.length === 3) return 'being written';
  const parts: string[] = [];
  const check = record.check;
  if (check) {
    parts.push(
      check.verdict === 'pass'
        ? `passed ${check.passed}/${check.total}`
        : check.todo
          ? `TODO(${check.todo}) next`
          : `check ${check.passed}/${check.total}`,
    );
    parts.push(`checked ${when(check.at, now)}`);
  }
  if (hintsSeen > 0) parts.push(`${hintsSeen} hint${hintsSeen === 1 ? '' : 's'}`);
  if (changed > 0) parts.push(`${changed} file${changed === 1 ? '' : 's'} edited`);
  if (record.reset && !check) parts.push(`reset ${when(record.reset, now)}`);
  if (missing.length > 0) parts.push(`no ${missing.join('/')} yet`);
  return parts.join(', ');
}
