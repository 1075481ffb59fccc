/**
 * Lab 01's demo: `npx tsx labs/01-event-loop [--solution] [--tasks N] [--latency MS]`.
 *
 * 1. I/O-bound tasks (scrapePage, sendEmail against a loopback server with ~50 ms latency) through a real
 *    worker on Redis with your event-loop pool at C = 1, 10, 50: throughput against Little's law (C / latency).
 * 2. CPU-bound fib through the same pool at C = 1 and 10: concurrency buys nothing, and the event-loop meter
 *    shows the loop blocked (delay p99, utilisation) and a heartbeat missing its beats.
 * 3. The web lesson: a request handler that computes blocks every other request; one that enqueues does not.
 *
 * Passes when every task succeeded. Don't change this file: your work is in pool.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { guide } from '../../kit/guided.ts';
import { calibrateFib } from '../../kit/parallel.ts';
import { runLab } from '../../kit/run-lab.ts';
import { dropThrowaways, throwaway } from '../../kit/throwaway.ts';
import { style } from '../../kit/ui/style.ts';
import { table } from '../../kit/ui/table.ts';
import { deleteQueue } from '../../mini-queue/admin.ts';
import { startExampleServer } from '../../mini-queue/examples/server.ts';
import { fib } from '../../mini-queue/examples/tasks.ts';
import { withLoopHealth } from '../../mini-queue/loop-health.ts';
import type { Track } from '../../mini-queue/parts.ts';
import { Queue } from '../../mini-queue/queue.ts';
import { connectRedis } from '../../mini-queue/redis/client.ts';
import { type TaskRun, Worker } from '../../mini-queue/worker.ts';

const HEARTBEAT_MS = 10;

/** What the event loop went through while a run lasted: the numbers DESIGN.md asks every lab to show. */
interface Reading {
  /** p99 of the loop's lateness, minus the monitor's own resolution, ms. */
  delayP99: number;
  /** The longest delay, ms: a few long blocks can hide under p99. */
  delayMax: number;
  /** Share of the time the loop was busy running JavaScript (0..1). */
  utilisation: number;
  beats: number;
  expectedBeats: number;
  elapsedMs: number;
}

/**
 * Runs `work` with a meter on the event loop: how late a timer fires and how much of the time the loop ran code
 * (mini-queue/loop-health.ts), and a heartbeat timer that stands for everyone else who needs the loop (other
 * requests, lease renewals, sockets).
 */
async function metered<T>(work: () => Promise<T>): Promise<{ value: T; reading: Reading }> {
  const started = performance.now();
  let beats = 0;
  const heartbeat = setInterval(() => beats++, HEARTBEAT_MS);
  try {
    const { value, delayP99Ms, delayMaxMs, utilisation } = await withLoopHealth(work);
    const elapsed = performance.now() - started;
    return {
      value,
      reading: {
        delayP99: delayP99Ms,
        delayMax: delayMaxMs,
        utilisation,
        beats,
        expectedBeats: Math.floor(elapsed / HEARTBEAT_MS),
        elapsedMs: elapsed,
      },
    };
  } finally {
    clearInterval(heartbeat);
  }
}

interface Batch {
  label: string;
  concurrency: number;
  tasks: Array<[string, unknown[]]>;
}

interface BatchResult {
  runs: TaskRun[];
  seconds: number;
  reading: Reading;
}

/** Enqueues a batch, drains it with one worker on the event-loop pool of `track`, and meters the loop meanwhile. */
async function drain(queueName: string, track: Track, batch: Batch): Promise<BatchResult> {
  const queue = new Queue({ name: queueName });
  try {
    for (const [task, args] of batch.tasks) await queue.enqueue(task, args);
  } finally {
    await queue.close();
  }
  const worker = await Worker.start({
    queue: queueName,
    pool: 'event-loop',
    concurrency: batch.concurrency,
    track: { pool: track },
    blockMs: 200,
  });
  let measured: { value: TaskRun[]; reading: Reading };
  try {
    // A worker stops by itself on a TODO not done: untilSettled rejects with the NotImplemented, which runLab shows.
    // Listen before the meter's warm-up: the worker may stop during it, and nobody would hear it yet.
    const settled = worker.untilSettled(batch.tasks.length);
    settled.catch(() => {});
    measured = await metered(() => settled);
  } finally {
    await worker.stop();
  }
  const { value: runs, reading } = measured;
  const first = Math.min(...runs.map((r) => r.startedAt));
  const last = Math.max(...runs.map((r) => r.finishedAt));
  return { runs, seconds: runs.length > 0 ? (last - first) / 1000 : 0, reading };
}

