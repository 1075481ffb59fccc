/**
 * An in-process pool (event-loop or coroutines) in each of P child processes: what Celery users do with several
 * `-P gevent` workers on one machine, as one pool. One event loop tops out near one core's worth of I/O tasks (the
 * HTTP client's CPU per request); P loops on P cores go P times as far, with C split between them.
 *
 *   run(call) ─▶ waiting ─pump: the child with the fewest in flight, below its share of C─▶ outbox of that child
 *                                                                                            │ one IPC message
 *        pid-41: event-loop pool x500 ◀── {calls: [{s, call}, ...]} ◀────── per turn of the event loop
 *        pid-42: event-loop pool x500 ──▶ {done: [{s, outcome}, ...]} ──▶ resolve by s (the pool's own number:
 *                                                                        a call id may come twice, redelivered)
 *        a child exits ─▶ what it held fails (WorkerLostError), a new child takes its share
 *
 * Calls and outcomes travel in batches, one message per turn of either event loop (multi-process-wire.ts): at
 * thousands of calls a second, a message each would cost more CPU than the tasks. They travel as JSON, which is
 * also what the worker stores (a value JSON cannot carry fails its task, as in the in-process pools).
 *
 * Time limits are the inner pool's (a call's timeout goes with it). Only a task that blocks its child's event
 * loop escapes them, as in the worker itself, where a watchdog thread is the backstop; here it is this pool: a
 * child that has said nothing (it beats every BEAT_MS) since a call's limit passed, GRACE_MS later, is killed.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { now } from '../clock.ts';
import { errorMessage, NotImplemented, todoIn, UserError } from '../errors.ts';
import {
  POOL_BROKEN,
  type Pool,
  type PoolKind,
  type PoolOptions,
  type TaskCall,
  type TaskOutcome,
} from '../pool.ts';
import { tsChildExecArgv } from '../runtime/typescript.ts';
import {
  BEAT_MS,
  type FromMultiChild,
  type ToMultiChild,
  type WireCall,
  type WireResult,
} from './multi-process-wire.ts';

/** The pools a child can run: those that run many tasks at once on one thread. */
export const MULTI_PROCESS_KINDS = ['event-loop', 'coroutines'] as const;
export type MultiProcessKind = (typeof MULTI_PROCESS_KINDS)[number];

export interface MultiProcessOptions extends PoolOptions {
  /** The pool each child runs. */
  kind: MultiProcessKind;
  /** How many children. Each runs its share of `concurrency` (split as evenly as whole numbers go). */
  processes: number;
  /** The track the children take their pool from (the lab-built pool, as in-process). @default 'solutions' */
  track?: string;
}

const CHILD_MODULE = fileURLToPath(new URL('./multi-process-child.ts', import.meta.url));

/** How long past a call's time limit a silent child may stay silent before it is killed (the watchdog's grace). */
const GRACE_MS = 1000;
/** Children starts that may fail in a row, once the pool has run, before it counts as broken (as lane-pool.ts). */
const MAX_FAILED_STARTS = 8;
const RESTART_FIRST_MS = 100;
const RESTART_MOST_MS = 2000;
/** A warm stop's wait for a child to leave after its channel closed, before SIGKILL. */
const LEAVE_MS = 2000;

/**
 * The one check of `processes`, for the API and the CLI (`names` says which words the person typed). Returns the
 * kind, narrowed.
 */
export function checkProcesses(
  kind: PoolKind,
  processes: number,
  concurrency: number,
  names = { processes: 'processes', pool: 'pool', concurrency: 'concurrency' },
): MultiProcessKind {
  const most = availableParallelism() * 4;
  if (!(MULTI_PROCESS_KINDS as readonly string[]).includes(kind)) {
    throw new UserError(
      `${names.processes} runs an event-loop or coroutines pool in each of N processes: set ${names.pool} to event-loop or coroutines (got '${kind}')`,
    );
  }
  if (!Number.isInteger(processes) || processes < 1 || processes > most) {
    throw new UserError(
      `${names.processes} must be an integer from 1 to ${most} (4 per core), got ${processes}`,
    );
  }
  if (concurrency < processes) {
    throw new UserError(
      `${names.concurrency} (${concurrency}) must be at least ${names.processes} (${processes}): each process runs at least one task at a time`,
    );
  }
  return kind as MultiProcessKind;
}

/** Forks the children in parallel and resolves once every one has started its pool; rejects with why one could not. */
export async function createMultiProcessPool(options: MultiProcessOptions): Promise<MultiProcessPool> {
  const pool = new MultiProcessPool(options);
  try {
    await pool.start();
  } catch (error) {
    await pool.terminate();
    throw error;
  }
  return pool;
}

