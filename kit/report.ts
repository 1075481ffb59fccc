/**
 * What a grading run reports: the checker writes it (`npm run check -- --json`), the menu, watch mode and the
 * HTML page read it. Types only, so the readers never load the grader.
 */
import type { Track } from '../mini-queue/parts.ts';
import type { MachineFacts } from './machine.ts';
import type { SpeedupAnalysis } from './speedup.ts';
import type { Span } from './ui/timeline.ts';

export interface Timeline {
  label: string;
  spans: Span[];
}

export interface CheckResult {
  title: string;
  status: 'passed' | 'failed' | 'skipped';
  /** The failure in one line, no stack: the assertion in plain words, a time-out, a compile error. */
  message?: string;
  /** The TODO behind the failure, when the lab's stub said so. */
  todo?: { todo: string; hint: string };
  /** Repo-relative `file:line` in the learner's files where the failure can be located. */
  where?: string;
  /** How long it ran. */
  seconds?: number;
  /** It ran past its time limit. */
  hung?: boolean;
  /** Never ran: the run stopped before it (after a check hung, or a file did not parse). Counts as not passed. */
  notRun?: boolean;
}

/** The first failing check in TODO order, as every verdict shows it. */
export interface FirstFailure {
  /** The check's title, `00.2 moves a message ...` (`00 compiles` for the compile check). */
  check: string;
  /** The TODO it belongs to (from its title, or the stub that threw), when it has one. */
  todo?: string;
  /** Repo-relative `file:line` in the learner's files, when it can be located. */
  where?: string;
  /** One line, no stack. */
  message: string;
  /** A stub that is not written yet: the TODO's guidance is the message. */
  stub?: boolean;
}

/** What a grading run says while it runs, check by check, so nothing waits in silence. */
export type CheckEvent =
  /** The checks to run, in order (those left out by -t excluded). May come again with more, once known. */
  | { type: 'collected'; titles: string[] }
  | { type: 'start'; title: string }
  /** A check finished: its result, with a one-line message and the learner's file:line when it failed. */
  | { type: 'check'; check: CheckResult }
  /** A check has run for half its time limit. */
  | { type: 'slow'; title: string; seconds: number; limitS: number };

export interface SpecRun {
  checks: CheckResult[];
  measurements: Array<{ name: string; value: number; unit: string }>;
  /** Per-lane timelines the spec recorded (recordTimeline in spec-kit.ts). */
  timelines: Timeline[];
  /** Set when the spec could not run at all (no Redis), or was stopped by its overall time limit. */
  error?: string;
  /** The check that was running when the overall time limit stopped the spec. */
  running?: string;
  /** The first check that ran past its own time limit (the run stopped there). */
  hung?: string;
  seconds: number;
}

export interface LabVerdict {
  lab: string;
  track: Track;
  passed: number;
  total: number;
  verdict: 'pass' | 'fail';
  /** Why it failed, in one line: the first TODO not done, or the first check that missed. */
  reason?: string;
  /** The TODO to work on: the first failing check's (a stub not done, or a check of that TODO that missed). */
  todo?: string;
  /** The first failing check in TODO order: its name, TODO, the learner's file:line, the message. */
  firstFailure?: FirstFailure;
  /** The hint for that TODO, from the lab's hints.md. */
  hint?: string;
  checks: CheckResult[];
  measurements: SpecRun['measurements'];
  seconds: number;
  /** The speedup curve, when the spec recorded `T(p)` figures: S, E, Karp–Flatt e, the Amdahl fit. */
  speedup?: SpeedupAnalysis;
  /** Per-lane timelines the spec recorded: which lane ran what, when. */
  timelines?: Timeline[];
  /** With --repeat: how the chaos runs went, and the seed that reproduces the first failure. */
  repeat?: { runs: number; passed: number; seeds: number[]; failedSeed?: number };
}

/** How long a whole grading run took, and how busy the machine was, so a bench can record the checker's time. */
export interface RunTiming {
  /** Wall-clock seconds of the whole run, every lab, from its process's start to its report. */
  seconds: number;
  /**
   * CPU seconds the run used, its spec processes and everything they waited for included (Linux); less disturbed
   * by other work on the machine than `seconds`. Absent where /proc is not there to ask.
   */
  cpuSeconds?: number;
  /** 1-minute load average when the run started (the same figure as `machine.loadAverage`) and when it ended. */
  loadAtStart: number;
  loadAtEnd: number;
}

export interface CheckReport {
  /** `machine.loadAverage` is the load when the run started. */
  machine: MachineFacts;
  track: Track;
  labs: LabVerdict[];
  passed: boolean;
  /** The whole run's time, written by `npm run check`. */
  run?: RunTiming;
}
