/**
 * Workers and beats in processes of their own, for lab 07's demo and check: shared nothing but Redis, killed
 * with SIGKILL when a drill wants it. Each takes lab 07's Lua from the track given and the reference for every
 * other part (the broker, the pool), so an unfinished lab 00 or 01 never breaks lab 07.
 *
 *   this process ──fork(child.ts worker|beat OPTIONS)──▶ pid ──▶ Worker.start / Beat.start
 *                ◀── IPC: ready, each task run, each message put off by a rate limit, each tick, an error
 *
 * `mini-queue worker --track` would take the pool and broker from that track too (and takes only labs or
 * solutions, not a variant's folder), hence this entry of its own.
 */
import { fileURLToPath } from 'node:url';
import type { BeatTick } from '../../mini-queue/beat.ts';
import type { Track } from '../../mini-queue/parts.ts';
import type { ScheduleEntry } from '../../mini-queue/schedule.ts';
import type { TaskRun } from '../../mini-queue/worker.ts';
import { forkLabProcess, type LabChildEvent, type LabProcess } from '../lab-process.ts';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

/** What a process tells its parent. */
export type ChildEvent =
  | LabChildEvent
  | { type: 'task'; run: TaskRun }
  | { type: 'limited'; id: string; task: string; waitMs: number; at: number }
  | { type: 'tick'; tick: BeatTick };

export interface WorkerProcessOptions {
  queue: string;
  /** Where lab 07's Lua comes from. */
  track: Track;
  /** Tasks at once in its event-loop pool. @default 2 */
  concurrency?: number;
  /** @default 1000 */
  visibilityMs?: number;
}

export interface BeatProcessOptions {
  queue: string;
  track: Track;
  schedule: ScheduleEntry[];
}

/** What the child is started with (its second argument, as JSON). */
export type ChildOptions =
  | ({ role: 'worker'; name: string } & WorkerProcessOptions)
  | ({ role: 'beat'; name: string } & BeatProcessOptions);

export type { LabProcess };

/** Starts a worker on lab 07's Lua (the event-loop pool of the reference, lab 07's tasks). */
export function startWorkerProcess(
  name: string,
  options: WorkerProcessOptions,
  onEvent: (event: ChildEvent, from: string) => void,
): LabProcess {
  return start({ role: 'worker', name, ...options }, onEvent);
}

/** Starts a beat on lab 07's Lua; `name` is its id. */
export function startBeatProcess(
  name: string,
  options: BeatProcessOptions,
  onEvent: (event: ChildEvent, from: string) => void,
): LabProcess {
  return start({ role: 'beat', name, ...options }, onEvent);
}

function start(options: ChildOptions, onEvent: (event: ChildEvent, from: string) => void): LabProcess {
  return forkLabProcess(CHILD, options.name, options, { ...process.env, NO_COLOR: '1' }, onEvent);
}