interface Job {
  s: number;
  call: TaskCall;
  resolve: (outcome: TaskOutcome) => void;
  reject: (error: Error) => void;
  /** When it was handed to its child. */
  startedAt: number;
}

interface Child {
  readonly process: ChildProcess;
  /** `pid-<pid>`: a replacement gets a new name. */
  readonly name: string;
  /** Which share of C it runs; a replacement takes the same. */
  readonly share: number;
  readonly concurrency: number;
  ready: boolean;
  /** The calls it holds, by the pool's number. */
  readonly jobs: Map<number, Job>;
  /** Calls handed to it this turn, sent together at the end of the turn. */
  outbox: WireCall[];
  /** now() at its last message. */
  heard: number;
}

export class MultiProcessPool implements Pool {
  readonly kind: MultiProcessKind;
  readonly concurrency: number;
  readonly processes: number;
  private readonly shares: number[];
  private readonly children = new Set<Child>();
  /** Calls not handed to a child yet, oldest first from `head`. */
  private waiting: Job[] = [];
  private head = 0;
  private held = 0;
  private sequence = 0;
  private flushing = false;
  private closing = false;
  private stopped = false;
  private broken: Error | undefined;
  private everReady = false;
  private failedStarts = 0;
  private readonly restarts = new Set<NodeJS.Timeout>();
  private onIdle: Array<() => void> = [];
  private readonly cpuWaits = new Map<number, (usage: NodeJS.CpuUsage | undefined) => void>();
  private readonly checker: NodeJS.Timeout;

