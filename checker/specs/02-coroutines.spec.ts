/**
 * Lab 02 — green threads by hand. Graded on the track in MQ_TRACK (`npm run check -- 02 [--solution]`).
 * Each test names the TODO it grades; the scheduler is driven directly, the pool through fixture tasks that
 * count themselves (checker/fixtures/lab02-tasks.ts).
 *
 * Robust to a busy laptop: the evidence is what the coroutines themselves record (their order, how many steps ran
 * between two beats of a timer, how many slept at once, when each woke on its own clock), and which promise
 * settles when is decided by the check. Load makes these checks slower, never wrong.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Coroutine, join, type SchedulerModule, sleep, wait } from '../../mini-queue/coroutines.ts';
import { type ExampleServer, startExampleServer } from '../../mini-queue/examples/server.ts';
import exampleTasks from '../../mini-queue/examples/tasks.ts';
import { withLoopHealth } from '../../mini-queue/loop-health.ts';
import type { CreatePool, Pool, TaskCall, TaskOutcome } from '../../mini-queue/pool.ts';
import { Queue } from '../../mini-queue/queue.ts';
import { EXAMPLE_TASKS_PATH } from '../../mini-queue/tasks.ts';
import { Worker } from '../../mini-queue/worker.ts';
import { cpuContrast } from '../contrast.ts';
import { maxOverlap } from '../evidence/overlap.ts';
import fixtureTasks, { probe, resetProbe } from '../fixtures/lab02-tasks.ts';
import { MEASURES } from '../schedule.ts';
import {
  cleanQueues,
  partModule,
  record,
  recordLoopHealth,
  trackUnderTest,
  uniqueQueue,
  within,
} from '../spec-kit.ts';

const track = trackUnderTest();
const { Scheduler } = await partModule<SchedulerModule>('02-coroutines', 'scheduler.ts');
const { createPool } = await partModule<{ createPool: CreatePool }>('02-coroutines', 'pool.ts');
const pools: Pool[] = [];
const queues: string[] = [];
let server: ExampleServer;
let sequence = 0;

beforeAll(async () => {
  server = await startExampleServer({ latencyMs: 20 });
  process.env.MQ_EXAMPLE_SERVER = server.url;
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => resetProbe());
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => within(p.close(), 5000, 'close()').catch(() => {})));
  await cleanQueues(queues.splice(0));
});

/** Busy-waits `ms` on this thread: CPU work that cannot be interrupted. */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
}

/** Resolves once `task` is in `state` (filed by the scheduler), turn by turn: no timer decides when. */
async function until(task: { state: string }, state: string, what: string): Promise<void> {
  await within(
    (async () => {
      while (task.state !== state) await new Promise((r) => setImmediate(r));
    })(),
    5000,
    what,
  );
}

