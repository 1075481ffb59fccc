/**
 * Lab 04 — fork per task: every task in a brand-new child process.
 *
 * Goal: the simplest process pool. For each call, `child_process.fork` a child, send it the call over IPC, and
 * take its outcome and its exit: an exit code or a signal without an outcome is the task's failure. At most
 * `concurrency` children live at once. Nothing a task does to its process can touch the worker or other tasks;
 * the price is a fork and a Node start-up per task, which the demo measures.
 *
 *   run(call) ─▶ waiting [c4 c3] ─▶ fork ─▶ pid-41: import tasks, run c1 ─{done, outcome}─▶ exit 0 ─▶ resolve
 *                                   fork ─▶ pid-42: run c2 ─▶ process.exit(1) ──────────────▶ exit 1 ─▶ failure
 *
 * Pass: `npx tsx labs/04-processes` shows the per-task overhead, crashes that fail alone, and a speedup;
 * `npm run check -- 04` passes.
 *
 * Try this to break it: in onExit(), settle a child that exited without an outcome as a success. The demo's
 * crash table then shows tasks that "succeeded" with no result: a lost task nobody notices.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { now } from '../../mini-queue/clock.ts';
import { errorMessage, NotImplemented } from '../../mini-queue/errors.ts';
import type { Pool, PoolOptions, TaskCall, TaskOutcome } from '../../mini-queue/pool.ts';
import { tsChildExecArgv } from '../../mini-queue/runtime/typescript.ts';
import type { FromChild, ToChild } from './child.ts';

const CHILD_MODULE = fileURLToPath(new URL('./child.ts', import.meta.url));

interface Job {
  call: TaskCall;
  resolve: (outcome: TaskOutcome) => void;
  settled?: boolean;
  timer?: NodeJS.Timeout;
  child?: ChildProcess;
  /** `pid-<pid>` once forked. */
  lane: string;
  /** The outcome the child sent, if it got that far. */
  outcome?: TaskOutcome;
  /** The end of the child's stderr: why it crashed, in its own words. */
  stderr: string;
}

export function createPool(options: PoolOptions): Pool {
  return new ProcessPool(options);
}

export class ProcessPool implements Pool {
  readonly kind = 'processes' as const;
  readonly concurrency: number;
  private readonly waiting: Job[] = [];
  private readonly running = new Set<Job>();
  /** Children not yet gone: a killed one may outlive its settled call by a few ms. */
  private readonly alive = new Set<ChildProcess>();
  private closing = false;
  private onIdle: Array<() => void> = [];

  constructor(private readonly options: PoolOptions) {
    this.concurrency = options.concurrency;
  }

  run(call: TaskCall): Promise<TaskOutcome> {
    if (this.closing) return Promise.reject(new Error('the processes pool is closed'));
    return new Promise((resolve) => {
      this.waiting.push({ call, resolve, lane: 'main', stderr: '' });
      this.pump();
    });
  }

  /** Warm close: the children running finish their task and exit; resolves when the last one is gone. */
  async close(): Promise<void> {
    this.closing = true;
    await new Promise<void>((resolve) => {
      this.onIdle.push(resolve);
      this.settleIdle();
    });
  }

  /** Cold stop: SIGKILL every child now; their tasks fail (the broker gives them back after their lease). */
  async terminate(): Promise<void> {
    this.closing = true;
    for (const job of this.waiting.splice(0))
      this.settle(job, failure('PoolTerminated', 'the pool was terminated'));
    for (const job of this.running) job.child?.kill('SIGKILL');
    await this.close();
  }