  constructor(private readonly options: MultiProcessOptions) {
    const { concurrency, processes } = options;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new UserError(`concurrency must be an integer >= 1, got ${concurrency}`);
    }
    this.kind = checkProcesses(options.kind, processes, concurrency);
    this.concurrency = concurrency;
    this.processes = processes;
    // C split as evenly as whole numbers go: 1000 over 2 is 500 each, 5 over 2 is 3 and 2. Never more than C.
    this.shares = Array.from(
      { length: processes },
      (_, i) => Math.floor(concurrency / processes) + (i < concurrency % processes ? 1 : 0),
    );
    this.checker = setInterval(() => this.killBlocked(), BEAT_MS);
    this.checker.unref();
  }

  /** Starts every child at once; resolves when all are ready. */
  start(): Promise<void> {
    return Promise.all(this.shares.map((_, share) => this.startChild(share))).then(() => {});
  }

  run(call: TaskCall): Promise<TaskOutcome> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closing) return Promise.reject(new Error(`the ${this.kind} pool is closed`));
    return new Promise<TaskOutcome>((resolve, reject) => {
      this.waiting.push({ s: this.sequence++, call, resolve, reject, startedAt: 0 });
      this.held++;
      this.pump();
    });
  }

  /** Warm: what was given finishes, then every child is asked to leave (its channel closed) and waited for. */
  async close(): Promise<void> {
    this.closing = true;
    await new Promise<void>((resolve) => {
      this.onIdle.push(resolve);
      this.settleIdle();
    });
    await this.stopChildren(LEAVE_MS);
  }

  /** Cold: every child killed now; what they held and what waits fails (the worker has given it back). */
  async terminate(): Promise<void> {
    this.closing = true;
    for (const job of this.takeWaiting()) job.resolve(failure('PoolTerminated', 'the pool was terminated'));
    await this.stopChildren(0);
  }

  /** The children's pids now, for tests and demos. */
  pids(): number[] {
    return [...this.children].flatMap((child) =>
      child.process.pid === undefined ? [] : [child.process.pid],
    );
  }

  /**
   * CPU time the children have used so far (process.cpuUsage() in each, summed), µs. A benchmark that timed the
   * pool's own process would miss where the tasks ran. Children that do not answer within a second are left out.
   */
  async cpuUsage(): Promise<NodeJS.CpuUsage> {
    const asked = [...this.children]
      .filter((child) => child.ready)
      .map(
        (child) =>
          new Promise<NodeJS.CpuUsage | undefined>((resolve) => {
            const n = this.sequence++;
            const timer = setTimeout(() => answer(undefined), 1000);
            const answer = (usage: NodeJS.CpuUsage | undefined) => {
              clearTimeout(timer);
              this.cpuWaits.delete(n);
              resolve(usage);
            };
            this.cpuWaits.set(n, answer);
            this.sendTo(child, { type: 'cpu', n });
          }),
      );
    const sum = { user: 0, system: 0 };
    for (const usage of await Promise.all(asked)) {
      sum.user += usage?.user ?? 0;
      sum.system += usage?.system ?? 0;
    }
    return sum;
  }

  private startChild(share: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const concurrency = this.shares[share]!;
      let handle: ChildProcess;
      try {
        handle = fork(
          CHILD_MODULE,
          [this.options.tasksPath, this.kind, this.options.track ?? 'solutions', String(concurrency)],
          { execArgv: tsChildExecArgv() },
        );
      } catch (error) {
        this.startFailed(share, error, resolve, reject);
        return;
      }
      const child: Child = {
        process: handle,
        name: `pid-${handle.pid}`,
        share,
        concurrency,
        ready: false,
        jobs: new Map(),
        outbox: [],
        heard: now(),
      };
      this.children.add(child);
      let why: Error | undefined;
      handle.on('message', (message: FromMultiChild) => {
        child.heard = now();
        switch (message.type) {
          case 'done':
            this.finish(child, message.results);
            break;
          case 'ready':
            child.ready = true;
            this.everReady = true;
            this.failedStarts = 0;
            resolve();
            this.pump();
            break;
          case 'failed':
            why = startError(message.error);
            break;
          case 'cpu':
            this.cpuWaits.get(message.n)?.(message.usage);
            break;
        }
      });
      // A failed spawn, or a send to a child that just died: its 'exit' follows and settles what it held.
      handle.on('error', (error) => {
        why ??= error;
      });
      handle.on('exit', (code, signal) => {
        this.children.delete(child);
        const reason = signal ? `killed by ${signal}` : `exited with code ${code}`;
        if (!child.ready) {
          this.startFailed(
            share,
            why ?? new Error(`${child.name} ${reason} before it was ready: see its output above`),
            resolve,
            reject,
          );
        } else {
          const lost = this.stopped ? 'PoolTerminated' : 'WorkerLostError';
          for (const job of child.jobs.values()) {
            this.settle(
              job,
              failure(
                lost,
                `${child.name} ${reason} while running ${job.call.task}`,
                child.name,
                job.startedAt,
              ),
            );
          }
          child.jobs.clear();
          if (!this.stopped) void this.startChild(share).catch(() => {});
        }
        this.failIfNoneLeft();
        this.pump();
        this.settleIdle();
      });
    });
  }

  /**
   * A child died before it was ready. Before any child was ever ready, every start will end so (a tasks module that
   * throws at import): the pool breaks, and createPool rejects with why. Once children have run, it is bad luck: a
   * new one starts after a back-off that doubles with each failure in a row; MAX_FAILED_STARTS in a row break it.
   */
  private startFailed(
    share: number,
    cause: unknown,
    resolve: () => void,
    reject: (error: Error) => void,
  ): void {
    const error = cause instanceof Error ? cause : new Error(errorMessage(cause));
    this.failedStarts++;
    if (!this.everReady || this.stopped || error instanceof NotImplemented) {
      reject(this.breakPool(error));
      return;
    }
    if (this.failedStarts >= MAX_FAILED_STARTS) {
      const why = `the ${this.kind} pool cannot start its processes (${this.failedStarts} in a row died before they were ready; the last: ${error.message})`;
      reject(this.breakPool(new Error(why)));
      return;
    }
    const delay = Math.min(RESTART_FIRST_MS * 2 ** (this.failedStarts - 1), RESTART_MOST_MS);
    const timer = setTimeout(() => {
      this.restarts.delete(timer);
      if (this.stopped || this.broken) reject(this.broken ?? new Error(`the ${this.kind} pool was stopped`));
      else this.startChild(share).then(resolve, reject);
    }, delay);
    this.restarts.add(timer);
  }

  /** Hands waiting calls out, each to the ready child with the fewest in flight that has a slot free. */
  private pump(): void {
    while (this.head < this.waiting.length) {
      let best: Child | undefined;
      for (const child of this.children) {
        if (!child.ready || child.jobs.size >= child.concurrency) continue;
        if (!best || child.jobs.size < best.jobs.size) best = child;
      }
      if (!best) break;
      const job = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined as unknown as Job;
      job.startedAt = now();
      best.jobs.set(job.s, job);
      best.outbox.push({ s: job.s, call: job.call });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => this.flush());
      }
    }
    // Drop what was handed out once it is most of the array: shift() on a long array would copy it every call.
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
  }

  /** The end of a turn: each child's calls of this turn go in one message. */
  private flush(): void {
    this.flushing = false;
    for (const child of this.children) {
      if (child.outbox.length === 0) continue;
      const calls = child.outbox;
      child.outbox = [];
      this.sendTo(child, { type: 'calls', calls });
    }
  }

  /** A send to a child that just died fails quietly: its 'exit' settles what it held. */
  private sendTo(child: Child, message: ToMultiChild): void {
    if (!child.process.connected) return;
    try {
      child.process.send(message);
    } catch {}
  }

  private finish(child: Child, results: WireResult[]): void {
    for (const result of results) {
      const job = child.jobs.get(result.s);
      // Not held any more: failed already (its child was judged blocked and killed while this was on its way).
      if (!job) continue;
      child.jobs.delete(result.s);
      if ('outcome' in result) this.settle(job, result.outcome);
      else {
        // The child's pool rejected: it is broken (a lab stub, say). So is this pool, for the worker: it says why.
        const error = new Error(result.rejected.message);
        error.name = result.rejected.name;
        this.held--;
        job.reject(error);
      }
    }
    this.pump();
    this.settleIdle();
  }

  private settle(job: Job, outcome: TaskOutcome): void {
    this.held--;
    job.resolve(outcome);
  }

  /**
   * The backstop for time limits: a child silent since a call's limit passed, GRACE_MS on, runs nothing (a task
   * blocks its event loop: its own timer for that limit cannot fire either). Kill it: the calls past their limit
   * fail as TimeLimitExceeded, the others it held as WorkerLostError (its exit), and a new child takes its share.
   */
  private killBlocked(): void {
    const at = now();
    for (const child of this.children) {
      if (!child.ready || at - child.heard < GRACE_MS) continue;
      let overdue = false;
      for (const job of child.jobs.values()) {
        const limit = job.call.timeout;
        if (
          limit === undefined ||
          at < job.startedAt + limit + GRACE_MS ||
          child.heard > job.startedAt + limit
        ) {
          continue;
        }
        overdue = true;
        child.jobs.delete(job.s);
        this.settle(
          job,
          failure('TimeLimitExceeded', `time limit of ${limit} ms exceeded`, child.name, job.startedAt),
        );
      }
      if (overdue) child.process.kill('SIGKILL');
    }
  }

  /** No child left and none coming: what waits would wait for ever. */
  private failIfNoneLeft(): void {
    if (this.children.size > 0 || this.restarts.size > 0 || this.head === this.waiting.length) return;
    const message = this.broken?.message ?? 'the pool stopped its processes before this call ran';
    for (const job of this.takeWaiting())
      job.resolve(failure(this.broken ? POOL_BROKEN : 'PoolTerminated', message));
  }

  private takeWaiting(): Job[] {
    const taken = this.waiting.slice(this.head);
    this.waiting = [];
    this.head = 0;
    this.held -= taken.length;
    return taken;
  }

  /** The pool cannot start children: what waits fails now (POOL_BROKEN), and run() rejects from here on. */
  private breakPool(error: Error): Error {
    this.broken ??= error;
    for (const job of this.takeWaiting()) job.resolve(failure(POOL_BROKEN, error.message));
    this.settleIdle();
    return error;
  }

  private async stopChildren(graceMs: number): Promise<void> {
    this.stopped = true;
    clearInterval(this.checker);
    for (const timer of this.restarts) clearTimeout(timer);
    this.restarts.clear();
    await Promise.all([...this.children].map((child) => leave(child.process, graceMs)));
  }

  private settleIdle(): void {
    if (this.held > 0) return;
    for (const resolve of this.onIdle.splice(0)) resolve();
  }
}

/** Asks a child to leave (its IPC channel closed: it exits), SIGKILL after `graceMs`; resolves at its exit. */
function leave(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (graceMs > 0 && child.connected) child.disconnect();
  else child.kill('SIGKILL');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  return exited.finally(() => clearTimeout(timer));
}

/** Why a child could not start, as the error createPool rejects with: a person's mistake stays one line. */
function startError(error: { name: string; message: string }): Error {
  const todo = todoIn(error.message);
  if (todo) return new NotImplemented(todo.todo, todo.hint);
  if (error.name === 'UserError' || error.name === 'NotImplemented') return new UserError(error.message);
  const result = new Error(error.message);
  result.name = error.name;
  return result;
}

function failure(name: string, message: string, lane = 'main', startedAt?: number): TaskOutcome {
  const at = now();
  return { ok: false, error: { name, message }, lane, startedAt: startedAt ?? at, finishedAt: at };
}
