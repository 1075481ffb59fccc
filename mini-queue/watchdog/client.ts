import { Worker as Thread } from 'node:worker_threads';
import type { ResultRecord } from '../broker.ts';
import { errorMessage } from '../errors.ts';
import type { Track } from '../parts.ts';
import type { TaskCall } from '../pool.ts';
import { TS_THREAD_ENTRY, tsThreadData } from '../runtime/typescript.ts';
import { type InlineRunObserver, observeInlineRuns } from './inline-runs.ts';

/**
 * The worker's watchdog: a hard time limit for tasks that run on the worker's own thread (solo, event-loop,
 * coroutines), where a time limit is a timer on that same thread and a task that never yields silences it.
 *
 *   main thread                                   watchdog thread (own Redis connections)
 *   expect(call, raw) ─ enter ──postMessage──▶    runs: token → message, lane, start, limit
 *   settled(call) ─────────────postMessage──▶     forgets it
 *   every 100 ms: heartbeat ──SharedArrayBuffer──▶ every 100 ms: is a run past limit + grace while the
 *   task code runs: current token ─SharedArrayBuffer─▶ heartbeat has not moved since its limit passed?
 *   maintenance: holding(raws) ───postMessage──▶   yes: FAILURE TimeLimitExceeded (acked, never retried), the
 *                                                   other held messages back to waiting, SIGKILL the process
 *                                                   (who is failed and who given back: see thread.ts)
 *
 * The heartbeat is what tells a blocked thread from a busy one: a timer that has not run since a run's time limit
 * passed means the thread has run nothing since, so that limit's own timer has not fired either. The process is
 * killed, not the task: a loop in the main thread cannot be stopped from outside it, and SIGTERM, whose handler
 * runs on that thread, would wait for ever. A supervisor (systemd, Docker, a process manager) restarts it.
 *
 * The thread starts with the first timed task that runs here, not with the worker: most workers never need it. That
 * task waits until the thread is up and has its Redis connection (arm()): booting it takes 1 to 3 s on a busy
 * machine, and booted while the task already blocks this thread, it would spend that time while the leases this
 * thread no longer renews run out, and the runaway would be handed to another worker before it could be failed.
 */
export interface WatchdogOptions {
  queue: string;
  url: string;
  visibilityMs: number;
  /** Whose broker the thread opens: its ack settles the runaway's message the way this worker would. */
  brokerTrack: Track | undefined;
  /** Whose chord join the thread runs for a runaway chord member, before its ack (see coordination.ts). */
  coordinationTrack?: Track | undefined;
  /** The pool runs one task at a time (solo, or concurrency 1): then the task that blocks is the one it runs. */
  oneLane: boolean;
  /** How long past its time limit a task may block the thread before the process is killed, ms. */
  graceMs?: number;
}

/** What the main thread tells the watchdog thread. */
export type ToWatchdog =
  | {
      type: 'start';
      token: number;
      raw: string;
      record: Omit<ResultRecord, 'state'>;
      lane: string;
      /** As the pool timed it (the record's startedAt). */
      startedAt: number;
      /** The same moment by Date.now(), the clock of the heartbeat it is compared with. */
      at: number;
      timeout: number;
    }
  | { type: 'end'; token: number }
  | { type: 'holding'; raws: string[] };

/** What the watchdog thread tells the main thread: it is up, its broker opened (or could not). */
export type FromWatchdog = { type: 'ready' };

/** What the watchdog thread reads from shared memory, as BigInt64Array slots. */
export const SLOT = {
  /** Epoch ms of the main thread's last heartbeat. */
  heartbeat: 0,
  /** The token of the run whose synchronous part is on the main thread right now, 0 when none. */
  current: 1,
} as const;

export const HEARTBEAT_MS = 100;
export const DEFAULT_GRACE_MS = 1000;

const THREAD_MODULE = new URL('./thread.ts', import.meta.url);

interface Expected {
  token: number;
  raw: string;
  record: Omit<ResultRecord, 'state'>;
  started: boolean;
}

