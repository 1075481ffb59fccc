/**
 * Lab 06's contract, read first: what the attendee's two files export and what they are handed. The demo, the
 * HTML report and the check type-check against these, never against a track's files: at run time they load the
 * track's app.ts and advice.ts by path (an unfinished lab compiles all the same).
 *
 *   app.ts     offload(app, task, args) ─▶ 202 { id, status: '/status/<id>' }     served by startApp() in
 *              status(app, id)          ─▶ 200 statusBody(id, record) | 404        http-app.ts, with the routes
 *   advice.ts  recommendPool(rows: ShowdownRow[]) ─▶ Advice[], one per workload, from the numbers alone
 */
import type { PoolKind } from '../../mini-queue/pool.ts';
import type { Queue } from '../../mini-queue/queue.ts';

/** The two designs of the same web app: compute in the request handler, or hand the work to mini-queue. */
export type Design = 'inline' | 'offload';

/** What a handler answers: an HTTP status and a JSON body. */
export interface Reply {
  status: number;
  body: unknown;
}

/** What the handlers share. */
export interface AppContext {
  /** The producer side of mini-queue: `enqueue()` and `handle(id)`. */
  queue: Queue;
  /**
   * Ids this app handed out. A task nobody has started yet has no record in Redis, exactly like an id that never
   * existed (Celery answers PENDING for both): this set tells them apart. A real app keeps it in its database.
   */
  issued: Set<string>;
}

/** What app.ts exports: the two handlers of the offload design. */
export interface AppParts {
  /** POST /thumbnail, /predict: enqueue, answer `202 { id, status: '/status/<id>' }` at once. */
  offload(app: AppContext, task: string, args: unknown[]): Promise<Reply>;
  /** GET /status/:id: 200 with where the task is now, or 404 for an id nobody issued. */
  status(app: AppContext, id: string): Promise<Reply>;
}

/** One pool × one workload, as the showdown measured it. */
export interface ShowdownRow {
  pool: PoolKind;
  /** `I/O`, `CPU` or `mixed` in the demo; any name works. */
  workload: string;
  /** Lanes the pool ran at once. */
  concurrency: number;
  /** Tasks run, and how many of them failed. */
  tasks: number;
  failed: number;
  seconds: number;
  /** Tasks per second. */
  throughput: number;
  /** Throughput against solo's on the same workload (1 for solo itself). */
  speedup: number;
  /**
   * How late the main thread's timers fired while the pool worked: monitorEventLoopDelay's p99 minus its
   * resolution, ms. A worker whose loop is blocked cannot renew its leases, answer a health check or even notice
   * a shutdown signal.
   */
  loopDelayP99: number;
}

/** The pool to use for one workload, and why, in a sentence the demo can print. */
export interface Advice {
  workload: string;
  pool: PoolKind;
  throughput: number;
  speedup: number;
  reason: string;
}

/** What advice.ts exports. */
export interface AdviceParts {
  /** One piece of advice per workload, from the numbers alone (the rules: advice.ts, above the function). */
  recommendPool(rows: ShowdownRow[]): Advice[];
}

/** Pools this close to the fastest one (as a share of its throughput) count as just as fast. */
export const CLOSE_ENOUGH = 0.9;

/**
 * A worker whose main loop runs its timers later than this (p99, ms) is unhealthy whatever its throughput: its
 * lease renewals, heartbeats and shutdown signal all wait that long.
 */
export const MAX_LOOP_DELAY_MS = 100;