/** A promise the check settles when it chooses. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('02.1 step and round robin', () => {
  it('02.1 a bare yield switches coroutines in round-robin order', async () => {
    const scheduler = new Scheduler();
    const log: string[] = [];
    for (const name of ['A', 'B', 'C']) {
      scheduler.spawn(function* () {
        for (let i = 1; i <= 3; i++) {
          log.push(`${name}${i}`);
          yield;
        }
      }, name);
    }
    await within(scheduler.idle(), 5000, 'three coroutines');
    expect(
      log.join(' '),
      'round-robin: a bare yield lets every other ready coroutine run before this one again',
    ).toBe('A1 B1 C1 A2 B2 C2 A3 B3 C3');
  });

  it('02.1 a coroutine’s return value and exception settle its own task alone', async () => {
    const scheduler = new Scheduler();
    const good = scheduler.spawn(function* () {
      yield;
      return 42;
    });
    const bad = scheduler.spawn(function* (): Coroutine<number> {
      yield;
      throw new Error('bad coroutine');
    });
    const after = scheduler.spawn(function* () {
      yield;
      yield;
      return 'still running';
    });
    expect(await within(good.result, 5000, 'a returning coroutine')).toBe(42);
    await expect(bad.result, 'its exception rejects its own task').rejects.toThrow('bad coroutine');
    expect(await within(after.result, 5000, 'the others'), 'one exception fails that coroutine alone').toBe(
      'still running',
    );
  });

  it('02.1 join waits for another coroutine and returns its value', async () => {
    const scheduler = new Scheduler();
    const task = scheduler.spawn(function* () {
      const child = scheduler.spawn(function* () {
        yield;
        yield;
        return 20;
      });
      return (yield* join(child)) + 1;
    });
    expect(await within(task.result, 5000, 'join')).toBe(21);
  });
});

describe('02.2 time slice', () => {
  it('02.2 the event loop gets a turn every few milliseconds while yielding CPU coroutines run', async () => {
    const scheduler = new Scheduler();
    // A timer on the event loop: it can only beat between two scheduler turns.
    let beats = 0;
    const heartbeat = setInterval(() => beats++, 1);
    /** The beat count seen at each coroutine step: equal counts mean the same turn of the event loop. */
    const seenAt: number[] = [];
    const started = performance.now();
    const { delayP99Ms: delay, utilisation } = await withLoopHealth(() => {
      // Four CPU-bound coroutines, ~600 ms of work together, each yielding every ~1 ms.
      for (let c = 0; c < 4; c++) {
        scheduler.spawn(function* () {
          for (let i = 0; i < 150; i++) {
            spin(1);
            seenAt.push(beats);
            yield;
          }
        }, `cruncher-${c}`);
      }
      return within(scheduler.idle(), 20_000, 'the CPU-bound coroutines');
    });
    const elapsed = performance.now() - started;
    clearInterval(heartbeat);
    // The longest run of steps with no beat in between: how many ms of work one turn held the thread (each step
    // spins >= 1 ms of wall time, on a quiet or a busy machine alike).
    let longest = 0;
    let run = 0;
    for (let i = 0; i < seenAt.length; i++) {
      run = i > 0 && seenAt[i] === seenAt[i - 1] ? run + 1 : 1;
      longest = Math.max(longest, run);
    }
    record('loop p99 delay while yielding', Number(delay.toFixed(1)), ' ms');
    record('loop utilisation while yielding', Number((utilisation * 100).toFixed(0)), '%');
    record('heartbeat', Math.round((beats / Math.max(1, Math.floor(elapsed))) * 100), '%');
    record('most coroutine steps in one turn', longest, '');
    expect(
      longest,
      `event-loop delay: the scheduler ran ${longest} steps of ~1 ms each in one turn without letting a timer fire (of ${seenAt.length}); it must give the event loop a turn after each time slice (sliceMs = 4)`,
    ).toBeLessThanOrEqual(40);
    expect(beats, 'a 1 ms timer beat while the coroutines ran').toBeGreaterThan(10);
  });
});

