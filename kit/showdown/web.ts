/**
 * Part 1 of lab 06's demo, the web app that stays fast: the attendee's handlers (app.ts) in each design on this
 * process's event loop, a prefork worker in another process, one visitor followed step by step, then the rush
 * hour (heavy and cheap visitors at once) for each design turn about (inline, offload, offload, inline), and /health's latencies side by side.
 */
import { dropQueues } from '../../mini-queue/admin.ts';
import { NotImplemented, todoIn, UserError } from '../../mini-queue/errors.ts';
import { thumbnailFor } from '../../mini-queue/examples/calibrate.ts';
import { Client, type Exchange, type RushHourResult, rushHour } from '../../mini-queue/examples/visitors.ts';
import { spawnWorker, type WorkerProcess } from '../../mini-queue/examples/worker-process.ts';
import type { Track } from '../../mini-queue/parts.ts';
import { Queue } from '../../mini-queue/queue.ts';
import { dropThrowaways, throwaway } from '../throwaway.ts';
import { style } from '../ui/style.ts';
import { table } from '../ui/table.ts';
import { LatencyWindow, publishLatency } from './app-stats.ts';
import { cleanups } from './cleanup.ts';
import { CHEAP_VISITORS, HEAVY_MS, HEAVY_VISITORS, RATIO, RUSH_MS, THINK_MS } from './constants.ts';
import type { AppParts, Design } from './contract.ts';
import { startApp } from './http-app.ts';
import { interleave, median } from './interleave.ts';
import type { WebResult } from './types.ts';

/** An answer that is not the expected one: a TODO not done becomes guidance, anything else one line. */
export function expectStatus(exchange: Exchange, want: number, what: string): void {
  if (exchange.status === want) return;
  const error = (exchange.body as { error?: unknown } | undefined)?.error;
  const text =
    typeof error === 'string'
      ? error
      : typeof exchange.body === 'string'
        ? exchange.body
        : JSON.stringify(exchange.body);
  throw appError(text, `${what} answered ${exchange.status}, expected ${want}: ${text}`);
}

/** `text` is what the app said: a TODO in it is the attendee's next step, so it wins over `message`. */
function appError(text: string, message: string): Error {
  const todo = todoIn(text);
  return todo ? new NotImplemented(todo.todo, todo.hint) : new UserError(message);
}

export async function webDemo(app: AppParts, poolsTrack: Track, concurrency: number): Promise<WebResult> {
  const heavy = thumbnailFor(HEAVY_MS);
  const name = throwaway(`lab06-web-${process.pid}`);
  const queue = new Queue({ name });
  let worker: WorkerProcess | undefined;
  const undo = async () => {
    await worker?.stop();
    await dropQueues([name]);
  };
  cleanups.add(undo);
  console.log(
    `\n${style.bold('1. A web app that stays fast')}: POST /thumbnail (size ${heavy.size}, ~${heavy.ms.toFixed(0)} ms of CPU) ` +
      `while ${CHEAP_VISITORS} other visitors keep asking GET /health.`,
  );
  try {
    await queue.stats(); // connect now, not inside the first request
    worker = await spawnWorker({ queue: name, pool: 'prefork', concurrency, track: poolsTrack });
    console.log(
      style.dim(
        `The web app runs in this process (pid ${process.pid}); the worker in its own: ` +
          `\`mini-queue worker --pool prefork --concurrency ${concurrency} --queue ${name}\`, pid ${worker.pid}.`,
      ),
    );
    await followOne(app, queue, heavy.size);

    // Turn about (inline, offload, offload, inline) and each side's median: a change in the machine's load hits
    // both designs alike, so a busy laptop moves the numbers and not the comparison.
    const rounds = await interleave(['inline', 'offload'] as const, 2, (design) =>
      rush(app, design, queue, heavy.size),
    );
    const inlineP99 = median(rounds.inline.map((r) => r.cheap.p99));
    const offloadP99 = median(rounds.offload.map((r) => r.cheap.p99));
    const ratio = inlineP99 / Math.max(offloadP99, 0.01);
    // The round of each design nearest its median, for the table and the report.
    const nearest = (results: RushHourResult[], m: number) =>
      results.reduce((a, b) => (Math.abs(b.cheap.p99 - m) < Math.abs(a.cheap.p99 - m) ? b : a));
    const inline = nearest(rounds.inline, inlineP99);
    const offload = nearest(rounds.offload, offloadP99);
    console.log(webTable(inline, offload));
    if (ratio < RATIO)
      console.log(
        style.yellow(
          `/health's p99 offloaded (median of 2, measured turn about with inline) is only ${ratio.toFixed(1)}x better than inline (the bar is ${RATIO}x).`,
        ),
      );
    console.log(
      style.dim(
        `Inline, the handler computes for ~${heavy.ms.toFixed(0)} ms and this process's one event loop answers nobody\n` +
          'meanwhile: every /health waits behind the thumbnails. Offloaded, the handler does one Redis round trip and\n' +
          'answers 202 with a status URL; the worker process computes, and /health is answered at once. The thumbnails\n' +
          'are not faster (a visitor still waits for hers, polling the status URL), but nobody else waits for them.\n' +
          '(Visitors here wait for an answer before asking again: a blocked app also gets fewer requests, so the\n' +
          'inline figures are, if anything, flattering.)',
      ),
    );
    for (const [label, result] of [
      ['inline', inline],
      ['offload', offload],
    ] as const) {
      const { firstError } = result.heavy;
      if (firstError) throw appError(firstError, `POST /thumbnail (${label}) went wrong: ${firstError}`);
    }
    const verdict = `/health p99 (medians): ${inlineP99.toFixed(0)} ms inline, ${offloadP99.toFixed(1)} ms offloaded: ${ratio.toFixed(0)}x (bar: ${RATIO}x)`;
    console.log(ratio >= RATIO ? style.green(verdict) : style.red(verdict));
    return { inline, offload, ratio, size: heavy.size, ms: heavy.ms };
  } finally {
    if (worker) {
      const code = await worker.stop();
      console.log(
        style.dim(
          `Worker pid ${worker.pid} stopped (SIGTERM, warm shutdown): ${code === 0 ? 'exit 0' : `exit ${code}`}.`,
        ),
      );
    }
    await queue.close();
    await dropThrowaways([name]);
    cleanups.delete(undo);
  }
}

