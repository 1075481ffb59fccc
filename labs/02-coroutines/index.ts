/**
 * Lab 02's demo: `npx tsx labs/02-coroutines [--solution] [--tasks N]`.
 *
 * 1. Three greenlets on your scheduler, printing interleaved: bare yields (round robin), then cooperative I/O
 *    with `yield* wait(fetch(...))` against a loopback server (gevent's monkey-patched sockets, by hand).
 * 2. CPU-bound coroutines beside a heartbeat coroutine: yielding every k iterations keeps the heartbeat (and the
 *    event loop) alive; one coroutine that never yields starves everyone, and the scheduler names it.
 * 3. The `coroutines` pool behind a real worker on Redis: I/O tasks at C = 50 (Celery's `-P gevent -c 50`).
 *
 * Passes when the order is round robin, the I/O overlapped, the polite run kept its heartbeat, the hog was named,
 * and every task in the worker succeeded. Don't change this file: your work is in scheduler.ts and pool.ts.
 */
import { performance } from 'node:perf_hooks';
import { guide } from '../../kit/guided.ts';
import { runLab } from '../../kit/run-lab.ts';
import { dropThrowaways, throwaway } from '../../kit/throwaway.ts';
import { style } from '../../kit/ui/style.ts';
import { table } from '../../kit/ui/table.ts';
import { drawTimeline } from '../../kit/ui/timeline.ts';
import { deleteQueue } from '../../mini-queue/admin.ts';
import { type Coroutine, type SchedulerModule, sleep, wait } from '../../mini-queue/coroutines.ts';
import { startExampleServer } from '../../mini-queue/examples/server.ts';
import { withLoopHealth } from '../../mini-queue/loop-health.ts';
import { partFile, type Track } from '../../mini-queue/parts.ts';
import { Queue } from '../../mini-queue/queue.ts';
import { connectRedis } from '../../mini-queue/redis/client.ts';
import { Worker } from '../../mini-queue/worker.ts';

type Lab = SchedulerModule;

const HEARTBEAT_MS = 10;
const LATENCY_MS = 50;

/** Loads this lab's scheduler from the track: yours, or the reference with --solution. */
async function loadScheduler(track: Track): Promise<Lab> {
  return (await import(partFile(track, '02-coroutines', 'scheduler.ts').href)) as Lab;
}

/** Part 1a: three greenlets that each do three steps and yield in between. */
async function roundRobin(lab: Lab): Promise<boolean> {
  const scheduler = new lab.Scheduler();
  const log: string[] = [];
  for (const name of ['A', 'B', 'C']) {
    scheduler.spawn(function* () {
      for (let step = 1; step <= 3; step++) {
        log.push(`${name}${step}`);
        yield; // gevent.sleep(0): let the others run
      }
    }, name);
  }
  await scheduler.idle();
  const order = log.join(' ');
  const ok = order === 'A1 B1 C1 A2 B2 C2 A3 B3 C3';
  console.log(
    `  bare yields:      ${ok ? style.green(order) : style.red(`${order} (expected round robin)`)}`,
  );
  return ok;
}

/** Part 1b: three greenlets that each scrape three pages, waiting on the socket cooperatively. */
async function cooperativeIo(lab: Lab, url: string): Promise<boolean> {
  // Warm up fetch (its first call loads a lot) and open the three connections the greenlets will use.
  await Promise.all([1, 2, 3].map((page) => fetch(`${url}/page/${page}`).then((r) => r.text())));
  const scheduler = new lab.Scheduler();
  const started = performance.now();
  const log: string[] = [];
  for (const name of ['A', 'B', 'C']) {
    scheduler.spawn(function* (): Coroutine<void> {
      for (let page = 1; page <= 3; page++) {
        // Only this greenlet parks on the socket; the others run meanwhile. gevent hides this `wait` inside
        // its monkey-patched socket module; here it is in plain sight.
        const response = yield* wait(fetch(`${url}/page/${page}`));
        const html = yield* wait(response.text());
        const title = /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? '?';
        log.push(`${name}:${title.replace('Page ', 'p')}`);
      }
    }, name);
  }
  await scheduler.idle();
  const ms = performance.now() - started;
  // Nine requests of ~50 ms each: about 3 x 50 ms when they overlap, 9 x 50 ms one after the other.
  const ok = ms < 7 * LATENCY_MS;
  console.log(`  cooperative I/O:  ${log.join(' ')}`);
  console.log(
    `                    9 requests of ${LATENCY_MS} ms in ${ms.toFixed(0)} ms ` +
      (ok
        ? style.green('(they overlapped)')
        : style.red(`(expected ~${3 * LATENCY_MS} ms: did they overlap?)`)),
  );
  return ok;
}