function meterCells(r: Reading): string[] {
  const missed = r.expectedBeats - r.beats;
  const beats = `${r.beats}/${r.expectedBeats}`;
  return [
    `${r.delayP99.toFixed(1)} / ${r.delayMax.toFixed(0)} ms`,
    `${(r.utilisation * 100).toFixed(0)}%`,
    missed > r.expectedBeats * 0.2 ? style.red(beats) : beats,
  ];
}

/** What the CPU-bound table shows, said from its own numbers (C = 1 and C = 10), not from what it should show. */
function cpuNarration(
  one: { rate: number; reading: Reading },
  ten: { rate: number; reading: Reading },
): string {
  const ratio = ten.rate / one.rate;
  const pace =
    ratio < 1.2
      ? `C = 10 ran ${ten.rate.toFixed(1)} tasks/s against ${one.rate.toFixed(1)} at C = 1: no faster`
      : `C = 10 ran ${ratio.toFixed(1)}x the tasks/s of C = 1 (a task that awaits somewhere, or a busy machine at C = 1)`;
  const missed = ten.reading.expectedBeats - ten.reading.beats;
  return (
    'Concurrency is not parallelism: fib never awaits, so a task holds the one thread from start to end.\n' +
    `${pace}; the loop was ${(ten.reading.utilisation * 100).toFixed(0)}% busy, timers fired up to ${ten.reading.delayMax.toFixed(0)} ms late, and the\n` +
    `heartbeat (any other request, a lease renewal) missed ${missed} of ${ten.reading.expectedBeats} beats. Labs 03-05 run it in parallel instead.`
  );
}

