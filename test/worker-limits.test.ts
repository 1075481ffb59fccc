/**
 * What the producer refuses, the worker refuses too when a message comes from elsewhere (redis-cli, another
 * language): a timeout past Node's longest timer, a message over 512 KB. A hand-pushed eta is honoured like a
 * countdown. And a run failed from outside (a time limit) keeps its real start.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_ENVELOPE_BYTES } from '../mini-queue/envelope.ts';
import { UserError } from '../mini-queue/errors.ts';
import { queueKeys } from '../mini-queue/keys.ts';
import type { PoolKind } from '../mini-queue/pool.ts';
import { Queue } from '../mini-queue/queue.ts';
import { type TaskRun, Worker } from '../mini-queue/worker.ts';
import { until, useQueues } from './helpers/queues.ts';

const FIXTURE_TASKS = fileURLToPath(new URL('./fixtures/chassis-tasks.ts', import.meta.url));
const queues = useQueues('limits');
const cleanup: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

async function setup(pool: PoolKind = 'solo') {
  const name = queues.name();
  const queue = new Queue({ name });
  cleanup.push(() => queue.close());
  const worker = await Worker.start({
    queue: name,
    pool,
    concurrency: 1,
    blockMs: 100,
    tasksPath: FIXTURE_TASKS,
  });
  cleanup.push(() => worker.stop());
  const runs: TaskRun[] = [];
  const dead: string[] = [];
  worker.on('task', (run) => runs.push(run));
  worker.on('dead', ({ reason }) => dead.push(reason));
  return { name, queue, worker, runs, dead, keys: queueKeys(name) };
}

/** A message as a foreign producer writes it: no checks. */
function foreign(fields: Record<string, unknown>): string {
  return JSON.stringify({
    id: `foreign-${Math.random()}`,
    task: 'add',
    args: [1, 2],
    attempt: 0,
    enqueuedAt: Date.now(),
    ...fields,
  });
}

describe('the worker refuses what the producer refuses', () => {
  it('a timeout past 2^31-1 ms: refused by enqueue, buried by the worker, no 1 ms timer armed', async () => {
    const { queue, keys, dead } = await setup();
    await expect(queue.enqueue('add', [1, 2], { timeout: 3_000_000_000 })).rejects.toThrow(UserError);
    await expect(queue.enqueue('add', [1, 2], { timeout: 3_000_000_000 })).rejects.toThrow(
      "Cannot enqueue 'add': `timeout` must be at most 2147483647 ms",
    );
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    cleanup.push(async () => process.off('warning', onWarning));
    const redis = await queues.redis();
    await redis.lpush(keys.waiting, foreign({ timeout: 3_000_000_000 }));
    const after = await queue.enqueue('add', [2, 3], { timeout: 2_147_483_647 });
    expect(await after.result({ timeout: 5000 }), 'the longest timer Node has still works').toBe(5);
    await until(() => dead.length === 1);
    expect(dead[0]).toMatch(
      /^not a valid envelope: `timeout` must be at most 2147483647 ms .*got 3000000000$/,
    );
    expect(warnings, 'no TimeoutOverflowWarning').toEqual([]);
    expect(await queue.stats()).toMatchObject({ succeeded: 1, failed: 0, dead: 1, active: 0 });
  });

  it('a message over 512 KB pushed by hand is buried with the reason; the work around it runs', async () => {
    const { queue, keys, dead, runs } = await setup();
    const redis = await queues.redis();
    const before = await queue.enqueue('add', [1, 1]);
    await redis.lpush(keys.waiting, foreign({ args: ['x'.repeat(10 * 1024 * 1024)] }));
    const after = await queue.enqueue('add', [2, 2]);
    expect(await before.result({ timeout: 10_000 })).toBe(2);
    expect(await after.result({ timeout: 10_000 })).toBe(4);
    await until(() => dead.length === 1 && runs.length === 2);
    expect(dead[0]).toMatch(new RegExp(`^too big: \\d+ bytes, over the ${MAX_ENVELOPE_BYTES}-byte limit$`));
    expect(runs.map((r) => r.task)).toEqual(['add', 'add']);
    expect(await queue.stats()).toMatchObject({ succeeded: 2, dead: 1, active: 0, waiting: 0 });
  });

  it('a hand-pushed eta in waiting is honoured like a countdown: held in the delayed set, run once when due', async () => {
    const { queue, keys, runs } = await setup();
    const redis = await queues.redis();
    const eta = Date.now() + 1500;
    const raw = foreign({ id: 'early-bird', eta });
    await redis.lpush(keys.waiting, raw);
    await until(async () => (await redis.zscore(keys.delayed, raw)) !== null, 5000);
    expect(await queue.stats(), 'put back unrun').toMatchObject({ waiting: 0, active: 0, delayed: 1 });
    expect(runs).toEqual([]);
    expect(await queue.handle('early-bird').result({ timeout: 10_000 })).toBe(3);
    // The result is in Redis the moment the ack lands; the worker reports the run a turn later.
    await until(() => runs.length >= 1);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.startedAt, 'not before its eta').toBeGreaterThanOrEqual(eta);
    expect(await queue.stats()).toMatchObject({ succeeded: 1, delayed: 0, waiting: 0, active: 0 });
  });
});

describe('a run failed from outside keeps its real start', () => {
  it.each(['threads', 'processes', 'prefork'] as const)(
    '%s: a TimeLimitExceeded record spans the time limit',
    async (pool) => {
      const { queue } = await setup(pool);
      const handle = await queue.enqueue('slow', [10_000], { timeout: 400 });
      await expect(handle.result({ timeout: 20_000 })).rejects.toThrow(/TimeLimitExceeded/);
      const info = await handle.info();
      expect(info!.finishedAt! - info!.startedAt!, 'started when its lane got it').toBeGreaterThanOrEqual(
        390,
      );
    },
  );
});