/** One visitor, step by step: the 202, the states the status URL goes through, and where the work ran. */
async function followOne(app: AppParts, queue: Queue, size: number): Promise<void> {
  const started = await startApp(app, { design: 'offload', queue });
  const client = new Client(started.url, 2);
  try {
    const t0 = performance.now();
    const posted = await client.post('/thumbnail', { size });
    expectStatus(posted, 202, 'POST /thumbnail');
    const { status: url } = posted.body as { status: string };
    const seen: string[] = [`202 in ${posted.ms.toFixed(1)} ms`];
    let last = '';
    let body: Record<string, unknown> = {};
    while (performance.now() - t0 < 30_000) {
      const poll = await client.get(url);
      expectStatus(poll, 200, `GET ${url}`);
      body = poll.body as Record<string, unknown>;
      const state = String(body.state);
      if (state !== last) seen.push(`${state} at ${(performance.now() - t0).toFixed(0)} ms`);
      last = state;
      if (state === 'SUCCESS' || state === 'FAILURE') break;
      await new Promise((r) => setTimeout(r, 5));
    }
    console.log(
      `One visitor: POST /thumbnail → ${seen.join(' → ')}` +
        (body.lane ? `, computed on ${body.lane} (a prefork child of the worker, not this web app).` : '.'),
    );
    console.log(style.dim(`  GET ${url} → ${shorten(body)}`));
  } finally {
    client.close();
    await started.close();
  }
}

/** The app in one design, warmed up, then the rush: heavy and cheap visitors at once for RUSH_MS. */
async function rush(app: AppParts, design: Design, queue: Queue, size: number): Promise<RushHourResult> {
  const started = await startApp(app, { design, queue });
  try {
    const client = new Client(started.url, 2);
    try {
      await client.get('/health'); // sockets and the JIT, on both sides
      const warm = await client.post('/thumbnail', { size });
      if (warm.status === 202) {
        const url = (warm.body as { status: string }).status;
        for (let i = 0; i < 1000; i++) {
          const state = ((await client.get(url)).body as { state?: string }).state;
          if (state === 'SUCCESS' || state === 'FAILURE') break;
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    } finally {
      client.close();
    }
    // What the visitors see, on the dashboard beside the queue while the rush runs (app-stats.ts).
    const latency = new LatencyWindow();
    const stopPublishing = await publishLatency(queue.name, `lab 06 web app, ${design}`, latency);
    try {
      return await rushHour({
        url: started.url,
        heavy: { path: '/thumbnail', body: { size }, visitors: HEAVY_VISITORS },
        cheap: { path: '/health', visitors: CHEAP_VISITORS, thinkMs: THINK_MS },
        durationMs: RUSH_MS,
        onCheap: (ms) => latency.add(ms),
      });
    } finally {
      stopPublishing();
    }
  } finally {
    await started.close();
  }
}

function webTable(inline: RushHourResult, offload: RushHourResult): string {
  const row = (label: string, r: RushHourResult, slow: boolean) => {
    const p99 = `${r.cheap.p99.toFixed(1)} ms`;
    return [
      label,
      `${r.cheap.p50.toFixed(1)} ms`,
      slow ? style.red(p99) : style.green(p99),
      `${r.cheap.max.toFixed(0)} ms`,
      r.cheap.perSecond.toFixed(0),
      `${r.heavy.answered.p50.toFixed(1)} ms`,
      `${r.heavy.succeeded}/${r.heavy.sent}`,
      `${r.heavy.results.p50.toFixed(0)} ms`,
    ];
  };
  return table(
    [
      'POST /thumbnail',
      '/health p50',
      'p99',
      'max',
      '/health req/s',
      'answered in (p50)',
      'thumbnails',
      'result in hand (p50)',
    ],
    [row('computed inline', inline, true), row('offloaded (202)', offload, false)],
  );
}

/** A status body on one line, whole: long strings inside are cut, the JSON itself never (no half a string). */
function shorten(body: unknown): string {
  return JSON.stringify(body, (_, value) =>
    typeof value === 'string' && value.length > 60 ? `${value.slice(0, 57)}...` : value,
  );
}