interface Scenario {
  label: string;
  beats: number;
  expectedBeats: number;
  delayP99: number;
  /** The longest delay, ms: a few long blocks can hide under p99. */
  delayMax: number;
  utilisation: number;
  ms: number;
  stalls: string[];
}

/** CPU work: `total` iterations of arithmetic, yielding every `k` (never, when k is 0). */
function* crunch(total: number, k: number): Coroutine<number> {
  let acc = 0;
  for (let i = 1; i <= total; i++) {
    acc += Math.sqrt(i) % 7;
    if (k > 0 && i % k === 0) yield;
  }
  return acc;
}

/** Part 2: three CPU-bound coroutines and a heartbeat coroutine; with `hog`, one of them never yields. */
async function heartbeat(lab: Lab, total: number, k: number, hog: boolean): Promise<Scenario> {
  const scheduler = new lab.Scheduler({ stallMs: 50 });
  const started = performance.now();
  let beats = 0;
  let running = true;
  const { delayP99Ms, delayMaxMs, utilisation } = await withLoopHealth(async () => {
    scheduler.spawn(function* () {
      while (running) {
        yield* sleep(HEARTBEAT_MS);
        beats++;
      }
    }, 'heartbeat');
    const workers = ['cruncher-1', 'cruncher-2', hog ? 'hog' : 'cruncher-3'].map((name) =>
      scheduler.spawn(crunch(total, name === 'hog' ? 0 : k), name),
    );
    await Promise.all(workers.map((w) => w.result));
    running = false;
    await scheduler.idle();
  });
  const ms = performance.now() - started;
  return {
    label: hog ? 'one never yields' : `all yield every ${k.toLocaleString('en')}`,
    beats,
    expectedBeats: Math.floor(ms / HEARTBEAT_MS),
    delayP99: delayP99Ms,
    delayMax: delayMaxMs,
    utilisation,
    ms,
    stalls: scheduler.stalls.map((s) => `${s.name} (${s.ms} ms, ${s.starved} starved)`),
  };
}

/** Part 3: the coroutines pool behind a real worker on Redis, draining I/O tasks. */
async function drainOnRedis(track: Track, queueName: string, n: number, concurrency: number) {
  const queue = new Queue({ name: queueName });
  try {
    await queue.enqueueMany(
      'scrapePage',
      Array.from({ length: Math.ceil(n / 2) }, (_, i) => [i]),
    );
    await queue.enqueueMany(
      'sendEmail',
      Array.from({ length: Math.floor(n / 2) }, (_, i) => [`user${i}@example.com`]),
    );
  } finally {
    await queue.close();
  }
  const worker = await Worker.start({
    queue: queueName,
    pool: 'coroutines',
    concurrency,
    track: { pool: track },
  });
  try {
    return await worker.untilSettled(n);
  } finally {
    await worker.stop();
  }
}

