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
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BeatTick } from '../../mini-queue/beat.ts';
import { NotImplemented, UserError } from '../../mini-queue/errors.ts';
import type { Track } from '../../mini-queue/parts.ts';
import { tsChildExecArgv } from '../../mini-queue/runtime/typescript.ts';
import type { ScheduleEntry } from '../../mini-queue/schedule.ts';
import type { TaskRun } from '../../mini-queue/worker.ts';
import { REPO_ROOT } from '../todos.ts';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
/** How long a process gets to say it runs: a busy two-core machine starts Node and tsx in seconds, not ms. */
const READY_TIMEOUT_MS = 45_000;

/** What a process tells its parent. */
export type ChildEvent =
  | { type: 'ready' }
  | { type: 'task'; run: TaskRun }
  | { type: 'limited'; id: string; task: string; waitMs: number; at: number }
  | { type: 'tick'; tick: BeatTick }
  /** It stops on this: a TODO not done (`todo`, `hint`), a script that cannot run. */
  | { type: 'error'; message: string; todo?: string; hint?: string };

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

export interface LabProcess {
  /** `worker-1`, `beat-2`: also the beat's id, kept in the guard of each tick it enqueues. */
  readonly name: string;
  readonly pid: number;
  /** Resolves once it runs; rejects with why it could not start. */
  readonly ready: Promise<void>;
  /**
   * Rejects with what stopped it on its own: a TODO not done (NotImplemented), a script that cannot run, a crash;
   * never settles otherwise. Race a wait against it.
   */
  readonly failed: Promise<never>;
  /** Whether it is still running. */
  alive(): boolean;
  /** kill -9: nothing of it runs after this, and it gives nothing back. */
  kill(): Promise<void>;
  /** Warm stop (SIGTERM), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

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
  const child: ChildProcess = fork(CHILD, [JSON.stringify(options)], {
    cwd: REPO_ROOT,
    execArgv: tsChildExecArgv(),
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let killed = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // If this process goes first (an error, Ctrl-C), the child goes too; it also stops when its IPC channel closes.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));

  let fail: (error: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  // A wait that never raced it must not make an unhandled rejection of it.
  failed.catch(() => {});
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failed.catch(reject);
  });
  ready.catch(() => {});
  const timer = setTimeout(
    () =>
      fail(new UserError(`${options.name} was not running within ${READY_TIMEOUT_MS} ms: ${lastLine(log)}`)),
    READY_TIMEOUT_MS,
  );
  // Nothing to wait for once it has run or ended, and the timer must not keep this process alive.
  timer.unref();
  void ready.finally(() => clearTimeout(timer)).catch(() => {});
  void exited.then(() => clearTimeout(timer));

  child.on('message', (event: ChildEvent) => {
    if (event.type === 'ready') markReady();
    else if (event.type === 'error') {
      fail(
        event.todo
          ? new NotImplemented(event.todo, event.hint ?? '')
          : new UserError(`${options.name}: ${event.message}`),
      );
    }
    onEvent(event, options.name);
  });
  child.once('error', (error) => fail(new UserError(`could not start ${options.name}: ${error.message}`)));
  void exited.then(() => {
    if (!killed)
      fail(new UserError(`${options.name} ended (code ${child.exitCode}): ${lastLine(log) || 'no output'}`));
  });

  return {
    name: options.name,
    pid: child.pid ?? -1,
    ready,
    failed,
    alive: () => child.exitCode === null && child.signalCode === null,
    async kill() {
      killed = true;
      child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 5000) {
      killed = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const grace = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(grace);
    },
  };
}

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .at(-1) ?? ''
  );
}