export class LoopWatchdog implements InlineRunObserver {
  private thread: Thread | undefined;
  /** Until the thread is ready to act (see arm()); undefined once it is, or before it starts. */
  private arming: Promise<void> | undefined;
  private armed = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly shared = new BigInt64Array(new SharedArrayBuffer(2 * 8));
  private readonly expected = new WeakMap<TaskCall, Expected>();
  private readonly unobserve: () => void;
  private tokens = 0;
  private closed = false;

  constructor(
    private readonly options: WatchdogOptions,
    private readonly warn: (message: string) => void,
  ) {
    this.unobserve = observeInlineRuns(this);
  }

  /**
   * Resolves once the thread is ready to fail a task that blocks this one (started now if it is not yet); undefined
   * when it already is, so a timed task awaits nothing after the first. Await it before a timed task runs here.
   */
  arm(): Promise<void> | undefined {
    if (this.armed || this.closed) return undefined;
    this.start();
    return this.arming;
  }

  /** `call` (with a time limit) is about to be handed to the pool: if it runs on this thread, watch it. */
  expect(call: TaskCall, raw: string, record: Omit<ResultRecord, 'state'>): void {
    if (call.timeout === undefined || this.closed) return;
    this.expected.set(call, { token: ++this.tokens, raw, record, started: false });
  }

  enter(call: TaskCall, lane: string, startedAt: number): void {
    const expected = this.expected.get(call);
    if (!expected || call.timeout === undefined) return;
    expected.started = true;
    this.start();
    Atomics.store(this.shared, SLOT.current, BigInt(expected.token));
    const { token, raw, record } = expected;
    this.post({ type: 'start', token, raw, record, lane, startedAt, at: Date.now(), timeout: call.timeout });
  }

  leave(call: TaskCall): void {
    const expected = this.expected.get(call);
    if (!expected) return;
    // A beat first: the thread runs again. Cleared first, the watchdog could see no blocker beside a heartbeat
    // still from before the task blocked (the next beat is a timer away), and kill for a neighbour whose limit
    // passed meanwhile, which fails on its own now that the loop is back. The watchdog reads in the other order.
    this.beat();
    Atomics.compareExchange(this.shared, SLOT.current, BigInt(expected.token), 0n);
  }

  /** The pool has settled `call`: whatever it still does, its time limit has been dealt with on this thread. */
  settled(call: TaskCall): void {
    const expected = this.expected.get(call);
    if (!expected) return;
    this.expected.delete(call);
    if (expected.started) this.post({ type: 'end', token: expected.token });
  }

  /** Every message the worker holds, so that a killed worker's messages go back to the queue at once. */
  holding(raws: string[]): void {
    if (this.thread) this.post({ type: 'holding', raws });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unobserve();
    clearInterval(this.heartbeat);
    await this.thread?.terminate();
  }

  private start(): void {
    if (this.thread || this.closed) return;
    this.beat();
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
    // The thread boots on its own: it does not need this thread's event loop, which may block right after this.
    const thread = new Thread(TS_THREAD_ENTRY, {
      workerData: tsThreadData(THREAD_MODULE, {
        ...this.options,
        graceMs: this.options.graceMs ?? DEFAULT_GRACE_MS,
        shared: this.shared,
        pid: process.pid,
      }),
      // Its own output goes straight to fd 2 (see thread.ts): this thread's stdio is relayed by the main thread.
      stdout: false,
      stderr: false,
    });
    thread.unref();
    thread.on('error', (error) => this.warn(`watchdog: ${errorMessage(error)}`));
    // Ready, or gone (its error is told above): either way nothing is gained by waiting longer.
    this.arming = new Promise<void>((resolve) => {
      thread.on('message', (message: FromWatchdog) => {
        if (message.type === 'ready') resolve();
      });
      thread.once('exit', () => resolve());
    }).then(() => {
      this.armed = true;
      this.arming = undefined;
    });
    this.thread = thread;
  }

  private beat(): void {
    Atomics.store(this.shared, SLOT.heartbeat, BigInt(Date.now()));
  }

  private post(message: ToWatchdog): void {
    this.thread?.postMessage(message);
  }
}
