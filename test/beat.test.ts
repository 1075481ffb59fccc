/**
 * Beat on real Redis, as real processes: three beats on one schedule enqueue each tick once, and a `kill -9` of
 * the one that enqueued last loses at most one tick (ours lose none: the others try every tick too).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../mini-queue/envelope.ts';
import { queueKey } from '../mini-queue/keys.ts';
import { alive, start } from './helpers/cli.ts';
import { loadNow, loadStretch } from './helpers/load.ts';
import { until, useQueues } from './helpers/queues.ts';

const queues = useQueues('beat');
const dir = mkdtempSync(join(tmpdir(), 'mq-beat-'));
const children = new Set<ChildProcess>();

// A beat also stops by itself when this process dies (it watches its parent), and on Ctrl-C (the signal reaches
// the whole process group): these are for a test that fails half-way.
const killAll = () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
};
process.once('exit', killAll);
afterEach(killAll);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Running {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function beat(schedule: string, queue: string): Running {
  const child = start(['mini-queue', 'beat', '--schedule', schedule, '--queue', queue]);
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

describe('beat', () => {
  it('3 beats, every 100 ms for 10 s: each tick enqueued once; kill -9 of the leading one loses at most one tick', async () => {
    const loadAtStart = loadNow();
    const queue = queues.name();
    const schedule = join(dir, `${queue}.json`);
    writeFileSync(schedule, JSON.stringify([{ name: 'ping', task: 'noop', every: '100ms' }]));
    const beats = [beat(schedule, queue), beat(schedule, queue), beat(schedule, queue)];
    await until(() => beats.every((b) => b.output().includes('Ctrl-C to stop')), 30_000 * loadStretch());
    const redis = await queues.redis();
    const guard = (tick: number) => queueKey(queue, 'beat', 'ping', tick);
    const from = Date.now();
    await sleep(5000);

    // The leading beat: the one whose try reached Redis first for the last tick settled.
    const last = Math.floor(Date.now() / 100) * 100 - 100;
    const winner = await redis.get(guard(last));
    const leader = beats.find((b) => winner === `${b.output().match(/\((\S+:\d+)\)/)?.[1]}`);
    expect(leader, `the guard of tick ${last} names a beat: ${winner}`).toBeDefined();
    leader!.child.kill('SIGKILL');
    const killedAt = Date.now();
    await sleep(5000);

    const survivors = beats.filter((b) => b !== leader);
    const to = Date.now();
    for (const b of survivors) b.child.kill('SIGTERM');
    for (const b of survivors) expect(await b.exited, b.output()).toBe(0);
    expect(alive(leader!.child.pid!)).toBe(false);

    const ticks = (await redis.lrange(`mq:{${queue}}:waiting`, 0, -1))
      .map((raw) => JSON.parse(raw) as Envelope)
      .map((envelope) => Date.parse(envelope.id.slice('ping@'.length)))
      .sort((a, b) => a - b);
    const stretch = loadStretch(loadAtStart);
    const context = `${ticks.length} ticks, ${(to - from) / 1000} s, load stretch ${stretch}:\n${survivors.map((b) => b.output().split('\n').at(-2)).join('\n')}`;

    // Exactly once: no tick twice.
    const twice = ticks.filter((tick, i) => ticks[i - 1] === tick);
    expect(
      twice.map((t) => new Date(t).toISOString()),
      context,
    ).toEqual([]);
    // Every tick from the first to the last, but for at most one around the kill.
    const missing: number[] = [];
    for (let i = 1; i < ticks.length; i++) {
      for (let t = ticks[i - 1]! + 100; t < ticks[i]!; t += 100) missing.push(t);
    }
    expect(
      missing.length,
      `missing: ${missing.map((t) => new Date(t).toISOString())}; ${context}`,
    ).toBeLessThanOrEqual(1);
    for (const t of missing) expect(Math.abs(t - killedAt), context).toBeLessThan(2000 * stretch);
    // And ticking all along, from start to stop (one tick either way at each edge).
    expect(ticks[0]!, context).toBeLessThanOrEqual(from + 200);
    expect(ticks.at(-1)!, context).toBeGreaterThanOrEqual(to - 200 * stretch);
    expect(ticks.length, context).toBeGreaterThanOrEqual(Math.floor((to - from) / 100) - 2);

    // The three raced for the ticks: the guards name who won each, and each survivor found ticks taken.
    const winners = await Promise.all(ticks.map((tick) => redis.get(guard(tick))));
    expect(new Set(winners).size, context).toBeGreaterThanOrEqual(2);
    expect(
      winners.filter((w, i) => w === winner && ticks[i]! > killedAt + 100),
      'none after its death',
    ).toEqual([]);
    for (const b of survivors) {
      const [, enqueued, taken] = /(\d+) tick\(s\) enqueued here, (\d+) enqueued by another beat first/.exec(
        b.output(),
      )!;
      expect(Number(enqueued) + Number(taken), context).toBeGreaterThan(90);
      expect(Number(taken), context).toBeGreaterThan(0);
    }
  }, 90_000);

  it('a bad schedule is one line naming the entry', async () => {
    const schedule = join(dir, 'bad.json');
    writeFileSync(schedule, JSON.stringify([{ name: 'ping', task: 'noop', every: '100 ms please' }]));
    const b = beat(schedule, queues.name());
    expect(await b.exited).toBe(1);
    expect(b.output().trim()).toBe(
      "bad.json: entry 'ping': every must be a whole number of ms from 10 to 2147483647, or like '100ms', '5s', '2m', '1h', '1d'; got '100 ms please'",
    );
  });
});
