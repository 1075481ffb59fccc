/**
 * Everything the commands need from the outside world, in one object, so the tests can swap the slow or
 * dangerous parts (the grader, the demo process, the clock, the terminal) and point the root at a temp copy.
 */

import { ProgressStore, progressFile } from '../kit/progress.ts';
import type { CheckEvent, LabVerdict } from '../kit/report.ts';
import type { Track } from '../mini-queue/parts.ts';
import type { Lab } from './labs.ts';
import { discoverLabs, findLab } from './labs.ts';
import { findPristine, type GitState } from './pristine.ts';
import type { Out } from './text.ts';

/** Grades a lab; `onEvent` hears each check as it finishes. */
export type CheckFn = (lab: Lab, track: Track, onEvent?: (event: CheckEvent) => void) => Promise<LabVerdict>;
/** Runs a lab's demo with the terminal attached; resolves its exit code. */
export type DemoFn = (lab: Lab, track: Track) => Promise<number>;

export interface Kit {
  /** The kit root: holds labs/, solutions/, checker/, .progress/ and .lab-backups/. */
  root: string;
  store: ProgressStore;
  out: Out;
  /** Where warnings and errors go (stderr in the real CLI). */
  err: Out;
  now: () => Date;
  check: CheckFn;
  demo: DemoFn;
}

export interface KitOptions extends Partial<Omit<Kit, 'root' | 'store'>> {
  root: string;
  check: CheckFn;
  demo: DemoFn;
}

export function createKit(options: KitOptions): Kit {
  return {
    store: new ProgressStore(progressFile(options.root)),
    out: (line = '') => console.log(line),
    err: (line = '') => console.error(line),
    now: () => new Date(),
    ...options,
  };
}

/** The labs as they are now: helpers add labs while the kit runs, so never cache this. */
export function labsOf(kit: Kit): Lab[] {
  return discoverLabs(kit.root);
}

export function labOf(kit: Kit, wanted: string): Lab {
  return findLab(labsOf(kit), wanted);
}

export function gitOf(kit: Kit): GitState {
  return findPristine(kit.root);
}
