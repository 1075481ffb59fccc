import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createEnvelope, encodeEnvelope } from '../mini-queue/envelope.ts';
import { queueKeys } from '../mini-queue/keys.ts';
import { openBroker } from '../mini-queue/parts.ts';
import { Queue, TaskFailedError } from '../mini-queue/queue.ts';
import { type TaskRun, Worker, type WorkerOptions } from '../mini-queue/worker.ts';
import { until, useQueues } from './helpers/queues.ts';

const FIXTURE_TASKS = fileURLToPath(new URL('./fixtures/chassis-tasks.ts', import.meta.url));
const queues = useQueues('worker');
const running: Worker[] = [];
const producers: Queue[] = [];

async function setup(options: WorkerOptions = {}) {
  const name = queues.name();
  const queue = new Queue({ name });
  producers.push(queue);
  const worker = await Worker.start({ queue: name, blockMs: 100, retryBackoffMs: 20, ...options });
  running.push(worker);
  const runs: TaskRun[] = [];
  worker.on('task', (run) => runs.push(run));
  return { name, queue, worker, runs };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
  await Promise.all(producers.splice(0).map((q) => q.close()));
});

describe('worker and producer on real Redis', () => {
  it('takes a track only as a folder name at the repo root', async () => {
    await expect(Worker.start({ queue: queues.name(), track: '../secrets' })).rejects.toThrow(
      "a track is the name of a folder at the repo root (a-z, 0-9, '-', optionally one leading '.'), got '../secrets'",
    );
  });

  it('runs a task and returns its result by id, PENDING before', async () => {
    const name = queues.name();
    const queue = new Queue({ name });
    producers.push(queue);
    const handle = await queue.enqueue('fib', [20]);
    expect(await handle.state(), 'no worker yet').toBe('PENDING');
    const worker = await Worker.start({ queue: name, blockMs: 100 });
    running.push(worker);
    expect(await handle.result({ timeout: 10_000 })).toBe(6765);
    expect(await queue.handle(handle.id).state()).toBe('SUCCESS');
    const info = await handle.info();
    expect(info?.lane).toBe('main');
    expect(info!.finishedAt!).toBeGreaterThanOrEqual(info!.startedAt!);
  });

  it('fails an unknown task, naming the known ones, and goes on', async () => {
    const { queue } = await setup();
    const unknown = await queue.enqueue('nope', []);
    const next = await queue.enqueue('fib', [10]);
    await expect(unknown.result({ timeout: 5000 })).rejects.toThrow(
      "unknown task 'nope' (known: fail, fib, noop, predict, scrapePage, sendEmail, sleep, sum, thumbnail)",
    );
    expect(await next.result({ timeout: 5000 })).toBe(55);
  });

  it('fails an unknown task at once, even with retries left: another attempt would meet the same name', async () => {
    const { queue, worker } = await setup();
    const states: string[] = [];
    worker.on('task', (run) => states.push(run.state));
    const unknown = await queue.enqueue('nope', [], { maxRetries: 3 });
    await expect(unknown.result({ timeout: 5000 })).rejects.toThrow("unknown task 'nope'");
    expect(states, 'one FAILURE, no RETRY').toEqual(['FAILURE']);
    expect((await unknown.info())?.attempt).toBe(0);
  });

  it('passes prefork options to the prefork pool: children recycled after maxTasksPerChild tasks', async () => {
    const { queue, worker, runs } = await setup({
      pool: 'prefork',
      concurrency: 1,
      prefork: { maxTasksPerChild: 2 },
    });
    await queue.enqueueMany(
      'fib',
      Array.from({ length: 6 }, () => [10]),
    );
    await worker.untilSettled(6, 30_000);
    expect(runs.every((r) => r.state === 'SUCCESS')).toBe(true);
    expect(new Set(runs.map((r) => r.lane)).size, 'one child for every two tasks').toBe(3);
  });

  it('sends a message that is not JSON, or not an envelope, to the dead-letter list with the reason', async () => {
    const { name, queue, worker } = await setup();
    const redis = await queues.redis();
    const dead: string[] = [];
    worker.on('dead', ({ reason }) => dead.push(reason));
    await redis.lpush(queueKeys(name).waiting, 'this is not json', '{"task":"fib"}');
    const after = await queue.enqueue('fib', [5]);
    expect(await after.result({ timeout: 5000 })).toBe(5);
    await until(async () => (await queue.stats()).dead === 2);
    const letters = (await redis.lrange(queueKeys(name).dead, 0, -1)).map((l) => JSON.parse(l));
    expect(letters.map((l) => l.reason).sort()).toEqual([
      'not a valid envelope: `id` must be a non-empty string',
      'not valid JSON',
    ]);
    expect(letters.map((l) => l.raw)).toContain('this is not json');
    expect(dead).toHaveLength(2);
    expect((await queue.stats()).active, 'nothing stuck in flight').toBe(0);
  });

  it('retries with backoff, shows RETRY, and ends in FAILURE after maxRetries', async () => {
    const { queue, runs } = await setup();
    const handle = await queue.enqueue('fail', ['boom'], { maxRetries: 2 });
    await until(async () => (await handle.state()) === 'RETRY', 5000);
    await expect(handle.result({ timeout: 10_000 })).rejects.toBeInstanceOf(TaskFailedError);
    // The result is in Redis the moment the ack lands; the worker reports the run a turn later.
    await until(() => runs.length === 3);
    expect(runs.map((r) => `${r.state}:${r.attempt}`)).toEqual(['RETRY:0', 'RETRY:1', 'FAILURE:2']);
    const stats = await queue.stats();
    expect([stats.failed, stats.succeeded, stats.delayed, stats.active]).toEqual([1, 0, 0, 0]);
  });

  it('holds a countdown task in Redis until it is due', async () => {
    const { queue, runs } = await setup();
    const enqueued = Date.now();
    const handle = await queue.enqueue('fib', [12], { countdown: 600 });
    expect((await queue.stats()).delayed).toBe(1);
    expect(await handle.result({ timeout: 10_000 })).toBe(144);
    await until(() => runs.length === 1);
    expect(runs[0]!.startedAt - enqueued, 'not before it was due').toBeGreaterThanOrEqual(590);
  });

  it('turns bad task behaviour into readable FAILUREs and goes on', async () => {
    const { queue } = await setup({ tasksPath: FIXTURE_TASKS });
    const bigint = await queue.enqueue('bigint', []);
    const str = await queue.enqueue('throwString', []);
    const undef = await queue.enqueue('rejectUndefined', []);
    const typed = await queue.enqueue('typed', ['seven']);
    const slow = await queue.enqueue('slow', [5000], { timeout: 100 });
    const ok = await queue.enqueue('add', [2, 3]);
    await expect(bigint.result()).rejects.toThrow(
      /UnserialisableResult: the task returned a value that is not JSON/,
    );
    await expect(str.result()).rejects.toThrow(/plain string/);
    await expect(undef.result()).rejects.toThrow(/rejected with undefined/);
    await expect(typed.result()).rejects.toThrow(/TypeError: typed\(n\) needs a number, got string/);
    await expect(slow.result()).rejects.toThrow(/TimeLimitExceeded: time limit of 100 ms exceeded/);
    expect(await ok.result()).toBe(5);
    expect(await queue.stats()).toMatchObject({ succeeded: 1, failed: 5, dead: 0, active: 0 });
  });

  it('warm stop lets the running task finish and fetches nothing more', async () => {
    const { queue, worker, runs } = await setup({ tasksPath: FIXTURE_TASKS });
    const first = await queue.enqueue('slow', [300]);
    await until(async () => (await first.state()) === 'STARTED');
    await queue.enqueue('slow', [10]);
    await worker.stop();
    expect(runs.map((r) => r.state)).toEqual(['SUCCESS']);
    expect(await queue.stats()).toMatchObject({ succeeded: 1, waiting: 1, active: 0 });
  });

  it('a STARTED written late (its run stalled past its lease) never hides the result of the run that finished', async () => {
    const broker = await openBroker({ queue: queues.name() });
    try {
      const [done, retried] = [createEnvelope('fib', [1]), createEnvelope('fib', [2])];
      await broker.push([encodeEnvelope(done), encodeEnvelope(retried)]);
      const held = await broker.reserve(2, 1000);
      const base = (e: typeof done) => ({ id: e.id, task: e.task, attempt: 0, enqueuedAt: e.enqueuedAt });
      const started = (e: typeof done) =>
        broker.started({ ...base(e), state: 'STARTED', startedAt: Date.now() });
      await started(done);
      expect((await broker.result(done.id))?.state).toBe('STARTED');
      await broker.ack(held[0]!, { ...base(done), state: 'SUCCESS', result: 1 });
      // The first run blocked its event loop past its lease; another worker ran the message and acked it; now the
      // first run's STARTED, due a turn of its loop after its start, is written at last.
      await started(done);
      expect(await broker.result(done.id)).toMatchObject({ state: 'SUCCESS', result: 1 });
      // A RETRY is no final state: the next attempt starting replaces it.
      const next = encodeEnvelope({ ...retried, attempt: 1 });
      await broker.retry(held[1]!, next, Date.now(), { ...base(retried), state: 'RETRY' });
      await started(retried);
      expect((await broker.result(retried.id))?.state).toBe('STARTED');
    } finally {
      await broker.close();
    }
  });

  it('renews the leases of a long task, so it is not handed out twice', async () => {
    const { name, queue, runs } = await setup({ tasksPath: FIXTURE_TASKS, visibilityMs: 300 });
    const other = await Worker.start({
      queue: name,
      blockMs: 100,
      visibilityMs: 300,
      tasksPath: FIXTURE_TASKS,
    });
    running.push(other);
    other.on('task', (run) => runs.push(run));
    const handle = await queue.enqueue('slow', [1200]);
    expect(await handle.result({ timeout: 5000 })).toBe(1200);
    await until(() => runs.length >= 1);
    expect(runs, 'ran once although it took 4x the visibility timeout').toHaveLength(1);
  });
});
