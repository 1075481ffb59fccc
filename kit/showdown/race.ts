/**
 * Part 2 of lab 06's demo, the showdown: I/O-bound, CPU-bound and mixed work through every pool for the same
 * window, a table of tasks/s, speedups and main-loop delays, then the attendee's recommendPool() (advice.ts)
 * next to what Celery's docs say, and a timeline of one pick.
 */
import { randomUUID } from 'node:crypto';
import { todoIn } from '../../mini-queue/errors.ts';
import { predictFor, thumbnailFor } from '../../mini-queue/examples/calibrate.ts';
import { startExampleServer } from '../../mini-queue/examples/server.ts';
import { LOOP_DELAY_RESOLUTION_MS as RESOLUTION_MS, withLoopHealth } from '../../mini-queue/loop-health.ts';
import { poolFactory, type Track } from '../../mini-queue/parts.ts';
import type { Pool, PoolKind, TaskCall, TaskOutcome } from '../../mini-queue/pool.ts';
import { EXAMPLE_TASKS_PATH, loadTasks, type TaskRegistry } from '../../mini-queue/tasks.ts';
import { busyWarning, machineFacts } from '../machine.ts';
import { throwIfTodo } from '../parallel.ts';
import { style } from '../ui/style.ts';
import { table } from '../ui/table.ts';
import { drawTimeline } from '../ui/timeline.ts';
import { CELERY, CELERY_SAYS, celeryVerdict } from './celery.ts';
import { CHEAP_LANES, CPU_MS, IO_LATENCY_MS, MAX_PER_WINDOW, WINDOW_MS } from './constants.ts';
import type { Advice, AdviceParts } from './contract.ts';
import { poolGridRows } from './pool-grid.ts';
import { timelineCell } from './timeline-cell.ts';
import type { ShowdownCell, Workload } from './types.ts';

