/**
 * The dashboard's server-side aggregation, without a browser: what the lane timeline sends to the page for a
 * burst of short tasks, a long one, failures and a worker that dies; and that every example task has its button.
 */
import { describe, expect, it } from 'vitest';
import { SAMPLE_BATCHES } from '../mini-queue/dashboard/samples.ts';
import { laneKey, type Segment, Timeline } from '../mini-queue/dashboard/timeline.ts';
import type { TaskEvent } from '../mini-queue/monitor/index.ts';
import { loadTasks, taskNames } from '../mini-queue/tasks.ts';

const T0 = 1_700_000_000_000;

function run(id: string, lane: string, start: number, end: number, outcome: TaskEvent['type'] = 'succeeded') {
  const task = { id, task: 'noop', attempt: 0, lane };
  return [
    { ...task, type: 'started', at: start },
    { ...task, type: outcome, at: end, runtimeMs: end - start },
  ] as TaskEvent[];
}

/** Plays events and ticks (every 100 ms) in time order; returns every segment as last sent, by id. */
function play(timeline: Timeline, events: TaskEvent[], until: number): Map<number, Segment> {
  const sent = new Map<number, Segment>();
  const ordered = [...events].sort((a, b) => a.at - b.at);
  let next = 0;
  for (let tick = T0 + 100; tick <= until; tick += 100) {
    while (next < ordered.length && ordered[next]!.at <= tick) timeline.event('w1', ordered[next++]!);
    for (const segment of timeline.tick(tick)) sent.set(segment.id, { ...segment });
  }
  return sent;
}

describe('the lane timeline', () => {
  it('folds 5,000 back-to-back tasks a second on 16 lanes into one growing bar per lane', () => {
    const timeline = new Timeline();
    const events: TaskEvent[] = [];
    // 1 s at 5,000 tasks/s: each of 16 lanes runs a 3 ms task every 3.2 ms.
    for (let n = 0; n < 5000; n++) {
      const lane = `thread-${(n % 16) + 1}`;
      const start = T0 + Math.floor(n / 16) * 3.2;
      events.push(...run(`t${n}`, lane, start, start + 3));
    }
    let largestTick = 0;
    const sent = new Map<number, Segment>();
    const ordered = events.sort((a, b) => a.at - b.at);
    let next = 0;
    for (let tick = T0 + 100; tick <= T0 + 1100; tick += 100) {
      while (next < ordered.length && ordered[next]!.at <= tick) timeline.event('w1', ordered[next++]!);
      const changed = timeline.tick(tick);
      largestTick = Math.max(largestTick, changed.length);
      for (const segment of changed) sent.set(segment.id, { ...segment });
    }
    const segments = [...sent.values()];
    expect(segments, 'one segment per lane').toHaveLength(16);
    expect(largestTick, 'segments sent in one tick, at most').toBeLessThanOrEqual(16);
    expect(
      segments.reduce((sum, s) => sum + s.n, 0),
      'every task counted once',
    ).toBe(5000);
    expect(segments.every((s) => s.state === 'succeeded' && s.end - s.start > 900)).toBe(true);
  });

  it('gives a long task its own bar, growing while it runs, then coloured by how it ended', () => {
    const timeline = new Timeline();
    const key = laneKey('w1', 'pid-7');
    timeline.event('w1', run('long', 'pid-7', T0, T0 + 1000, 'failed')[0]!);
    expect(timeline.tick(T0 + 50), 'not a bar before it has run a tick').toEqual([]);
    const [bar] = timeline.tick(T0 + 300);
    expect(bar).toMatchObject({ lane: key, state: 'running', start: T0, end: T0 + 300, task: 'noop' });
    expect(timeline.tick(T0 + 600)[0]).toMatchObject({ id: bar!.id, state: 'running', end: T0 + 600 });
    timeline.event('w1', { ...run('long', 'pid-7', T0, T0 + 1000, 'failed')[1]!, error: 'Error: no' });
    expect(timeline.tick(T0 + 1100)).toEqual([
      expect.objectContaining({ id: bar!.id, state: 'failed', start: T0, end: T0 + 1000, n: 1 }),
    ]);
    expect(timeline.tick(T0 + 1200), 'nothing changed, nothing sent').toEqual([]);
  });

  it('keeps failures apart from the successes around them, and a gap longer than a tick splits a bar', () => {
    const timeline = new Timeline();
    const events = [
      ...run('a', 'thread-1', T0 + 10, T0 + 12),
      ...run('b', 'thread-1', T0 + 13, T0 + 15, 'failed'),
      ...run('c', 'thread-1', T0 + 16, T0 + 18),
      // 500 ms idle, then one more.
      ...run('d', 'thread-1', T0 + 518, T0 + 520),
    ];
    const segments = [...play(timeline, events, T0 + 700).values()].sort((x, y) => x.start - y.start);
    expect(segments.map((s) => [s.state, s.n, s.start - T0, s.end - T0])).toEqual([
      ['succeeded', 2, 10, 18],
      ['failed', 1, 13, 15],
      ['succeeded', 1, 518, 520],
    ]);
  });

  it("ends a dead worker's running bars as lost and forgets its lanes", () => {
    const timeline = new Timeline();
    timeline.event('w1', run('x', 'thread-1', T0, T0 + 9999)[0]!);
    timeline.event('w2', run('y', 'thread-1', T0, T0 + 9999)[0]!);
    const [first] = timeline.tick(T0 + 200).filter((s) => s.lane === laneKey('w1', 'thread-1'));
    timeline.drop('w1', T0 + 250);
    const changed = timeline.tick(T0 + 300);
    expect(changed.find((s) => s.id === first!.id)).toMatchObject({ state: 'lost', end: T0 + 250 });
    expect(changed.find((s) => s.lane === laneKey('w2', 'thread-1'))).toMatchObject({ state: 'running' });
    expect(
      timeline.snapshot().every((s) => s.lane.startsWith('w2#')),
      'only the live worker',
    ).toBe(true);
  });

  it('shows what a heartbeat says runs in a lane no event came from yet, and trusts events after', () => {
    const timeline = new Timeline();
    timeline.seen('w1', 'thread-1', { id: 'old', name: 'fib', since: T0 - 5000 });
    expect(timeline.tick(T0)).toEqual([
      expect.objectContaining({ state: 'running', start: T0 - 5000, task: 'fib' }),
    ]);
    timeline.event('w1', { ...run('old', 'thread-1', T0 - 5000, T0 + 10)[1]! });
    timeline.seen('w1', 'thread-1', { id: 'old', name: 'fib', since: T0 - 5000 });
    expect(timeline.tick(T0 + 100)).toEqual([expect.objectContaining({ state: 'succeeded', end: T0 + 10 })]);
    expect(timeline.tick(T0 + 200), 'a stale heartbeat does not bring it back').toEqual([]);
  });
});

describe('sample batches', () => {
  it('has one for every example task, and no other', async () => {
    const names = taskNames(await loadTasks()).sort();
    expect(SAMPLE_BATCHES.map((s) => s.task).sort()).toEqual(names);
    for (const sample of SAMPLE_BATCHES) expect(sample.args(0), sample.task).toBeInstanceOf(Array);
  });
});