describe('02.3 wait', () => {
  it('02.3 wait resumes with the value and throws a rejection into the generator', async () => {
    const scheduler = new Scheduler();
    const task = scheduler.spawn(function* () {
      const value = yield* wait(new Promise<number>((resolve) => setTimeout(() => resolve(7), 10)));
      let caught = '';
      try {
        yield* wait(Promise.reject(new Error('socket closed')));
        caught = 'nothing';
      } catch (error) {
        caught = (error as Error).message;
      }
      return { value, caught };
    });
    expect(
      await within(task.result, 5000, 'wait'),
      'wait resumes with the value, and a rejection is thrown at the yield where the generator can catch it',
    ).toEqual({ value: 7, caught: 'socket closed' });
  });

  it('02.3 a coroutine goes on after a wait: it yields and waits again, on its own', async () => {
    const scheduler = new Scheduler();
    const first = deferred<string>();
    const second = deferred<string>();
    const task = scheduler.spawn(function* () {
      const a = yield* wait(first.promise);
      yield;
      const b = yield* wait(second.promise);
      yield;
      return `${a} ${b}`;
    }, 'alone');
    await new Promise((r) => setTimeout(r, 10));
    first.resolve('one');
    await new Promise((r) => setTimeout(r, 10));
    second.resolve('two');
    expect(
      await within(
        task.result,
        5000,
        'a coroutine that waited, then yielded (the wake-up must queue it for a scheduler turn, not run it inside the promise callback)',
      ),
      'it resumes with each value in turn',
    ).toBe('one two');
  });

  it('02.3 an uncaught rejection fails that coroutine', async () => {
    const scheduler = new Scheduler();
    const task = scheduler.spawn(function* () {
      yield* wait(Promise.reject(new Error('refused')));
    });
    await expect(within(task.result, 5000, 'wait'), 'the rejection propagates').rejects.toThrow('refused');
  });

  it('02.3 while one coroutine waits, the others run', async () => {
    const scheduler = new Scheduler();
    const order: string[] = [];
    scheduler.spawn(function* () {
      yield* wait(new Promise((resolve) => setTimeout(resolve, 50)));
      order.push('waiter');
    });
    scheduler.spawn(function* () {
      for (let i = 0; i < 5; i++) yield;
      order.push('worker');
    });
    await within(scheduler.idle(), 5000, 'wait');
    expect(order, 'cooperative I/O: waiting parks only the waiter').toEqual(['worker', 'waiter']);
  });
});

describe('02.4 sleep', () => {
  it('02.4 sleeps wake in deadline order, none early', async () => {
    const scheduler = new Scheduler();
    const woke: string[] = [];
    const late: string[] = [];
    // Deadlines far apart: a busy machine that pauses this process between two spawns cannot reorder them.
    for (const [name, ms] of [
      ['a', 400],
      ['b', 100],
      ['c', 250],
      ['d', 0],
      ['e', 100],
    ] as const) {
      scheduler.spawn(function* () {
        const started = performance.now();
        yield* sleep(ms);
        if (performance.now() - started < ms - 1) late.push(`${name} woke early`);
        woke.push(name);
      });
    }
    await within(scheduler.idle(), 5000, 'sleepers');
    expect(woke.join(' '), 'sleeps wake in deadline order (equal deadlines in spawn order)').toBe(
      'd b e c a',
    );
    expect(late, 'none wakes before its deadline').toEqual([]);
  });

  it('02.4 many sleepers sleep side by side', async () => {
    const scheduler = new Scheduler();
    let asleep = 0;
    let most = 0;
    for (let i = 0; i < 200; i++)
      scheduler.spawn(function* () {
        asleep++;
        most = Math.max(most, asleep);
        yield* sleep(200);
        asleep--;
      });
    await within(scheduler.idle(), 5000, '200 coroutines sleeping 200 ms each (side by side: about 200 ms)');
    expect(
      most,
      `200 coroutines sleeping 200 ms each: at most ${most} were asleep at the same time; they should sleep side by side`,
    ).toBeGreaterThanOrEqual(100);
  });
});