export async function showdown(
  advice: AdviceParts,
  poolsTrack: Track,
  parallel: number,
  tasks: number | undefined,
): Promise<{ cells: ShowdownCell[]; advice: Advice[]; ok: boolean }> {
  const server = await startExampleServer({ latencyMs: IO_LATENCY_MS });
  const previous = process.env.MQ_EXAMPLE_SERVER;
  // Threads and child processes inherit it: every I/O task of every pool talks to this one server.
  process.env.MQ_EXAMPLE_SERVER = server.url;
  try {
    const thumb = thumbnailFor(CPU_MS);
    const pred = predictFor(CPU_MS);
    const io = (i: number): [string, unknown[]] =>
      i % 2 === 0 ? ['scrapePage', [i]] : ['sendEmail', [`user${i}@example.com`, 'Your invoice']];
    const cpu = (i: number): [string, unknown[]] =>
      i % 2 === 0 ? ['thumbnail', [thumb.size]] : ['predict', [pred.samples]];
    const workloads: Workload[] = [
      { name: 'I/O', make: io },
      { name: 'CPU', make: cpu },
      { name: 'mixed', make: (i) => (i % 2 === 0 ? io(i >> 1) : cpu(i >> 1)) },
    ];
    const pools: Array<[PoolKind, number]> = [
      ['solo', 1],
      ['event-loop', CHEAP_LANES],
      ['coroutines', CHEAP_LANES],
      ['threads', parallel],
      ['processes', parallel],
      ['prefork', parallel],
    ];
    const windowMs = tasks === undefined ? WINDOW_MS : Number.POSITIVE_INFINITY;
    const max = tasks ?? MAX_PER_WINDOW;
    console.log(
      `\n${style.bold('2. The showdown')}: every pool${poolsTrack === 'labs' ? ' (yours, from labs 01-05)' : ''} on ` +
        `I/O (scrapePage, sendEmail; ${IO_LATENCY_MS} ms a request), CPU (thumbnail ${thumb.size}, ~${thumb.ms.toFixed(0)} ms; ` +
        `predict ${pred.samples}, ~${pred.ms.toFixed(0)} ms) and a mix, ` +
        (tasks === undefined ? `${WINDOW_MS / 1000} s each` : `${tasks} tasks each`) +
        ' (pool start-up not timed: a worker pays it once).',
    );
    // Other work on the cores shows up as low speedups for the parallel pools, and the advice follows the numbers.
    const busy = busyWarning(machineFacts());
    if (busy) console.log(style.yellow(busy));
    const registry = await loadTasks(EXAMPLE_TASKS_PATH);
    const cells: ShowdownCell[] = [];
    const skipped: string[] = [];
    for (const [kind, concurrency] of pools) {
      const began = performance.now();
      const measured = await racePool(kind, concurrency, poolsTrack, registry, workloads, windowMs, max);
      if ('skipped' in measured) {
        skipped.push(`${kind}: ${measured.skipped}`);
        console.log(style.yellow(`  ${kind.padEnd(10)} skipped: ${measured.skipped}`));
        continue;
      }
      cells.push(...measured.cells);
      console.log(
        style.dim(
          `  ${kind.padEnd(10)} x${String(concurrency).padEnd(3)} ` +
            measured.cells.map((c) => `${c.row.workload} ${c.row.throughput.toFixed(0)}/s`).join(', ') +
            ` (${((performance.now() - began) / 1000).toFixed(1)} s)`,
        ),
      );
    }
    for (const cell of cells) {
      const solo = cells.find((c) => c.row.pool === 'solo' && c.row.workload === cell.row.workload)?.row;
      cell.row.speedup = solo && solo.throughput > 0 ? cell.row.throughput / solo.throughput : Number.NaN;
    }
    console.log(poolTable(cells, workloads));
    console.log(
      style.dim(
        'Each cell: tasks/s, speedup against solo, and how late the main thread ran its timers (monitorEventLoopDelay\n' +
          `p99 minus its ${RESOLUTION_MS} ms resolution): a worker whose loop is that late also renews its leases, sees Redis and\n` +
          'notices a shutdown that late.',
      ),
    );

    const rows = cells.map((c) => c.row);
    const advised = advice.recommendPool(rows);
    console.log(
      `\n${style.bold('Which pool for which work')}, from the table (your recommendPool in advice.ts):`,
    );
    for (const a of advised) {
      const celery = CELERY_SAYS[a.workload];
      console.log(
        `  ${style.bold(a.workload.padEnd(6))}→ ${style.cyan(a.pool)} (${CELERY[a.pool]}): ${a.reason}`,
      );
      if (celery) {
        const verdict = celeryVerdict(a.workload, a.pool, skipped.length);
        const said = verdict ? ` ${(verdict.agrees ? style.green : style.yellow)(verdict.text)}` : '';
        console.log(`          ${style.dim(celery.says)}${said}`);
      }
    }
    const shown = timelineCell(cells, advised);
    if (shown) {
      console.log(
        style.dim(
          `\nTimeline: ${shown.row.pool} on ${shown.row.workload} work, one row per lane, time left to right.`,
        ),
      );
      console.log(drawTimeline(shown.spans));
    }

    const failed = cells.filter((c) => c.row.failed > 0);
    for (const c of failed) {
      console.log(
        style.red(`${c.row.pool} on ${c.row.workload}: ${c.row.failed} of ${c.row.tasks} tasks failed.`),
      );
    }
    const missing = workloads.filter((w) => !advised.some((a) => a.workload === w.name));
    if (missing.length > 0) {
      console.log(style.red(`recommendPool gave no advice for ${missing.map((w) => w.name).join(', ')}.`));
    }
    if (skipped.length > 0) {
      console.log(
        style.yellow(
          `Skipped ${skipped.length} pool(s) of yours that are not finished: ${skipped.join('; ')}.`,
        ),
      );
    }
    return { cells, advice: advised, ok: failed.length === 0 && missing.length === 0 && cells.length > 0 };
  } finally {
    if (previous === undefined) delete process.env.MQ_EXAMPLE_SERVER;
    else process.env.MQ_EXAMPLE_SERVER = previous;
    await server.close();
  }
}

