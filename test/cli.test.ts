import { describe, expect, it } from 'vitest';
import { alive, run, start } from './helpers/cli.ts';
import { until, useQueues } from './helpers/queues.ts';

const queues = useQueues('cli');

/** Counters read straight from Redis: cheaper than a CLI process per poll. */
async function succeeded(queue: string): Promise<number> {
  const redis = await queues.redis();
  return Number((await redis.hget(`mq:{${queue}}:stats`, 'succeeded')) ?? 0);
}

async function stats(queue: string) {
  const ran = await run(['mini-queue', 'stats', '--queue', queue]);
  expect(ran.code, ran.stderr).toBe(0);
  return JSON.parse(ran.stdout) as Record<string, number>;
}

describe('npx tsx mini-queue', () => {
  it('enqueue prints one id per task; stats prints the contract JSON', async () => {
    const queue = queues.name();
    const ran = await run(['mini-queue', 'enqueue', 'fib', '[20]', '--count', '3', '--queue', queue]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout.trim().split('\n')).toHaveLength(3);
    expect(await stats(queue)).toEqual({
      waiting: 3,
      active: 0,
      delayed: 0,
      succeeded: 0,
      failed: 0,
      dead: 0,
    });
  });

  it.each([
    [['enqueue', 'fib', '20'], "JSON-ARGS must be a JSON array: write '[20]', not '20'"],
    [['enqueue', 'fib', '[20'], 'JSON-ARGS must be a JSON array like'],
    [['enqueue', 'nope', '[]', '--tasks', 'mini-queue/examples/tasks.ts'], "unknown task 'nope' (known:"],
    [['worker', '--pool', 'bogus'], '--pool must be one of solo, event-loop'],
    [['worker', '--concurrency', 'lots'], "--concurrency must be an integer >= 1, got 'lots'"],
    [['worker', '--tasks', 'missing.ts'], 'No tasks module at missing.ts'],
    [['worker', '--max-tasks-per-child', '5'], 'are prefork options: add --pool prefork'],
    [['worker', '--track', '.variant-x'], "--track must be 'labs' or 'solutions', got '.variant-x'"],
    [
      ['worker', '--pool', 'prefork', '--max-tasks-per-child', '0'],
      '--max-tasks-per-child must be an integer',
    ],
    [['stats', '--queue', 'has space'], 'Queue names use letters'],
    [['frobnicate'], "unknown command 'frobnicate'"],
  ])('says what to do for bad input: %j', async (args, message) => {
    const ran = await run(['mini-queue', ...args]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain(message);
    expect(ran.stderr.trim().split('\n'), 'one line, no stack trace').toHaveLength(1);
  });

  it('the worker takes the fast path on the reference broker unless told not to', async () => {
    const queue = queues.name();
    /** The worker's first line of output; the worker is stopped once it has said it. */
    const readyLine = (extra: string[]) =>
      new Promise<string>((resolve, reject) => {
        const child = start(['mini-queue', 'worker', '--queue', queue, ...extra]);
        let out = '';
        child.stdout?.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('\n')) {
            child.kill('SIGKILL');
            resolve(out.split('\n')[0]!);
          }
        });
        child.on('exit', (code) =>
          reject(new Error(`the worker exited (code ${code}) before its first line`)),
        );
      });
    const [fast, slow] = await Promise.all([readyLine([]), readyLine(['--no-fast-path'])]);
    expect(fast).toMatch(/\(track solutions, fast path\)/);
    expect(slow).toMatch(/\(track solutions\)/);
  });

  it('a worker killed with kill -9 loses nothing: a new worker finishes every task, each counted once', async () => {
    const queue = queues.name();
    const total = 300;
    const enq = await run([
      'mini-queue',
      'enqueue',
      'fib',
      '[29]',
      '--count',
      String(total),
      '--queue',
      queue,
    ]);
    expect(enq.code, enq.stderr).toBe(0);
    const first = start(['mini-queue', 'worker', '--queue', queue, '--visibility', '1000']);
    await until(async () => (await succeeded(queue)) >= 50, 30_000);
    first.kill('SIGKILL');
    await until(() => !alive(first.pid!), 5000);
    const midway = await stats(queue);
    expect(midway.succeeded, 'killed midway').toBeLessThan(total);
    const second = start(['mini-queue', 'worker', '--queue', queue, '--visibility', '1000']);
    try {
      await until(async () => (await succeeded(queue)) === total, 60_000);
      // The killed worker's in-flight task came back after its lease ran out; nothing was counted twice.
      expect(await stats(queue)).toEqual({
        waiting: 0,
        active: 0,
        delayed: 0,
        succeeded: total,
        failed: 0,
        dead: 0,
      });
    } finally {
      second.kill('SIGTERM');
      await new Promise((resolve) => second.on('close', resolve));
    }
    expect(second.exitCode, 'a clean shutdown on SIGTERM exits 0').toBe(0);
  });
});
