/**
 * The lane timeline, built on the server so the page draws tens of bars, not thousands of tasks.
 *
 * Each lane (a thread, a child process, a coroutine slot of one worker) is a row of segments. A task still
 * running at a tick, and for a tick's length already, gets a bar of its own that grows until it ends; shorter
 * tasks are folded into the lane's open segment of the same outcome while the gap before them is at most `gapMs`.
 * So at 5,000 tasks/s on 16 lanes a busy lane is one green bar that lengthens each tick, with a red one over it
 * where tasks failed, and what goes to the page each tick is at most a few segments per lane.
 *
 *   lane w1#thread-2  [====== 1,204 ok ======]  [== running fib ==>
 *                              [x 3 failed]
 */
import type { TaskEvent } from './source.ts';

export type SegmentState = 'running' | 'succeeded' | 'failed' | 'retried' | 'lost';
type Outcome = Exclude<SegmentState, 'running'>;

export interface Segment {
  id: number;
  /** laneKey(worker, lane). */
  lane: string;
  start: number;
  end: number;
  state: SegmentState;
  /** Tasks folded into it. */
  n: number;
  /** The task's name (the first one's, for a folded segment). */
  task: string;
}

interface Running {
  task: string;
  since: number;
  /** Its own bar, once a tick has seen it running. */
  segment?: Segment;
}

interface Lane {
  running: Map<string, Running>;
  open: Partial<Record<Outcome, Segment>>;
  /** The lane's segments still inside the window, oldest first (for a page that connects now). */
  recent: Segment[];
  /** Events have been seen: a heartbeat's view of what runs is older than theirs from now on. */
  heard: boolean;
}

export function laneKey(worker: string, lane: string): string {
  return `${worker}#${lane}`;
}

const OUTCOMES = new Set<string>(['succeeded', 'failed', 'retried', 'lost']);

export class Timeline {
  private readonly lanes = new Map<string, Lane>();
  private readonly changed = new Set<Segment>();
  private nextId = 1;

  constructor(
    /** How long a segment stays, ms: the page's window. */
    readonly windowMs = 30_000,
    /** Longest idle gap a folded segment bridges, ms: about one tick. */
    readonly gapMs = 100,
    /** Segments kept per lane, whatever the window: a bound on memory for a lane of long, failing tasks. */
    readonly perLane = 1000,
  ) {}

  private lane(key: string): Lane {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { running: new Map(), open: {}, recent: [], heard: false };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private add(lane: Lane, segment: Omit<Segment, 'id'>): Segment {
    const made = { id: this.nextId++, ...segment };
    lane.recent.push(made);
    if (lane.recent.length > this.perLane) lane.recent.shift();
    this.changed.add(made);
    return made;
  }

  /** One task event of `worker`. Events without a lane (a message refused before any lane took it) draw nothing. */
  event(worker: string, event: TaskEvent): void {
    if (event.lane === undefined) return;
    const key = laneKey(worker, event.lane);
    const lane = this.lane(key);
    lane.heard = true;
    if (event.type === 'started') {
      lane.running.set(event.id, { task: event.task, since: event.at });
      return;
    }
    if (!OUTCOMES.has(event.type)) return;
    const outcome = event.type as Outcome;
    const run = lane.running.get(event.id);
    lane.running.delete(event.id);
    if (run?.segment) {
      // Its own bar stops growing and takes the outcome's colour; short tasks after it fold into it.
      run.segment.state = outcome;
      run.segment.end = Math.max(run.segment.start, event.at);
      lane.open[outcome] = run.segment;
      this.changed.add(run.segment);
      return;
    }
    const start = run?.since ?? event.at - (event.runtimeMs ?? 0);
    const open = lane.open[outcome];
    if (open && start - open.end <= this.gapMs) {
      open.end = Math.max(open.end, event.at);
      open.n++;
      this.changed.add(open);
      return;
    }
    lane.open[outcome] = this.add(lane, {
      lane: key,
      start,
      end: Math.max(start, event.at),
      state: outcome,
      n: 1,
      task: event.task,
    });
  }

  /**
   * What a heartbeat says runs in a lane. Used only for a lane no event has come from yet (the page opened while
   * a long task was running); after that the events are newer than any heartbeat.
   */
  seen(worker: string, lane: string, task: { id: string; name: string; since: number } | undefined): void {
    const state = this.lane(laneKey(worker, lane));
    if (state.heard || !task || state.running.has(task.id)) return;
    state.running.set(task.id, { task: task.name, since: task.since });
  }

  /** The lanes of a worker that is gone: what it was running ends as lost at `at`, and its rows go. */
  drop(worker: string, at: number): void {
    const prefix = laneKey(worker, '');
    for (const [key, lane] of this.lanes) {
      if (!key.startsWith(prefix)) continue;
      for (const run of lane.running.values()) {
        if (!run.segment) continue;
        run.segment.state = 'lost';
        run.segment.end = Math.max(run.segment.start, at);
        this.changed.add(run.segment);
      }
      this.lanes.delete(key);
    }
  }

  /**
   * The tick: every task still running gets (or grows) its own bar to `now`; returns the segments made or
   * changed since the last tick, and forgets those that left the window.
   */
  tick(now: number): Segment[] {
    for (const [key, lane] of this.lanes) {
      for (const run of lane.running.values()) {
        if (run.segment) run.segment.end = Math.max(run.segment.start, now);
        // Shorter than a tick so far: it may still fold into the lane's open segment.
        else if (now - run.since < this.gapMs) continue;
        else {
          run.segment = this.add(lane, {
            lane: key,
            start: run.since,
            end: now,
            state: 'running',
            n: 1,
            task: run.task,
          });
        }
        this.changed.add(run.segment);
      }
      const since = now - this.windowMs;
      while (lane.recent.length > 0 && lane.recent[0]!.end < since && lane.recent[0]!.state !== 'running') {
        lane.recent.shift();
      }
    }
    const out = [...this.changed];
    this.changed.clear();
    return out;
  }

  /** Every segment in the window, for a page that connects now. */
  snapshot(): Segment[] {
    return [...this.lanes.values()].flatMap((lane) => lane.recent);
  }
}
