/**
 * The dashboard's state, aggregated on the server: what every page shows, computed once, whatever the number of
 * pages and the task rate. Redis is read every `pollMs` (counts, heartbeats, lab 06's figures); task events
 * arrive as the workers publish them and feed the lane timeline (timeline.ts) and the last failures. Each tick
 * (`tick()`, every 100 ms) makes one message for every page: the queues and workers in full (small), and only
 * the timeline segments that changed.
 */
import type { Redis } from 'ioredis';
import { queueKeys } from '../keys.ts';
import type { AppStats, EventBatch, MonitorSource, WorkerBeat } from './source.ts';
import { laneKey, type Segment, Timeline } from './timeline.ts';

export interface QueueView {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  dead: number;
  succeeded: number;
  failed: number;
  retried: number;
  /** Tasks a second, over the last second: enqueued (arrivals) and finished (succeeded or failed). */
  inRate: number;
  outRate: number;
  /** One point a second, oldest first: waiting, and finished per second. */
  history: Array<{ waiting: number; outRate: number; inRate: number }>;
  /** Tasks that came back to the queue after their worker died (lost events). */
  lost: number;
  /**
   * A worker left tasks out of its events in the last 2 s (EventBatch.skipped: past 5,120 tasks/s a worker): the
   * timeline shows some of this queue's tasks, not all. The counts and rates above are exact either way.
   */
  sampled: boolean;
  app?: AppStats;
}

export interface WorkerView extends Omit<WorkerBeat, 'lanes'> {
  lanes: Array<{ key: string; name: string; task?: { id: string; name: string; since: number } }>;
}

export interface Failure {
  at: number;
  queue: string;
  worker: string;
  id: string;
  task: string;
  attempt: number;
  type: 'failed' | 'retried' | 'lost';
  error: string;
}

export interface Message {
  /** The server's clock: the page draws against it, whatever its own says. */
  now: number;
  /** The first message a page gets: every segment in the window; later ones carry only what changed. */
  reset?: true;
  queues: QueueView[];
  workers: WorkerView[];
  failures: Failure[];
  segments: Segment[];
  /** Why the figures are stale: the last read of Redis failed (the page says so). */
  problem?: string;
}

interface QueueState {
  view: QueueView;
  /** When an event batch last said it left tasks out (Date.now()). */
  skippedAt: number;
  /** (time, arrivals so far, finished so far), the last ~2 s of polls, for the rates. */
  samples: Array<{ at: number; arrivals: number; finished: number }>;
  lastHistoryAt: number;
}

const HISTORY_POINTS = 60;
/** How long after the last batch that left tasks out the timeline is still called sampled. */
const SAMPLED_MS = 2000;
const FAILURES_KEPT = 20;
/** Lab 06's figures older than this are a web app that stopped: not shown. */
const APP_STALE_MS = 10_000;

