/**
 * Issue 18's done-when: a chord of 1,000 members over 3 worker processes, two of them killed with kill -9 mid-run.
 * At least once means the members the dead workers held run again, and the members of a worker that stalls past
 * its visibility timeout run twice, both runs finishing and joining; the callback must still run exactly once,
 * with all 1,000 results in member order.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { sig } from '../mini-queue/canvas.ts';
import { ChordFailedError } from '../mini-queue/canvas-handles.ts';
import { queueKeys } from '../mini-queue/keys.ts';
import { Queue } from '../mini-queue/queue.ts';
import { alive, start } from './helpers/cli.ts';
import { loadNow, loadStretch } from './helpers/load.ts';
import { until, useQueues } from './helpers/queues.ts';

const TASKS = fileURLToPath(new URL('./fixtures/canvas-tasks.ts', import.meta.url));
const MEMBERS = 1000;
const queues = useQueues('chord-drill');
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A worker process on `queue`, resolved once it says it is consuming. */
async function worker(
  queue: string,
  timeoutMs: number,
  pool = ['--pool', 'event-loop', '--concurrency', '4'],
) {
  const child = start([
    'mini-queue',
    'worker',
    '--tasks',
    TASKS,
    ...pool,
    '--queue',
    queue,
    '--visibility',
    '1000',
  ]);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  cleanups.push(async () => {
    if (!alive(child.pid!)) return;
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('close', resolve));
  });
  await until(() => /^worker \d+: /m.test(output), timeoutMs).catch(() => {
    throw new Error(`worker did not start within ${timeoutMs} ms:\n${output}`);
  });
  return { child, output: () => output };
}

it('a chord of 1,000 members over 3 worker processes, two killed with kill -9 mid-run: one callback, every result', async () => {
  const load = loadNow();
  const stretch = loadStretch(load);
  const name = queues.name();
  const dir = mkdtempSync(join(tmpdir(), 'chord-drill-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const members = join(dir, 'members.log');
  const callbacks = join(dir, 'callbacks.log');
  const queue = new Queue({ name });
  cleanups.push(() => queue.close());
  const redis = await queues.redis();

  const started = Date.now();
  const workers = await Promise.all([1, 2, 3].map(() => worker(name, 20_000 * stretch)));
  const ready = Date.now() - started;
  // Members of 10 ms: long enough that a kill finds each worker holding four, short enough for 1,000 in seconds.
  // A kill lands between a member's join and its ack only by luck, so four members also stall their worker past
  // the visibility timeout on their first run: another worker runs them (and the three members held beside each)
  // again, and both runs finish and join. An INCR counter fails here.
  const stalled = (i: number) => (i % 250 === 125 ? 1500 : 0);
  const chord = await queue.chord(
    Array.from({ length: MEMBERS }, (_, i) => sig('square', i, 10, members, stalled(i))),
    sig('collect', callbacks),
  );
  const k = queueKeys(name);
  const progress = async () => {
    const [joined, state] = await Promise.all([
      redis.hlen(k.chordResults(chord.id)),
      redis.hget(k.chord(chord.id), 'state'),
    ]);
    return { joined, state };
  };
  const killedAt: number[] = [];
  for (const [i, share] of [1 / 3, 2 / 3].entries()) {
    await until(async () => {
      const p = await progress();
      return p.joined >= MEMBERS * share || p.state !== null;
    }, 30_000 * stretch);
    const p = await progress();
    expect(p.state, `kill ${i + 1} came after the chord was done: not mid-run`).toBe(null);
    killedAt.push(p.joined);
    workers[i]!.child.kill('SIGKILL');
    await until(() => !alive(workers[i]!.child.pid!), 5000);
  }

  const result = await chord.get({ timeoutMs: 30_000 * stretch });
  const sum = Array.from({ length: MEMBERS }, (_, i) => i * i).reduce((a, b) => a + b, 0);
  expect(result).toEqual({ count: MEMBERS, sum });
  // A second callback would be waiting or running now: wait until nothing is left, then count the runs.
  await until(async () => {
    const s = await queue.stats();
    return s.waiting === 0 && s.active === 0;
  }, 10_000 * stretch);
  const runs = readFileSync(callbacks, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { pid: number; results: number[] });
  expect(runs, 'the callback ran exactly once').toHaveLength(1);
  expect(runs[0]!.results).toEqual(Array.from({ length: MEMBERS }, (_, i) => i * i));

  // The drill did what it says: the killed workers' members ran again elsewhere.
  const starts = readFileSync(members, 'utf8').trim().split('\n');
  const perMember = new Map<string, number>();
  for (const line of starts) {
    const [i] = line.split(' ');
    perMember.set(i!, (perMember.get(i!) ?? 0) + 1);
  }
  const twice = [...perMember.values()].filter((n) => n > 1).length;
  expect(perMember.size).toBe(MEMBERS);
  expect(twice, 'members run again after a kill').toBeGreaterThan(0);
  const stats = await queue.stats();
  expect(stats).toMatchObject({ succeeded: MEMBERS + 1, failed: 0, dead: 0 });
  console.log(
    `chord drill: ${MEMBERS} members, workers ready in ${ready} ms, killed at ${killedAt.join(' and ')} joined, ` +
      `${twice} members run twice, ${starts.length} runs in all, callback once; ${Date.now() - started} ms in all ` +
      `(load ${load.toFixed(1)} -> ${loadNow().toFixed(1)})`,
  );
}, 120_000);

it('a member that runs past its time limit on a one-thread pool fails its chord, though the watchdog kills its worker', async () => {
  const stretch = loadStretch();
  const name = queues.name();
  const queue = new Queue({ name });
  cleanups.push(() => queue.close());
  const { child, output } = await worker(name, 20_000 * stretch, ['--pool', 'solo']);
  const chord = await queue.chord(
    [sig('add', 1, 1), { task: 'spin', args: [], options: { timeout: 300 } }],
    sig('collect'),
  );
  const error = await chord.get({ timeoutMs: 15_000 * stretch }).catch((e: unknown) => e);
  expect(error, output()).toBeInstanceOf(ChordFailedError);
  expect((error as Error).message).toMatch(
    /member #1 \(spin .*\) failed: TimeLimitExceeded: .*; the callback never runs/,
  );
  await until(() => !alive(child.pid!), 10_000 * stretch);
  expect(output()).toMatch(/watchdog: the event loop of worker \d+ has been blocked/);
}, 120_000);