/** One pool on every workload. A pool of yours with a TODO left is skipped (and said so), not a crash. */
async function racePool(
  kind: PoolKind,
  concurrency: number,
  poolsTrack: Track,
  registry: TaskRegistry,
  workloads: Workload[],
  windowMs: number,
  max: number,
): Promise<{ cells: ShowdownCell[] } | { skipped: string }> {
  const unfinished = (error: unknown) => {
    const todo =
      poolsTrack === 'labs' ? todoIn(error instanceof Error ? error.message : String(error)) : undefined;
    if (!todo) throw error;
    return { skipped: `TODO(${todo.todo}) is not done yet` };
  };
  let pool: Pool;
  try {
    const createPool = await poolFactory(kind, poolsTrack);
    pool = await createPool({ concurrency, tasksPath: EXAMPLE_TASKS_PATH, registry });
  } catch (error) {
    return unfinished(error);
  }
  const cells: ShowdownCell[] = [];
  try {
    for (const workload of workloads) {
      const { outcomes, seconds, delayP99 } = await measure(pool, workload, windowMs, max);
      throwIfTodo(outcomes); // the catch below turns it into `skipped` for a pool of yours
      cells.push({
        row: {
          pool: kind,
          workload: workload.name,
          concurrency: pool.concurrency,
          tasks: outcomes.length,
          failed: outcomes.filter((o) => !o.ok).length,
          seconds,
          throughput: outcomes.length / Math.max(seconds, 1e-6),
          speedup: Number.NaN,
          loopDelayP99: delayP99,
        },
        spans: outcomes.map((o) => ({ lane: o.lane, startedAt: o.startedAt, finishedAt: o.finishedAt })),
      });
    }
  } catch (error) {
    return unfinished(error);
  } finally {
    await pool.close().catch(() => {});
  }
  return { cells };
}

/**
 * Keeps the pool's lanes busy, with up to two calls waiting so no lane idles during a handover (none for
 * `processes`: each task pays a fork anyway), until the window closes or `max` tasks were given, then waits for
 * the last ones. New calls are handed over on the next turn of the loop (setImmediate), as a worker's do after
 * a Redis round trip: this harness never keeps the loop busy by itself. The main thread's loop delay is sampled
 * meanwhile.
 */
async function measure(
  pool: Pool,
  workload: Workload,
  windowMs: number,
  max: number,
): Promise<{ outcomes: TaskOutcome[]; seconds: number; delayP99: number }> {
  const call = (i: number): TaskCall => {
    const [task, args] = workload.make(i);
    return { id: `showdown-${task}-${i}-${randomUUID().slice(0, 8)}`, task, args, attempt: 0 };
  };
  // Warm-up: the JIT, sockets to the server, whatever each lane loads on first use (a process per task has none).
  if (pool.kind !== 'processes') {
    await Promise.all(Array.from({ length: Math.min(pool.concurrency, 8) }, (_, i) => pool.run(call(i))));
  }
  const started = performance.now();
  const deadline = started + windowMs;
  const target = pool.concurrency + (pool.kind === 'processes' ? 0 : Math.min(pool.concurrency, 2));
  const outcomes: TaskOutcome[] = [];
  const { delayP99Ms } = await withLoopHealth(
    () =>
      new Promise<void>((done, fail) => {
        let given = 0;
        let running = 0;
        const more = () => {
          while (running < target && given < max && performance.now() < deadline) {
            running++;
            pool.run(call(given++)).then((outcome) => {
              outcomes.push(outcome);
              running--;
              setImmediate(more);
            }, fail);
          }
          if (running === 0) done();
        };
        more();
      }),
  );
  return { outcomes, seconds: (performance.now() - started) / 1000, delayP99: delayP99Ms };
}

function poolTable(cells: ShowdownCell[], workloads: Workload[]): string {
  const names = workloads.map((w) => w.name);
  return table(
    ['pool', 'Celery', 'C', ...names],
    poolGridRows(cells, names, (row) => {
      const speed = Number.isFinite(row.speedup) ? ` x${row.speedup.toFixed(1)}` : '';
      const loop = `loop ${row.loopDelayP99.toFixed(1)} ms`;
      return (
        `${row.throughput.toFixed(0)}/s${speed}\n` +
        (row.loopDelayP99 > RESOLUTION_MS ? style.red(loop) : loop) +
        (row.failed > 0 ? `\n${style.red(`${row.failed} failed`)}` : '')
      );
    }),
  );
}