await runLab({
  name: '02-coroutines',
  title: '02 — green threads by hand: coroutines on one thread',
  demo: guide('02-coroutines', async ({ track, tasks }) => {
    const lab = await loadScheduler(track);
    const server = await startExampleServer({ latencyMs: LATENCY_MS });
    process.env.MQ_EXAMPLE_SERVER = server.url;
    const name = throwaway(`lab02-${process.pid}`);
    try {
      console.log(`\n${style.bold('1. Three greenlets')} on one thread, your scheduler:`);
      const interleaved = await roundRobin(lab);
      const overlapped = await cooperativeIo(lab, server.url);

      // Size the CPU work to ~250 ms per cruncher on this machine.
      let perMs = 0;
      for (let round = 0; round < 3; round++) {
        // The first rounds also warm the JIT up: only the last one is timed for real.
        const probe = performance.now();
        const sizing = crunch(2_000_000, 0);
        while (!sizing.next().done) {}
        perMs = 2_000_000 / Math.max(1, performance.now() - probe);
      }
      const total = Math.round(perMs * 250);
      const k = Math.max(1000, Math.round(perMs)); // ~1 ms of work between yields
      console.log(
        `\n${style.bold('2. CPU-bound coroutines')} beside a heartbeat coroutine (sleeps ${HEARTBEAT_MS} ms, counts a beat): ` +
          `3 coroutines of arithmetic, sized to ~250 ms each when alone.`,
      );
      const polite = await heartbeat(lab, total, k, false);
      const rude = await heartbeat(lab, total, k, true);
      console.log(
        table(
          ['crunchers', 'ms', 'heartbeat', 'loop p99 / max', 'busy', 'stalls (> 50 ms without a yield)'],
          [polite, rude].map((s) => [
            s.label,
            s.ms.toFixed(0),
            `${s.beats}/${s.expectedBeats}`,
            `${s.delayP99.toFixed(1)} / ${s.delayMax.toFixed(0)} ms`,
            `${(s.utilisation * 100).toFixed(0)}%`,
            s.stalls.length === 0 ? style.green('none') : style.red(s.stalls.join(', ')),
          ]),
        ),
      );
      const kept = polite.beats >= polite.expectedBeats * 0.5 && polite.stalls.length === 0;
      const named = rude.stalls.some((s) => s.startsWith('hog '));
      console.log(
        named
          ? style.yellow(
              `The scheduler names the starving coroutine: ${rude.stalls[0]}. Nobody can take the thread from it; ` +
                'it has to yield.',
            )
          : style.red('The non-yielding coroutine was not detected.'),
      );
      console.log(
        style.dim(
          'Cooperative means exactly that: a greenlet runs until it yields. gevent gives you the switch for free at\n' +
            'every socket call, but a CPU-bound loop never makes one: that is why Celery says -P gevent/eventlet is for\n' +
            'I/O-bound tasks, and prefork for CPU-bound ones. Concurrency, not parallelism.',
        ),
      );

      const n = tasks ?? 300;
      console.log(
        `\n${style.bold('3. The coroutines pool')} behind a worker on Redis: ${n} scrapePage/sendEmail at C = 50 (like celery -P gevent -c 50).`,
      );
      const runs = await drainOnRedis(track, name, n, 50);
      const ok = runs.filter((r) => r.state === 'SUCCESS').length;
      const seconds =
        (Math.max(...runs.map((r) => r.finishedAt)) - Math.min(...runs.map((r) => r.startedAt))) / 1000;
      const little = 50 / (LATENCY_MS / 1000);
      console.log(
        table(
          ['tasks', 'succeeded', 's', 'tasks/s', "Little's law C/latency", 'of it'],
          [
            [
              n,
              ok,
              seconds.toFixed(2),
              (runs.length / seconds).toFixed(0),
              little,
              `${((runs.length / seconds / little) * 100).toFixed(0)}%`,
            ],
          ],
        ),
      );
      console.log(
        drawTimeline(
          runs
            .filter((r) => /^coroutine-[1-8]$/.test(r.lane))
            .map((r) => ({ lane: r.lane, startedAt: r.startedAt, finishedAt: r.finishedAt })),
        ),
      );
      console.log(
        style.dim('(the first 8 of 50 coroutine lanes: each runs one task after another, all at once)'),
      );
      const passed = interleaved && overlapped && kept && named && ok === n;
      console.log(
        passed
          ? style.green('Round robin, overlapping I/O, a living heartbeat, the hog named, every task done.')
          : style.red('Not all there yet: see the red above.'),
      );
      return passed;
    } finally {
      await server.close();
      await dropThrowaways([name]);
    }
  }),
});
