/**
 * The dashboard's aggregation on a real Redis, its clock given by the test: rates from the counts, and which
 * queues it shows.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DashboardModel } from '../mini-queue/dashboard/model.ts';
import { redisSource } from '../mini-queue/dashboard/source.ts';
import { queueKeys } from '../mini-queue/keys.ts';
import { Queue } from '../mini-queue/queue.ts';
import { resolveRedisUrl } from '../mini-queue/redis/resolve.ts';
import { Worker } from '../mini-queue/worker.ts';
import { useQueues } from './helpers/queues.ts';

const queues = useQueues('dashboard-model');
const models: DashboardModel[] = [];
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  for (const model of models.splice(0)) await model.close();
});

async function model(only?: string[]) {
  const redis = await queues.redis();
  const made = new DashboardModel(redis, redisSource(redis, await resolveRedisUrl()), only);
  models.push(made);
  return made;
}

describe('the dashboard model', () => {
  it('rates in and out from the counts: what was enqueued and what finished, per second', async () => {
    const name = queues.name();
    const redis = await queues.redis();
    const k = queueKeys(name);
    const m = await model([name]);
    const t0 = 1_700_000_000_000;
    await m.poll(t0);
    await redis.lpush(k.waiting, ...Array.from({ length: 300 }, (_, i) => `m${i}`));
    // 100 of them finished meanwhile: out of waiting, into the counters.
    await redis.rpop(k.waiting, 100);
    await redis.hincrby(k.stats, 'succeeded', 90);
    await redis.hincrby(k.stats, 'failed', 10);
    await m.poll(t0 + 500);
    const view = m.tick(t0 + 500).queues.find((q) => q.name === name)!;
    expect(view).toMatchObject({ waiting: 200, succeeded: 90, failed: 10, inRate: 600, outRate: 200 });
    expect(view.history.at(-1), 'one point a second').toEqual({ waiting: 0, inRate: 0, outRate: 0 });
  });

  it('shows every queue with work, and lets a finished one go; a queue named with --queue stays', async () => {
    const busy = queues.name();
    const named = queues.name();
    const redis = await queues.redis();
    await redis.lpush(queueKeys(busy).waiting, 'x');
    const all = await model();
    const only = await model([named]);
    const t0 = Date.now();
    await all.poll(t0);
    await only.poll(t0);
    expect(all.tick(t0).queues.map((q) => q.name)).toContain(busy);
    expect(only.tick(t0).queues.map((q) => q.name)).toEqual([named]);
    await redis.del(queueKeys(busy).waiting);
    await all.poll(t0 + 2000);
    await only.poll(t0 + 2000);
    expect(all.tick(t0 + 2000).queues.map((q) => q.name)).not.toContain(busy);
    expect(only.tick(t0 + 2000).queues.map((q) => q.name)).toEqual([named]);
  });

  it('says the timeline is sampled while a worker leaves tasks out of its events, and not 2 s after', async () => {
    const name = queues.name();
    const m = await model([name]);
    await m.poll();
    const sampled = () => m.tick().queues.find((q) => q.name === name)!.sampled;
    expect(sampled(), 'nothing ran yet').toBe(false);
    const producer = new Queue({ name });
    stops.push(() => producer.close());
    // 2,000 waiting at once: a worker takes them in bursts past 256 new tasks a batch.
    await producer.enqueueMany(
      'noop',
      Array.from({ length: 2000 }, () => []),
    );
    const worker = await Worker.start({ queue: name, pool: 'event-loop', concurrency: 50, fastPath: true });
    stops.push(() => worker.stop());
    let done = 0;
    await new Promise<void>((resolve) => worker.on('task', () => ++done === 2000 && resolve()));
    // The last batch goes out within 50 ms of the last task.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await m.poll();
    expect(sampled(), 'a burst of 2,000 no-ops is past 5,120 tasks/s').toBe(true);
    expect(m.tick().queues.find((q) => q.name === name)!.succeeded, 'the counts stay exact').toBe(2000);
    await m.poll(Date.now() + 2500);
    expect(sampled(), '2 s with nothing left out').toBe(false);
  });
});
