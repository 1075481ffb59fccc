/**
 * Workers announce themselves (issue 19): a heartbeat record per worker, with a TTL, read by `inspect` and the
 * dashboard (mini-queue/monitor/). Real Redis, real workers, a real kill -9.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { listQueues, readWorkers, workerKey, workersKey } from '../mini-queue/monitor/index.ts';
import { Queue } from '../mini-queue/queue.ts';
import { Worker } from '../mini-queue/worker.ts';
import { alive, run, start } from './helpers/cli.ts';
import { until, useQueues } from './helpers/queues.ts';

const queues = useQueues('heartbeat');
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

async function startWorker(options: Parameters<typeof Worker.start>[0]): Promise<Worker> {
  const worker = await Worker.start({ fastPath: true, ...options });
  stops.push(() => worker.stop({ cold: true }));
  return worker;
}

describe('a worker heartbeat', () => {
  it('is in Redis from the start, with the worker, its pool, its lanes and a TTL of 3 intervals', async () => {
    const name = queues.name();
    const redis = await queues.redis();
    const worker = await startWorker({ queue: name, pool: 'threads', concurrency: 2, heartbeatMs: 200 });
    const [beat, ...others] = await readWorkers(redis, name);
    expect(others).toEqual([]);
    expect(beat).toMatchObject({
      id: worker.id,
      pid: process.pid,
      queue: name,
      pool: 'threads',
      concurrency: 2,
      done: 0,
      failed: 0,
      retried: 0,
      inFlight: 0,
      intervalMs: 200,
    });
    expect(beat!.lanes).toHaveLength(2);
    expect(beat!.lanes.every((lane) => /^thread-\d+$/.test(lane.name) && lane.task === undefined)).toBe(true);
    expect(beat!.startedAt).toBeLessThanOrEqual(beat!.beatAt);
    const ttl = await redis.pttl(workerKey(name, worker.id));
    expect(ttl, 'the record expires on its own: 3 intervals').toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600);
    expect(await redis.zscore(workersKey(name), worker.id)).not.toBeNull();
    expect(await listQueues(redis)).toContain(name);
  });

  it('shows what each lane runs, then the counts once they are done', async () => {
    const name = queues.name();
    const redis = await queues.redis();
    await startWorker({ queue: name, pool: 'threads', concurrency: 2, heartbeatMs: 100 });
    const producer = new Queue({ name });
    stops.push(() => producer.close());
    const handles = await producer.enqueueMany('sleep', [[1500], [1500]]);
    const ids = handles.map((h) => h.id).sort();
    await until(async () => {
      const [beat] = await readWorkers(redis, name);
      return beat?.lanes.filter((lane) => lane.task).length === 2;
    }, 20_000);
    const [busy] = await readWorkers(redis, name);
    expect(busy!.inFlight).toBe(2);
    const running = busy!.lanes.map((lane) => lane.task!);
    expect(running.map((task) => task.id).sort()).toEqual(ids);
    expect(running.every((task) => task.name === 'sleep' && task.since <= busy!.beatAt)).toBe(true);
    // Two lanes, two tasks: one each (a lane runs one at a time).
    expect(new Set(busy!.lanes.map((lane) => lane.name)).size).toBe(2);
    await Promise.all(handles.map((h) => h.result({ timeout: 20_000 })));
    await until(async () => (await readWorkers(redis, name))[0]?.done === 2, 20_000);
    const [idle] = await readWorkers(redis, name);
    expect(idle).toMatchObject({ done: 2, failed: 0, inFlight: 0 });
    expect(idle!.lanes.every((lane) => lane.task === undefined)).toBe(true);
  });

  it('numbers slots itself for a pool that does not tell its lanes (event-loop)', async () => {
    const name = queues.name();
    const redis = await queues.redis();
    await startWorker({ queue: name, pool: 'event-loop', concurrency: 3, heartbeatMs: 100 });
    const producer = new Queue({ name });
    stops.push(() => producer.close());
    const [handle] = await producer.enqueueMany('sleep', [[1500]]);
    await until(async () => (await readWorkers(redis, name))[0]?.lanes[0]?.task !== undefined, 20_000);
    const [beat] = await readWorkers(redis, name);
    expect(beat!.lanes.map((lane) => lane.name)).toEqual(['slot-1', 'slot-2', 'slot-3']);
    expect(beat!.lanes[0]!.task).toMatchObject({ id: handle!.id, name: 'sleep' });
    expect(beat!.lanes.slice(1).every((lane) => lane.task === undefined)).toBe(true);
  });

  it('is removed when the worker stops, at once', async () => {
    const name = queues.name();
    const redis = await queues.redis();
    const worker = await Worker.start({ queue: name, pool: 'solo' });
    expect(await readWorkers(redis, name)).toHaveLength(1);
    await worker.stop();
    expect(await readWorkers(redis, name)).toEqual([]);
    expect(await redis.exists(workerKey(name, worker.id))).toBe(0);
    expect(await redis.zscore(workersKey(name), worker.id)).toBeNull();
  });

  it('expires when its worker is killed with kill -9, and readers drop it from the index', async () => {
    const name = queues.name();
    const redis = await queues.redis();
    const child = start(['mini-queue', 'worker', '--pool', 'threads', '--concurrency', '2', '--queue', name]);
    stops.push(async () => {
      if (child.pid !== undefined && alive(child.pid)) child.kill('SIGKILL');
    });
    await until(async () => (await readWorkers(redis, name)).length === 1, 30_000);
    const [beat] = await readWorkers(redis, name);
    expect(beat!.pid).toBe(child.pid);
    child.kill('SIGKILL');
    await until(() => !alive(child.pid!), 10_000);
    // Still listed until its record expires (3 intervals of 1 s): then gone, and pruned from the index as read.
    await until(async () => (await readWorkers(redis, name)).length === 0, 15_000);
    expect(await redis.exists(workerKey(name, beat!.id))).toBe(0);
    expect(await redis.zscore(workersKey(name), beat!.id)).toBeNull();
  });
});

describe('npx tsx mini-queue inspect', () => {
  it('prints the workers and the tasks their lanes run as tables; --json the records', async () => {
    const name = queues.name();
    const worker = await startWorker({ queue: name, pool: 'threads', concurrency: 2, heartbeatMs: 100 });
    const producer = new Queue({ name });
    stops.push(() => producer.close());
    const [handle] = await producer.enqueueMany('sleep', [[4000]]);
    const redis = await queues.redis();
    await until(async () => (await readWorkers(redis, name))[0]?.lanes.some((l) => l.task) === true, 20_000);
    const ran = await run(['mini-queue', 'inspect', '--queue', name]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toContain(`Queue '${name}': 1 worker alive`);
    expect(ran.stdout).toContain(worker.id);
    expect(ran.stdout).toContain(`/${process.pid}`);
    expect(ran.stdout).toContain('threads×2');
    expect(ran.stdout).toMatch(/Active: 1 of 2 lanes run a task/);
    expect(ran.stdout).toMatch(new RegExp(`thread-\\d+ +│ sleep +│ ${handle!.id}`));
    const json = await run(['mini-queue', 'inspect', '--queue', name, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const beats = JSON.parse(json.stdout) as Array<{ id: string; pool: string }>;
    expect(beats.map((b) => [b.id, b.pool])).toEqual([[worker.id, 'threads']]);
  });

  it('says in one line when no worker is alive', async () => {
    const name = queues.name();
    const ran = await run(['mini-queue', 'inspect', '--queue', name]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout.trim().split('\n')).toEqual([
      `No worker is alive on queue '${name}' (none has written a heartbeat in the last 3 s). Start one: npx tsx mini-queue worker --queue ${name}`,
    ]);
  });
});
