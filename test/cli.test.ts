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
    // Past Node's longest timer a time limit would fire after 1 ms: refused where it enters.
    [
      ['enqueue', 'fib', '[20]', '--timeout', '3000000000'],
      "--timeout must be an integer from 1 to 2147483647, got '3000000000'",
    ],
    [
      ['enqueue', 'fib', '[20]', '--timeout', '0'],
      "--timeout must be an integer from 1 to 2147483647, got '0'",
    ],
    // Leases are renewed every min(1 s, visibility / 3): shorter than 1 s, healthy tasks end as WorkerLost.
    [['worker', '--visibility', '1'], "--visibility must be an integer from 1000 to 2147483647, got '1'"],
    [['worker', '--tasks', 'README.md'], 'README.md is not a TypeScript or JavaScript module'],
    // A negative value reaches the flag's own check instead of parseArgs's "ambiguous".
    [['enqueue', 'fib', '[20]', '--count', '-1'], "--count must be an integer >= 1, got '-1'"],
    [['enqueue', 'fib', '[20]', '-n', '-2'], "--count must be an integer >= 1, got '-2'"],
    [
      ['enqueue', 'fib', '-1'],
      "'-1' is not an option: a task's arguments go in one JSON array, e.g. enqueue fib '[-1]'",
    ],
    [['worker', '--queue', '--pool'], "Option '--queue' argument is ambiguous."],
  ])('says what to do for bad input: %j', async (args, message) => {
    const ran = await run(['mini-queue', ...args]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain(message);
    expect(ran.stderr.trim().split('\n'), 'one line, no stack trace').toHaveLength(1);
  });

  it('negative numbers: inside the JSON array, with or without --', async () => {
    const queue = queues.name();
    for (const args of [
      ['fib', '[-1]', '--queue', queue],
      ['fib', '--queue', queue, '--', '[-1]'],
    ]) {
      const ran = await run(['mini-queue', 'enqueue', ...args]);
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.stdout.trim().split('\n')).toHaveLength(1);
    }
  });

  it('an unknown task without --tasks: enqueued, with a one-line warning naming the example tasks', async () => {
    const queue = queues.name();
    const ran = await run(['mini-queue', 'enqueue', 'unknownTask', '[]', '--queue', queue]);
    expect(ran.code, 'the worker may have its own --tasks').toBe(0);
    expect(ran.stdout.trim().split('\n')).toHaveLength(1);
    expect(ran.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^warning: unknown task 'unknownTask' \(the example tasks are fail, fib, .*\): a worker on the default tasks fails it; enqueued anyway .*--tasks FILE/,
      ),
    ]);
    expect((await stats(queue)).waiting).toBe(1);
  });

  it('a REDIS_URL database that does not exist, or is not a number, is one line, not database 0', async () => {
    const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
    for (const [db, message] of [
      ['/99', 'REDIS_URL names database 99, which this Redis does not have (ERR DB index is out of range)'],
      ['/x', "REDIS_URL ends with '/x': after the host comes a database number like /0, or nothing"],
    ] as const) {
      url.pathname = db;
      const ran = await run(['mini-queue', 'stats', '--queue', queues.name()], { REDIS_URL: url.href });
      expect(ran.code, db).toBe(1);
      expect(ran.stdout, db).toBe('');
      expect(ran.stderr.trim().split('\n'), db).toEqual([expect.stringContaining(message)]);
    }
  });

  it.each([
    ['solo', ['--pool', 'solo'], 1],
    // Two children: the one that finishes dying second used to be counted "1 failed" with nothing stored.
    ['prefork', ['--pool', 'prefork', '-c', '2', '--no-fast-path'], 2],
  ] as const)(
    'a cold shutdown (%s) says what it did: the tasks held went back to the queue now, none failed',
    async (_, poolArgs, held) => {
      const queue = queues.name();
      const child = start(['mini-queue', 'worker', '--queue', queue, ...poolArgs]);
      let out = '';
      let err = '';
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.stderr?.on('data', (c: Buffer) => {
        err += c.toString();
      });
      const closed = new Promise((resolve) => child.on('close', resolve));
      await until(() => out.includes('Ctrl-C to stop'), 30_000);
      const enq = await run(['mini-queue', 'enqueue', 'sleep', '[20000]', '--count', '3', '--queue', queue]);
      expect(enq.code, enq.stderr).toBe(0);
      const redis = await queues.redis();
      const ids = enq.stdout.trim().split('\n');
      const started = async () => {
        const records = await redis.mget(...ids.map((id) => `mq:{${queue}}:result:${id}`));
        return records.filter((r) => r?.includes('STARTED')).length;
      };
      await until(async () => (await started()) === held, 20_000);
      child.kill('SIGINT');
      await until(() => out.includes('warm shutdown'), 5000);
      child.kill('SIGINT');
      await closed;
      expect(out).toContain(`SIGINT: cold shutdown, giving back the ${held} task(s) held.`);
      expect(out).toContain(`${held} task(s) went back to the queue, unrun here; another worker runs them.`);
      expect(out).not.toContain('visibility timeout');
      expect(out).toMatch(/stopped: 0 succeeded, 0 failed\./);
      expect(err).not.toContain('FAILURE');
      expect(await stats(queue)).toMatchObject({ waiting: 3, active: 0, failed: 0, succeeded: 0 });
    },
  );

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