describe('02.5 cancel', () => {
  it('02.5 cancel runs finally blocks and rejects the task with Cancelled', async () => {
    const scheduler = new Scheduler();
    const cleaned: string[] = [];
    const sleeper = scheduler.spawn(function* () {
      try {
        yield* sleep(10_000);
      } finally {
        cleaned.push('sleeper');
      }
    });
    const waiter = scheduler.spawn(function* () {
      try {
        yield* wait(new Promise(() => {}));
      } finally {
        cleaned.push('waiter');
      }
    });
    // Cancel once both are parked at their yield (a generator cancelled before its first line runs no finally).
    await until(sleeper, 'sleeping', 'the sleeper to fall asleep');
    await until(waiter, 'waiting', 'the waiter to park');
    const started = performance.now();
    expect(scheduler.cancel(sleeper), 'cancel returns true for a live coroutine').toBe(true);
    expect(scheduler.cancel(waiter)).toBe(true);
    const outcomes = await within(
      Promise.allSettled([sleeper.result, waiter.result]),
      5000,
      'cancelled coroutines to finish at once, not when the 10 s sleep ends or the promise settles (never)',
    );
    expect(cleaned.sort(), 'cancel runs finally: both clean-ups ran').toEqual(['sleeper', 'waiter']);
    expect(performance.now() - started, 'at once, not when the sleep would have ended').toBeLessThan(5000);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      if (outcome.status === 'rejected') expect((outcome.reason as Error).name).toBe('Cancelled');
    }
    expect(scheduler.cancel(sleeper), 'cancel returns false once it finished').toBe(false);
  });
  it('02.5 a cancelled sleeper leaves the sleepers: its later sleeps last their whole time', async () => {
    const scheduler = new Scheduler();
    let sleptAgain = Number.NaN;
    const task = scheduler.spawn(function* () {
      try {
        yield* sleep(60_000);
      } catch {
        // Clean-up that sleeps (a back-off, a graceful close): each of its sleeps must last its whole time.
        yield* sleep(50);
        const started = performance.now();
        yield* sleep(300);
        sleptAgain = performance.now() - started;
      }
      return 'cleaned up';
    }, 'sleeper');
    await until(task, 'sleeping', 'the coroutine to fall asleep');
    scheduler.cancel(task);
    expect(await within(task.result, 5000, 'the cancelled sleeper')).toBe('cleaned up');
    expect(
      sleptAgain,
      `a cancelled sleeper must be taken out of the sleepers: left in, it is filed twice when it sleeps again, woken twice, and its next sleep of 300 ms ended after ${sleptAgain.toFixed(0)} ms`,
    ).toBeGreaterThanOrEqual(299);
  });

  it('02.5 cancelling a waiter leaves the sleepers alone', async () => {
    const scheduler = new Scheduler();
    const woke: string[] = [];
    const sleepers = ['first', 'second'].map((name) =>
      scheduler.spawn(function* () {
        yield* sleep(1000);
        woke.push(name);
      }, name),
    );
    const waiter = scheduler.spawn(function* () {
      yield* wait(new Promise(() => {}));
    }, 'waiter');
    await until(waiter, 'waiting', 'the waiter to park');
    for (const sleeper of sleepers)
      expect(sleeper.state, 'both sleepers asleep before the cancel').toBe('sleeping');
    scheduler.cancel(waiter);
    await within(
      waiter.result.catch(() => {}),
      5000,
      'the cancelled waiter',
    );
    await within(
      scheduler.idle(),
      5000,
      'both sleepers to wake after cancelling a waiter (which was never among the sleepers: nothing to take out)',
    );
    expect(woke.sort(), 'every sleeper woke').toEqual(['first', 'second']);
  });

  it('02.5 a cancelled wait ignores its late answer', async () => {
    const scheduler = new Scheduler();
    const stale = deferred<string>();
    const fresh = deferred<string>();
    let caught = '';
    const task = scheduler.spawn(function* () {
      try {
        return yield* wait(stale.promise);
      } catch (error) {
        caught = (error as Error).name;
        return yield* wait(fresh.promise);
      }
    }, 'waiter');
    await until(task, 'waiting', 'the coroutine to wait');
    scheduler.cancel(task);
    await within(
      (async () => {
        while (caught === '') await new Promise((r) => setImmediate(r));
      })(),
      5000,
      'the cancellation to reach the coroutine',
    );
    await until(task, 'waiting', 'the coroutine to wait again');
    // The cancelled wait's promise settles anyway, while the coroutine waits on something else.
    stale.resolve('stale');
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    fresh.resolve('fresh');
    expect(caught, 'the cancellation was raised at its wait').toBe('Cancelled');
    expect(
      await within(task.result, 5000, 'the coroutine after its second wait'),
      'a cancelled wait’s late answer must be dropped (use the wake-up call parked() returns): it resumed the second wait with the first one’s value',
    ).toBe('fresh');
  });
});

