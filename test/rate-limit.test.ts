/**
 * Rate limits on real Redis, across real worker processes: a '10/s' task run by three workers starts about ten
 * times a second in all (not ten per worker, as Celery's would), never two closer than the limit allows, and
 * the tasks over the limit wait in Redis, so the workers' slots stay free for other tasks.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Queue } from '../mini-queue/queue.ts';
import { start } from './helpers/cli.ts';
import { loadNow, loadStretch } from './helpers/load.ts';
import { until, useQueues } from './helpers/queues.ts';

const TASKS = fileURLToPath(new URL('./fixtures/rate-tasks.ts', import.meta.url));
const queues = useQueues('rate');
const children = new Set<ChildProcess>();
const producers: Queue[] = [];

// A worker also stops by itself when this process dies (it watches its parent), and on Ctrl-C (the signal
// reaches the whole process group): these are for a test that fails half-way.
const killAll = () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
};
process.once('exit', killAll);
afterEach(async () => {
  killAll();
  await Promise.all(producers.splice(0).map((q) => q.close()));
});

function worker(queue: string, extra: string[] = []) {
  const child = start([
    'mini-queue',
    'worker',
    '--tasks',
    TASKS,
    '--pool',
    'event-loop',
    '--concurrency',
    '2',
    '--queue',
    queue,
    ...extra,
  ]);
  children.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LIMIT_MS = 100;

describe('rate limits', () => {
  it("'10/s' across 3 workers for 5 s: 45 to 55 starts, none early, and the slots stay free", async () => {
    const loadAtStart = loadNow();
    const name = queues.name();
    const workers = [worker(name), worker(name), worker(name)];
    await until(() => workers.every((w) => w.output().includes('Ctrl-C to stop')), 30_000 * loadStretch());
    const queue = new Queue({ name });
    producers.push(queue);

    const from = Date.now();
    const limited = await queue.enqueueMany(
      'limited',
      Array.from({ length: 150 }, () => []),
    );
    await sleep(2000);
    // Meanwhile, a task without a limit: the limited ones wait in Redis, not in the workers' slots.
    const freeEnqueued = Date.now();
    const free = await queue.enqueue('free', []);
    const freeRun = (await free.result({ timeout: 5000 }).catch(() => undefined)) as
      | { at: number }
      | undefined;
    await sleep(Math.max(0, from + 5300 - Date.now()));
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) expect(await w.exited, w.output()).toBe(0);

    const stretch = loadStretch(loadAtStart);
    const runs: Array<{ at: number; pid: number }> = [];
    for (const handle of limited) {
      const info = await handle.info();
      if (info?.state === 'SUCCESS') runs.push(info.result as { at: number; pid: number });
    }
    const starts = runs.map((r) => r.at).sort((a, b) => a - b);
    const inWindow = starts.filter((at) => at >= from && at < from + 5000);
    const gaps = starts.slice(1).map((at, i) => Math.round(at - starts[i]!));
    const context = `${inWindow.length} starts in 5 s (${starts.length} in all), load stretch ${stretch}; gaps (ms): ${gaps.join(' ')}`;

    expect(inWindow.length, context).toBeGreaterThanOrEqual(45);
    expect(inWindow.length, context).toBeLessThanOrEqual(55);
    // Shared: the three workers took turns.
    expect(new Set(runs.map((r) => r.pid)).size, context).toBeGreaterThanOrEqual(2);
    // None early. Each start is booked one interval after the one before it, and comes at its booked time or
    // later (a timer, a promotion, a reserve and a round trip; more on a busy machine). So, counting from the
    // first start, the k-th comes no sooner than k intervals later; and in any window, at most the starts the
    // limit allows, give or take how late the window's first start came.
    const first = Math.min(20 * stretch, 100);
    for (const [k, at] of starts.entries()) {
      if (at - starts[0]! < k * LIMIT_MS - first) {
        throw new Error(
          `start #${k} came ${Math.round(at - starts[0]!)} ms after the first: early; ${context}`,
        );
      }
    }
    const late = Math.min(40 * stretch, 190);
    for (let i = 0; i < starts.length; i++) {
      for (let j = i + 1; j < starts.length; j++) {
        const allowed = Math.floor((starts[j]! - starts[i]! + late) / LIMIT_MS) + 1;
        if (j - i + 1 > allowed) {
          throw new Error(
            `${j - i + 1} starts within ${Math.round(starts[j]! - starts[i]!)} ms (at most ${allowed} at '10/s'); ${context}`,
          );
        }
      }
    }
    // The free task ran at once, though 100 limited ones were waiting for their turn.
    expect(
      freeRun,
      'the free task had not run 5 s after it was enqueued: are limited tasks holding the slots?',
    ).toBeDefined();
    expect(freeRun!.at - freeEnqueued, context).toBeLessThan(500 * stretch);
  }, 90_000);

  it('a bad --rate-limit is one line', async () => {
    const w = worker(queues.name(), ['--rate-limit', 'nope=10/s']);
    expect(await w.exited).toBe(1);
    expect(w.output().trim()).toBe("a rate limit for unknown task 'nope' (known: free, limited)");
    const v = worker(queues.name(), ['--rate-limit', 'free=lots']);
    expect(await v.exited).toBe(1);
    expect(v.output().trim()).toBe(
      "rate limit of 'free': a rate limit is like '10/s', '100/m' or '1000/h' (more than 0), got 'lots'",
    );
  });
});