  private spawn(): ChildProcess {
    const execArgv = tsChildExecArgv();
    // (04.1) fork = a new Node process with an IPC channel to this one. It must load TypeScript itself (execArgv)
    // and the tasks module (its path as argv[2]); 'advanced' serialization carries what structured clone can
    // (Map, Date, BigInt), 'json' only what JSON.stringify can. stderr is piped to say why a child died.
    return fork(CHILD_MODULE, [this.options.tasksPath], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
  }

  /** The child is gone. `code` is its exit code, `signal` the signal that killed it (one of the two is null). */
  private onExit(job: Job, code: number | null, signal: NodeJS.Signals | null): void {
    // (04.3) The outcome, when it came, is the truth: the task ran to the end, whatever the exit.
    if (job.outcome) {
      this.settle(job, job.outcome);
      return;
    }
    // (04.3) No outcome: the process died under the task. Its exit code or signal is all we know; a crash must
    // be a failure, never a silent success and never a call left pending.
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const said = lastError(job.stderr);
    this.settle(job, {
      ...failure('WorkerLostError', `${job.lane} ${how} before reporting${said ? `: ${said}` : ''}`),
      lane: job.lane,
    });
  }

  /** The task passed its hard time limit. */
  private timeUp(job: Job): void {
    // (04.4) SIGKILL: the one signal a task cannot catch or ignore. Settle first, so the exit that follows
    // (killed by SIGKILL) is not reported as a crash.
    this.settle(job, {
      ...failure('TimeLimitExceeded', `time limit of ${job.call.timeout} ms exceeded`),
      lane: job.lane,
    });
    job.child?.kill('SIGKILL');
  }

  // Don't change below this line.

  /** Forks a child for each waiting call while fewer than `concurrency` run. */
  private pump(): void {
    while (this.waiting.length > 0 && this.running.size < this.concurrency) {
      const job = this.waiting.shift()!;
      this.running.add(job);
      try {
        this.start(job);
      } catch (error) {
        this.settle(
          job,
          failure(error instanceof NotImplemented ? 'NotImplemented' : 'Error', errorMessage(error)),
        );
      }
    }
  }

  private start(job: Job): void {
    const child = this.spawn();
    this.alive.add(child);
    job.child = child;
    job.lane = `pid-${child.pid}`;
    child.stderr?.on('data', (chunk: Buffer) => {
      job.stderr = (job.stderr + chunk.toString()).slice(-4096);
    });
    child.on('message', (message: FromChild) => {
      if (message.type === 'done' && message.id === job.call.id) job.outcome = message.outcome;
    });
    child.on('error', (error) => {
      job.stderr += `\n${errorMessage(error)}`;
    });
    // Not 'exit': 'close' also waits for stderr to end, so the crash message is complete.
    child.on('close', (code, signal) => {
      this.alive.delete(child);
      this.guard(job, () => this.onExit(job, code, signal));
      this.settleIdle();
    });
    const { timeout } = job.call;
    if (timeout !== undefined) job.timer = setTimeout(() => this.guard(job, () => this.timeUp(job)), timeout);
    child.send(toChild(job.call));
  }

  /** A TODO not done (or a bug) fails the task with its message instead of crashing the worker. */
  private guard(job: Job, step: () => void): void {
    try {
      step();
    } catch (error) {
      this.settle(job, {
        ...failure(error instanceof NotImplemented ? 'NotImplemented' : 'Error', errorMessage(error)),
        lane: job.lane,
      });
    }
  }

  /** Settles a call once; frees its slot and forks the next. */
  private settle(job: Job, outcome: TaskOutcome): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    this.running.delete(job);
    job.resolve(outcome);
    this.pump();
    this.settleIdle();
  }

  private settleIdle(): void {
    if (this.waiting.length > 0 || this.running.size > 0 || this.alive.size > 0) return;
    for (const resolve of this.onIdle.splice(0)) resolve();
  }
}

function toChild(call: TaskCall): ToChild {
  return { id: call.id, task: call.task, args: call.args, attempt: call.attempt };
}

/** The last line of a child's stderr that names an error, e.g. `Error: boom in a timer`. */
function lastError(stderr: string): string | undefined {
  return stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^\w*Error\b|^Error:/.test(line))
    .at(-1);
}

function failure(name: string, message: string): TaskOutcome {
  const at = now();
  return { ok: false, error: { name, message }, lane: 'main', startedAt: at, finishedAt: at };
}