describe('02 stalls', () => {
  it('02 a coroutine that never yields is detected and named', async () => {
    const seen: string[] = [];
    // Generous budget: a busy machine may pause this process in the middle of a polite 1 ms step.
    const scheduler = new Scheduler({ stallMs: 150, onStall: (stall) => seen.push(stall.name) });
    scheduler.spawn(function* () {
      for (let i = 0; i < 20; i++) {
        spin(1);
        yield;
      }
    }, 'polite');
    // biome-ignore lint/correctness/useYield: a coroutine that never yields is what this test is about.
    scheduler.spawn(function* () {
      spin(400);
    }, 'hog');
    await within(scheduler.idle(), 5000, 'hog');
    expect(seen, 'the non-yielding coroutine is reported by name, the polite one is not').toEqual(['hog']);
    expect(scheduler.stalls[0]?.ms ?? 0, 'the stall lasted as long as the hog ran').toBeGreaterThanOrEqual(
      390,
    );
  });
});

describe('02.6 the coroutines pool', () => {
  function call(task: string, ...args: unknown[]): TaskCall {
    return { id: `t${sequence++}`, task, args, attempt: 0 };
  }
  async function pool(concurrency: number): Promise<Pool> {
    const p = await createPool({
      concurrency,
      registry: fixtureTasks,
      tasksPath: 'checker/fixtures/lab02-tasks.ts',
    });
    pools.push(p);
    return p;
  }
  function runAll(p: Pool, calls: TaskCall[]): Promise<TaskOutcome[]> {
    return within(Promise.all(calls.map((c) => p.run(c))), 20_000, `${calls.length} runs`);
  }

  it('02.6 runs generator tasks, async tasks and sync tasks', async () => {
    const p = await pool(4);
    const outcomes = await runAll(p, [
      call('ticks', 'g', 3),
      call('fetchLike', 'f', 10),
      call('later', 'l', 10),
      call('add', 2, 3),
    ]);
    expect(
      outcomes.map((o) => (o.ok ? o.value : `${o.error.name}: ${o.error.message}`)),
      'a generator task is run as a coroutine (its result, not the generator object), a promise is waited on',
    ).toEqual(['g', 'got f', 'later l', 5]);
    expect(outcomes[0]?.lane, 'lanes name the coroutine').toMatch(/^coroutine-\d+$/);
  });

  it('02.6 generator tasks interleave in the pool', async () => {
    const p = await pool(3);
    await runAll(p, [call('ticks', 'A', 3), call('ticks', 'B', 3), call('ticks', 'C', 3)]);
    expect(probe.log.join(' '), 'round-robin inside the pool: generator tasks share the thread').toBe(
      'A0 B0 C0 A1 B1 C1 A2 B2 C2',
    );
  });

  it('02.6 never more than C tasks in flight, counted by the tasks themselves', async () => {
    const p = await pool(3);
    const outcomes = await runAll(
      p,
      Array.from({ length: 20 }, (_, i) => call('nap', `n${i}`, 5 + (i % 4) * 5)),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(probe.maxInFlight, `never more than C in flight: counted ${probe.maxInFlight} with C = 3`).toBe(3);
  });

  it('02.6 a failing task fails alone', async () => {
    const p = await pool(2);
    const outcomes = await runAll(p, [call('oops', 'x'), call('ticks', 'y', 2), call('missing')]);
    expect(
      outcomes.map((o) => o.ok),
      'one task’s exception fails that task alone',
    ).toEqual([false, true, false]);
    expect(outcomes[0]?.ok === false && outcomes[0].error.message).toBe('oops from x');
    expect(outcomes[2]?.ok === false && outcomes[2].error.message).toMatch(/unknown task 'missing'/);
  });

  it('02.6 a time limit cancels a generator task and runs its finally', async () => {
    const p = await pool(2);
    const started = performance.now();
    const [outcome] = await runAll(p, [{ ...call('nap', 'slow', 10_000), timeout: 50 }]);
    expect(outcome?.ok === false && outcome.error.name, 'the time limit fails the task').toBe(
      'TimeLimitExceeded',
    );
    expect(probe.cleaned, 'cancelled at its yield: its finally ran').toEqual(['slow']);
    expect(performance.now() - started, 'cancelled at the limit, long before the 10 s nap ends').toBeLessThan(
      5000,
    );
  });

  it(
    '02.6 I/O tasks overlap on one thread: 10 at once at C = 10, throughput toward Little’s law',
    MEASURES,
    async () => {
      const p = await createPool({ concurrency: 10, registry: exampleTasks, tasksPath: EXAMPLE_TASKS_PATH });
      pools.push(p);
      const io = (i: number) =>
        call(i % 2 === 0 ? 'scrapePage' : 'sendEmail', i % 2 === 0 ? i : `u${i}@example.com`);
      await runAll(
        p,
        Array.from({ length: 10 }, (_, i) => io(i)),
      ); // warm up: sockets, JIT
      const n = 200;
      const started = performance.now();
      const {
        value: outcomes,
        delayP99Ms,
        utilisation,
      } = await withLoopHealth(() =>
        runAll(
          p,
          Array.from({ length: n }, (_, i) => io(i)),
        ),
      );
      const perSecond = n / ((performance.now() - started) / 1000);
      const little = 10 / 0.02;
      for (const o of outcomes) expect(o.ok, 'the I/O tasks succeed against the loopback server').toBe(true);
      const overlap = maxOverlap(outcomes);
      record('C=10', Math.round(perSecond), ' tasks/s');
      record('C=10 / Little', Number((perSecond / little).toFixed(2)), '');
      record('C=10 most tasks waiting at once', overlap, '');
      recordLoopHealth('I/O-bound', { delayP99Ms, utilisation });
      expect(
        overlap,
        `at C = 10, the I/O tasks' own clocks show at most ${overlap} waiting at the same time; 10 side by side expected`,
      ).toBeGreaterThanOrEqual(8);
      expect(
        perSecond / little,
        `I/O throughput at C = 10: ${perSecond.toFixed(0)} tasks/s, Little's law says C / latency = ${little}/s; at least 0.1 of it expected (coroutines waiting side by side; a busy laptop is allowed to be slow)`,
      ).toBeGreaterThanOrEqual(0.1);
    },
  );

  it(
    '02 CPU-bound tasks gain nothing from C on one thread of coroutines, and block it',
    MEASURES,
    async () => {
      await cpuContrast({
        createPool,
        registry: exampleTasks,
        tasksPath: EXAMPLE_TASKS_PATH,
        lane: 'thread of coroutines',
      });
    },
  );

  it('02.6 a worker on the coroutines pool drains a queue of mixed tasks', async () => {
    const name = uniqueQueue('02');
    queues.push(name);
    const queue = new Queue({ name });
    const mix: Array<[string, unknown[]]> = [
      ['sleep', [20]],
      ['noop', []],
      ['sendEmail', ['ada@example.com']],
      ['scrapePage', [3]],
      ['fib', [15]],
      ['fail', ['on purpose']],
    ];
    for (const [task, args] of mix)
      await queue.enqueueMany(
        task,
        Array.from({ length: 10 }, () => args),
      );
    const worker = await Worker.start({
      queue: name,
      pool: 'coroutines',
      concurrency: 20,
      track: { pool: track },
      blockMs: 200,
    });
    try {
      // Rejects with the pool's error (a TODO not done) if the worker stops first.
      await worker.untilSettled(60, 15_000);
    } finally {
      await worker.stop();
    }
    const stats = await queue.stats();
    await queue.close();
    expect(
      [stats.succeeded, stats.failed],
      'every task done and acked: 50 succeeded, 10 `fail` failed',
    ).toEqual([50, 10]);
    expect([stats.waiting, stats.active, stats.dead]).toEqual([0, 0, 0]);
  });
});
