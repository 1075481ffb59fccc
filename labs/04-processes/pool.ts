/**
 * Lab 04 — fork per task: every task in a brand-new child process.
 *
 * Goal: the simplest process pool. For each call, `child_process.fork` a child, send it the call over IPC, and
 * take its outcome and its exit: an exit code or a signal without an outcome is the task's failure. Nothing a
 * task does to its process can touch the worker or other tasks; the price is a fork and a Node start-up per
 * task, which the demo measures. At most `concurrency` calls run at once: mini-queue/slots.ts keeps the count.
 *
 *   run(call) ─▶ slots ─▶ fork ─▶ pid-41: import tasks, run c1 ─{done, outcome}─▶ exit 0 ─▶ c1: its outcome
 *                         fork ─▶ pid-42: run c2 ─▶ process.exit(1) ──────────────▶ exit 1 ─▶ c2: a failure
 *
 * Pass: `npx tsx labs/04-processes` shows the per-task overhead, crashes that fail alone, and a speedup;
 * `npm run check -- 04` passes.
 *
 * Try this to break it: in onExit(), settle a child that exited without an outcome as a success. The demo's
 * crash table then shows tasks that "succeeded" with no result: a lost task nobody notices.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NotImplemented } from '../../mini-queue/errors.ts';
import type { Pool, PoolOptions, TaskCall, TaskOutcome } from '../../mini-queue/pool.ts';
import { type FromChild, toChild, watchLastError } from '../../mini-queue/runtime/child-ipc.ts';
import { tsChildExecArgv } from '../../mini-queue/runtime/typescript.ts';
import { type Slot, Slots } from '../../mini-queue/slots.ts';

const CHILD_MODULE = fileURLToPath(new URL('./child.ts', import.meta.url));

/** One call and the child that runs it. */
interface Job {
  /** The call (`slot.call`), its lane (`slot.lane`, `pid-<pid>`), and `settle()`/`fail()` to end it, once. */
  slot: Slot;
  child: ChildProcess;
  /** The outcome the child sent, if it got that far. */
  outcome?: TaskOutcome;
  /** The last error line of the child's stderr: why it crashed, in its own words. */
  lastError: () => string | undefined;
}

export function createPool(options: PoolOptions): Pool {
  return new ProcessPool(options);
}

export class ProcessPool implements Pool {
  readonly kind = 'processes' as const;
  readonly concurrency: number;
  private readonly slots: Slots;

  constructor(private readonly options: PoolOptions) {
    this.concurrency = options.concurrency;
    this.slots = new Slots(options.concurrency, (slot) => this.start(slot));
  }

  run(call: TaskCall): Promise<TaskOutcome> {
    return this.slots.run(call);
  }

  /** Warm close: the children running finish their task and exit; resolves when the last one is gone. */
  close(): Promise<void> {
    return this.slots.drain();
  }

  /** Cold stop: SIGKILL every child now; their tasks fail (the broker gives them back after their lease). */
  terminate(): Promise<void> {
    return this.slots.stop();
  }

  /** A new child for one call: it imports the tasks module at `tasksPath` itself. */
  private spawn(tasksPath: string): ChildProcess {
    const execArgv = tsChildExecArgv();
    // TODO(04.1): fork CHILD_MODULE with `tasksPath` as its one argument, and options: `execArgv`
    // (so the child can run TypeScript), serialization 'advanced', stdio ['ignore', 'inherit', 'pipe', 'ipc'].
    throw new NotImplemented(
      '04.1',
      'no process is started for a task yet: every task fails at once, and ps shows no new node process',
    );
  }

  /** The child is gone. `code` is its exit code, `signal` the signal that killed it (one of the two is null). */
  private onExit(job: Job, code: number | null, signal: NodeJS.Signals | null): void {
    // TODO(04.3): the child is gone. If it sent an outcome (job.outcome), that is the result: settle the slot with
    // it. If not, it died under the task: fail the slot as a 'WorkerLostError' saying how (the exit `code` or the
    // `signal`, and job.lastError(), the child's last words). Never a success, never left pending.
    throw new NotImplemented(
      '04.3',
      'the end of a child is not read yet: neither the result it sent nor the way it crashed reaches its task',
    );
  }

  /** The task passed its hard time limit. */
  private timeUp(job: Job): void {
    // TODO(04.4): the task ran past job.slot.call.timeout. Fail the slot as 'TimeLimitExceeded', then kill its
    // child (job.child) with the signal a task cannot catch or ignore.
    throw new NotImplemented(
      '04.4',
      'a runaway task is never stopped: one that spins forever keeps its process busy for good, past the deadline it was given',
    );
  }

  // Don't change below this line.

  /** One call in a new child: the call goes over IPC, the outcome comes back, then the exit (or the time limit). */
  private start(slot: Slot): void {
    const child = this.spawn(this.options.tasksPath);
    const job: Job = { slot, child, lastError: watchLastError(child) };
    slot.lane = `pid-${child.pid}`;
    slot.hold(child);
    child.on('message', (message: FromChild) => {
      if (message.type === 'done' && message.id === slot.call.id) job.outcome = message.outcome;
    });
    // Not 'exit': 'close' also waits for stderr to end, so the crash message is complete.
    child.on('close', (code, signal) => slot.guard(() => this.onExit(job, code, signal)));
    if (slot.call.timeout !== undefined) slot.after(slot.call.timeout, () => this.timeUp(job));
    child.send(toChild(slot.call));
  }
}
