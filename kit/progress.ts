/**
 * The attendee's progress, in one JSON file under the kit root (`.progress/progress.json`, git-ignored): which
 * hints were shown, the last check, the last run, the last reset. It outlives restarts, and every write goes to
 * a temp file that is then renamed over the old one, so a Ctrl-C or a crash mid-write never leaves half a file:
 * losing progress is what users of other kits complain about most.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface CheckRecord {
  at: string;
  verdict: 'pass' | 'fail';
  passed: number;
  total: number;
  /** The first failing TODO, when that was why it failed. */
  todo?: string;
  reason?: string;
  /** How long it took: the next check's "about N s" estimate. */
  seconds?: number;
}

export interface LabProgress {
  /** Per TODO id, how many of its staged hints were shown so far. */
  hints: Record<string, number>;
  check?: CheckRecord;
  run?: { at: string; track: 'labs' | 'solutions'; ok: boolean };
  /** When the lab's files were last put back to the starter. */
  reset?: string;
}

export interface Progress {
  version: 1;
  labs: Record<string, LabProgress>;
  /** The lab last worked on: `watch` without a lab re-checks it on Enter, the menu puts the cursor on it. */
  lastLab?: string;
}

/** The progress file of a kit root. */
export function progressFile(root: string): string {
  return join(root, '.progress', 'progress.json');
}

export class ProgressStore {
  /** Set when the file on disk could not be read and was moved aside; the CLI says so once. */
  warning: string | undefined;

  constructor(readonly file: string) {}

  load(): Progress {
    if (!existsSync(this.file)) return empty();
    const text = readFileSync(this.file, 'utf8');
    try {
      const parsed = JSON.parse(text) as Partial<Progress>;
      if (parsed.version !== 1 || typeof parsed.labs !== 'object' || parsed.labs === null) {
        throw new Error('not a progress file of this kit');
      }
      return { version: 1, labs: parsed.labs, ...(parsed.lastLab ? { lastLab: parsed.lastLab } : {}) };
    } catch (error) {
      // Keep the unreadable file for the attendee (or us) to look at, and go on with a fresh one.
      const aside = `${this.file}.unreadable-${Date.now()}`;
      renameSync(this.file, aside);
      this.warning = `progress file was unreadable (${(error as Error).message}); kept it as ${aside}`;
      return empty();
    }
  }

  save(progress: Progress): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(progress, null, 2)}\n`);
    renameSync(temp, this.file);
  }

  /** Reads, lets `change` edit one lab's record, writes back. Read each time: `watch` may run beside the menu. */
  update(lab: string, change: (record: LabProgress) => void): LabProgress {
    const progress = this.load();
    const record = progress.labs[lab] ?? { hints: {} };
    record.hints ??= {};
    change(record);
    progress.labs[lab] = record;
    progress.lastLab = lab;
    this.save(progress);
    return record;
  }

  lab(lab: string): LabProgress {
    return this.load().labs[lab] ?? { hints: {} };
  }
}

function empty(): Progress {
  return { version: 1, labs: {} };
}

/** What a grading run says of one lab, as far as progress is concerned. */
export interface CheckedLab {
  lab: string;
  verdict: 'pass' | 'fail';
  passed: number;
  total: number;
  todo?: string;
  reason?: string;
  /** Set when the verdict printed the first hint of `todo`: a hint shown anywhere counts as seen. */
  hint?: string;
  seconds?: number;
}

/**
 * Records a check of the attendee's files: the one place that does, whoever graded (`npm run check`, the menu,
 * watch mode), so the menu's status and the next hint follow the last check however it was run.
 */
export function recordCheck(store: ProgressStore, checked: CheckedLab, at: Date): void {
  store.update(checked.lab, (r) => {
    r.check = {
      at: at.toISOString(),
      verdict: checked.verdict,
      passed: checked.passed,
      total: checked.total,
      ...(checked.todo ? { todo: checked.todo } : {}),
      ...(checked.reason ? { reason: checked.reason } : {}),
      ...(checked.seconds !== undefined ? { seconds: checked.seconds } : {}),
    };
    if (checked.todo && checked.hint) r.hints[checked.todo] = Math.max(r.hints[checked.todo] ?? 0, 1);
  });
}