/** The web lesson: a tiny app on this very event loop, one slow endpoint and a fast one. */
async function webLesson(queueName: string, n: number): Promise<string[][]> {
  const queue = new Queue({ name: queueName });
  const handlers: Record<string, (reply: (status: number, body: string) => void) => void | Promise<void>> = {
    // Computes in the handler: the loop can serve no one else until fib returns.
    'compute in the handler': (reply) => reply(200, String(fib(n))),
    // Hands the work to the queue (Celery's `.delay()`): a Redis round trip, then the loop is free again.
    'enqueue to mini-queue': async (reply) => {
      const handle = await queue.enqueue('fib', [n]);
      reply(202, handle.id);
    },
  };
  const rows: string[][] = [];
  try {
    await queue.stats(); // connect now, not inside the first request
    for (const [label, heavy] of Object.entries(handlers)) {
      const server: Server = createServer((request, response) => {
        const reply = (status: number, body: string) => response.writeHead(status).end(body);
        if (request.url === '/report') void heavy(reply);
        else reply(200, 'hello');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await fetch(`${url}/hello`).then((r) => r.text()); // warm up the connection pool and the JIT
      const timed = async (path: string) => {
        const started = performance.now();
        await fetch(`${url}${path}`).then((r) => r.text());
        return performance.now() - started;
      };
      // One visitor asks for the heavy report and, at the same moment, ten others ask for a plain page.
      const report = timed('/report');
      const others = await Promise.all(Array.from({ length: 10 }, () => timed('/hello')));
      const reportMs = await report;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const slowest = Math.max(...others);
      rows.push([
        label,
        `${reportMs.toFixed(0)} ms`,
        slowest > 50 ? style.red(`${slowest.toFixed(0)} ms`) : style.green(`${slowest.toFixed(1)} ms`),
      ]);
    }
  } finally {
    await queue.close();
  }
  return rows;
}

await runLab({
  name: '01-event-loop',
  title: '01 — the event loop: concurrency on one thread',
  flags: { latency: { type: 'string', description: 'latency of the loopback server, ms (default 50)' } },
  demo: guide('01-event-loop', async ({ track, tasks, flags }) => {
    const latencyMs = flags.latency === undefined ? 50 : Number(flags.latency);
    if (!Number.isInteger(latencyMs) || latencyMs < 1 || latencyMs > 5000) {
      console.error(`--latency must be an integer from 1 to 5000 (ms), got '${flags.latency}'`);
      return false;
    }
    const server = await startExampleServer({ latencyMs });
    // The example tasks read this on each call: every I/O task of this demo talks to our server.
    process.env.MQ_EXAMPLE_SERVER = server.url;
    const name = throwaway(`lab01-${process.pid}`);
    let ok = true;
    try {
      console.log(
        `\n${style.bold('1. I/O-bound')}: scrapePage and sendEmail against ${server.url} (${latencyMs} ms a request), ` +
          'one worker, your event-loop pool at C = 1, 10, 50.',
      );
      const io = (n: number): Array<[string, unknown[]]> =>
        Array.from({ length: n }, (_, i) =>
          i % 2 === 0 ? ['scrapePage', [i]] : ['sendEmail', [`user${i}@example.com`, 'Your invoice']],
        );
      const ioRows: string[][] = [];
      let best = 0;
      for (const concurrency of [1, 10, 50]) {
        const n = tasks ?? (concurrency === 1 ? 20 : concurrency * 10);
        const result = await drain(name, track, { label: 'I/O', concurrency, tasks: io(n) });
        const failed = result.runs.filter((r) => r.state !== 'SUCCESS');
        if (failed.length > 0 || result.runs.length < n) {
          ok = false;
          console.log(
            style.red(`C = ${concurrency}: ${failed.length} failed, ${n - result.runs.length} missing`),
          );
          for (const run of failed.slice(0, 3)) console.log(style.red(`  ${run.task}: ${run.error}`));
        }
        const throughput = result.runs.length / result.seconds;
        const little = concurrency / (latencyMs / 1000);
        best = Math.max(best, throughput / little);
        ioRows.push([
          String(concurrency),
          String(result.runs.length),
          result.seconds.toFixed(2),
          throughput.toFixed(0),
          little.toFixed(0),
          `${((throughput / little) * 100).toFixed(0)}%`,
          `${((result.reading.utilisation * result.reading.elapsedMs) / Math.max(1, result.runs.length)).toFixed(2)} ms`,
          ...meterCells(result.reading),
        ]);
      }
      console.log(
        table(
          [
            'C',
            'tasks',
            's',
            'tasks/s',
            "Little's law",
            'of it',
            'CPU/task',
            'loop p99 / max',
            'busy',
            'heartbeat',
          ],
          ioRows,
        ),
      );
      console.log(
        style.dim(
          `Little's law: in flight = throughput x time in the system, so C slots of ${latencyMs} ms give at most\n` +
            `C / ${latencyMs / 1000} s tasks a second. loop p99 / max: how late a timer fires (p99 and longest, minus the meter's resolution).\n` +
            'Short of it at C = 50? Each task also costs CPU on this one thread (fetch, Redis, and the server in this\n' +
            'same process): CPU/task. The loop can do at most 1000 / (CPU/task) a second, whatever C is.',
        ),
      );

      const { n, ms } = calibrateFib(40);
      const count = tasks ?? 12;
      console.log(
        `\n${style.bold('2. CPU-bound')}: ${count} x fib(${n}) (~${ms.toFixed(0)} ms each on this machine), same pool.`,
      );
      const cpuRows: string[][] = [];
      const cpu: Array<{ rate: number; reading: Reading }> = [];
      const cpuTasks: Array<[string, unknown[]]> = Array.from({ length: count }, () => ['fib', [n]]);
      for (const concurrency of [1, 10]) {
        const result = await drain(name, track, { label: 'CPU', concurrency, tasks: cpuTasks });
        if (result.runs.some((r) => r.state !== 'SUCCESS') || result.runs.length < count) ok = false;
        cpu.push({ rate: result.runs.length / result.seconds, reading: result.reading });
        cpuRows.push([
          String(concurrency),
          String(result.runs.length),
          result.seconds.toFixed(2),
          (result.runs.length / result.seconds).toFixed(1),
          ...meterCells(result.reading),
        ]);
      }
      console.log(table(['C', 'tasks', 's', 'tasks/s', 'loop p99 / max', 'busy', 'heartbeat'], cpuRows));
      console.log(style.dim(cpuNarration(cpu[0]!, cpu[1]!)));

      console.log(
        `\n${style.bold('3. The web lesson')}: a web app on this event loop; one visitor asks /report (fib(${n + 4})), ten others /hello.`,
      );
      console.log(table(['/report handler', '/report took', 'slowest /hello'], await webLesson(name, n + 4)));
      console.log(
        style.dim(
          'A web framework is not meant to do CPU-heavy work: the handler that computes makes every other visitor\n' +
            'wait for it. The one that enqueues answers at once (202 Accepted) and a worker does the work elsewhere.',
        ),
      );
      console.log(
        ok
          ? style.green(
              `Every task succeeded; the event-loop pool reached ${(best * 100).toFixed(0)}% of Little's law on I/O.`,
            )
          : style.red('Some tasks failed or went missing: see above.'),
      );
      return ok;
    } finally {
      await server.close();
      await dropThrowaways([name]);
    }
  }),
});
