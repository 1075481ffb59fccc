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
  /** First line of the failure, when it failed. */
  message?: string;
  /** The TODO behind the failure, when the lab's stub said so. */
  todo?: { todo: string; hint: string };
}

export interface SpecRun {
  checks: CheckResult[];
  measurements: Array<{ name: string; value: number; unit: string }>;
  /** Per-lane timelines the spec recorded (recordTimeline in spec-kit.ts). */
  timelines: Timeline[];
  /** Set when the spec could not run at all (no Redis, a syntax error in the lab). */
  error?: string;
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
  /** The first TODO not done, when that is why it failed. */
  todo?: string;
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

export interface CheckReport {
  machine: MachineFacts;
  track: Track;
  labs: LabVerdict[];
  passed: boolean;
}