export class DashboardModel {
  private readonly queues = new Map<string, QueueState>();
  private workers = new Map<string, WorkerBeat>();
  private failures: Failure[] = [];
  private readonly timeline = new Timeline();
  private lastListAt = 0;
  /** The queues of the last listing. */
  private listed = new Set<string>();
  private problem: string | undefined;
  private unsubscribes: Array<() => Promise<void>> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly source: MonitorSource,
    /** Only these queues; otherwise every queue the source lists, looked up every 2 s. */
    private readonly only: string[] | undefined,
  ) {}

  /** Reads Redis once: the queue list (every 2 s), then each queue's counts, workers and web-app figures. */
  async poll(now = Date.now()): Promise<void> {
    if (!this.unsubscribes) await this.subscribe();
    if (this.queues.size === 0 || (!this.only && now - this.lastListAt >= 2000)) {
      this.lastListAt = now;
      const names = this.only ?? (await this.source.listQueues());
      this.listed = new Set(names.length > 0 ? names : ['default']);
      for (const name of this.listed) this.watch(name);
    }
    const workers = new Map<string, WorkerBeat>();
    // Every queue at once: the connection pipelines the lot, one round trip however many queues there are.
    const read = await Promise.all(
      [...this.queues].map(async ([name, state]) => {
        const [counts, beats, app] = await Promise.all([
          this.counts(name),
          this.source.workers(name),
          this.source.app(name),
        ]);
        return { name, state, counts, beats, app };
      }),
    );
    for (const { name, state, counts, beats, app } of read) {
      this.rates(state, counts, now);
      state.view.app = app && now - app.at < APP_STALE_MS ? app : undefined;
      for (const beat of beats) workers.set(beat.id, beat);
      // Showing every queue: one no longer listed (no worker, nothing waiting), with nothing in flight or
      // delayed either, has finished; its row goes. A queue named with --queue always stays.
      const idle = beats.length === 0 && counts.waiting + counts.active + counts.delayed === 0;
      if (!this.only && idle && !this.listed.has(name)) this.queues.delete(name);
    }
    for (const id of this.workers.keys()) {
      if (!workers.has(id)) this.timeline.drop(id, now);
    }
    for (const beat of workers.values()) {
      for (const lane of beat.lanes) this.timeline.seen(beat.id, lane.name, lane.task);
    }
    this.workers = workers;
  }

  /** Task events: of the chosen queues, or of every queue with one PSUBSCRIBE ('*'). */
  private async subscribe(): Promise<void> {
    const unsubscribes: Array<() => Promise<void>> = [];
    try {
      for (const target of this.only ?? ['*']) {
        unsubscribes.push(await this.source.subscribe(target, (batch, queue) => this.onBatch(queue, batch)));
      }
    } catch (error) {
      await Promise.all(unsubscribes.map((stop) => stop()));
      throw error;
    }
    this.unsubscribes = unsubscribes;
  }

  private watch(name: string): void {
    if (this.queues.has(name)) return;
    const view: QueueView = {
      name,
      waiting: 0,
      active: 0,
      delayed: 0,
      dead: 0,
      succeeded: 0,
      failed: 0,
      retried: 0,
      inRate: 0,
      outRate: 0,
      history: [],
      lost: 0,
      sampled: false,
    };
    this.queues.set(name, { view, skippedAt: Number.NEGATIVE_INFINITY, samples: [], lastHistoryAt: 0 });
  }

  private async counts(name: string) {
    const k = queueKeys(name);
    const replies = await this.redis
      .multi()
      .llen(k.waiting)
      .llen(k.active)
      .zcard(k.delayed)
      .llen(k.dead)
      .hmget(k.stats, 'succeeded', 'failed', 'retried')
      .exec();
    const [waiting, active, delayed, dead, counters] = (replies ?? []).map(([error, value]) => {
      if (error) throw error;
      return value;
    }) as [number, number, number, number, Array<string | null>];
    const [succeeded, failed, retried] = counters.map((c) => Number(c ?? 0)) as [number, number, number];
    return { waiting, active, delayed, dead, succeeded, failed, retried };
  }

  /**
   * A message is always in exactly one place (waiting, active, delayed, dead, or counted as succeeded or failed
   * once acked), so their sum grows by what was enqueued: the rate in, with no counter on the producer's path.
   */
  private rates(state: QueueState, counts: Awaited<ReturnType<DashboardModel['counts']>>, now: number) {
    Object.assign(state.view, counts);
    state.view.sampled = now - state.skippedAt < SAMPLED_MS;
    const finished = counts.succeeded + counts.failed;
    const arrivals = counts.waiting + counts.active + counts.delayed + counts.dead + finished;
    state.samples.push({ at: now, arrivals, finished });
    while (state.samples.length > 2 && now - state.samples[1]!.at >= 1000) state.samples.shift();
    const first = state.samples[0]!;
    const seconds = (now - first.at) / 1000;
    state.view.inRate = seconds > 0 ? Math.max(0, (arrivals - first.arrivals) / seconds) : 0;
    state.view.outRate = seconds > 0 ? Math.max(0, (finished - first.finished) / seconds) : 0;
    if (now - state.lastHistoryAt >= 1000) {
      state.lastHistoryAt = now;
      const { waiting, inRate, outRate } = state.view;
      state.view.history.push({ waiting, inRate: Math.round(inRate), outRate: Math.round(outRate) });
      if (state.view.history.length > HISTORY_POINTS) state.view.history.shift();
    }
  }

  private onBatch(queue: string, batch: EventBatch): void {
    const state = this.queues.get(queue);
    if (state && batch.skipped > 0) {
      state.skippedAt = Date.now();
      state.view.sampled = true;
    }
    for (const event of batch.events) {
      this.timeline.event(batch.worker, event);
      if (event.type === 'lost' && state) state.view.lost++;
      if (event.type === 'failed' || event.type === 'retried' || event.type === 'lost') {
        this.failures.unshift({
          at: event.at,
          queue,
          worker: batch.worker,
          id: event.id,
          task: event.task,
          attempt: event.attempt,
          type: event.type,
          error: event.error ?? (event.type === 'lost' ? 'its worker died while running it' : ''),
        });
      }
    }
    if (this.failures.length > FAILURES_KEPT) this.failures.length = FAILURES_KEPT;
  }

  /** The last poll failed (Redis down): the page shows why its figures stopped moving. */
  setProblem(problem: string): void {
    this.problem = problem;
  }

  clearProblem(): void {
    this.problem = undefined;
  }

  /** The message of this tick: what changed in the timeline since the last one. */
  tick(now = Date.now()): Message {
    return { now, ...this.lists(), segments: this.timeline.tick(now) };
  }

  /** Everything a page needs to start: every segment in the window. Call right after tick(). */
  snapshot(now = Date.now()): Message {
    return { now, reset: true, ...this.lists(), segments: this.timeline.snapshot() };
  }

  private lists() {
    return {
      queues: [...this.queues.values()].map((s) => s.view),
      workers: [...this.workers.values()].map(
        (beat): WorkerView => ({
          ...beat,
          lanes: beat.lanes.map((lane) => ({ ...lane, key: laneKey(beat.id, lane.name) })),
        }),
      ),
      failures: this.failures,
      ...(this.problem === undefined ? {} : { problem: this.problem }),
    };
  }

  /** Stops listening to events. Call once no poll() is running (the caller's loop waits for its last one). */
  async close(): Promise<void> {
    await Promise.all((this.unsubscribes ?? []).map((stop) => stop()));
    this.unsubscribes = [];
  }
}
