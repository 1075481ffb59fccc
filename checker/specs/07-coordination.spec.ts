/**
 * Lab 07 — many workers, one truth: the chord join (07.1), beat's once-per-tick guard (07.2) and the shared rate
 * limiter (07.3), each one Lua script of the track in MQ_TRACK (`npm run check -- 07 [--solution]`), run the way
 * the chassis runs it: by Coordination, Beat and workers, on many connections at once.
 *
 * Judged by what Redis holds (the queue, the guards, the bookings) and by Redis's own clock and the tasks' own,
 * never by how long something took: a busy laptop makes these checks slower, not wrong. The races are made to
 * happen, not waited for: a member is joined twice, a worker's connection dies right after a join, two joins go
 * at one instant on two workers, a beat's connection is cut mid-run, ten asks for a start reach Redis in one step.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as pathJoin } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type ChildEvent, type LabProcess, startWorkerProcess } from '../../kit/coordination/processes.ts';
import { LIMITED_INTERVAL_MS } from '../../kit/coordination/tasks.ts';
import { Beat } from '../../mini-queue/beat.ts';
import type { ResultRecord } from '../../mini-queue/broker.ts';
import { sig } from '../../mini-queue/canvas.ts';
import { Coordination } from '../../mini-queue/coordination.ts';
import { createEnvelope, decodeEnvelope, type Envelope, encodeEnvelope } from '../../mini-queue/envelope.ts';
import { queueKey, queueKeys } from '../../mini-queue/keys.ts';
import { labLua, PART_LABS } from '../../mini-queue/parts.ts';
import { Queue } from '../../mini-queue/queue.ts';
import { connectRedis, decorateConnections } from '../../mini-queue/redis/client.ts';
import { Scripts } from '../../mini-queue/redis/scripts.ts';
import { checkSchedule } from '../../mini-queue/schedule.ts';
import { type TaskRun, Worker } from '../../mini-queue/worker.ts';
import {
  chaosRandom,
  chaosSeedOfRun,
  cleanQueues,
  record,
  trackUnderTest,
  uniqueQueue,
  within,
} from '../spec-kit.ts';

const track = trackUnderTest();
const TASKS = fileURLToPath(new URL('../../kit/coordination/tasks.ts', import.meta.url));
const queues: string[] = [];
const undos: Array<() => Promise<unknown> | unknown> = [];
let look: Redis | undefined;

afterEach(async () => {
  for (const undo of undos.splice(0).reverse()) await undo();
  await cleanQueues(queues.splice(0));
});
afterAll(() => look?.disconnect());

function queueName(): string {
  const name = uniqueQueue('07');
  queues.push(name);
  return name;
}

/**
 * A queue the throw-away sweep leaves alone, for a check that reads the TTL a script gave a key: the sweep sets 60 s
 * on every key of a throw-away queue every 2 s, over the key's own TTL. Dropped after the check like the others;
 * the check gives what it leaves a TTL at once, so a check killed half-way leaves nothing for ever.
 */
function unsweptQueueName(): string {
  const name = `check-07-ttl-${process.pid}-${Date.now().toString(36)}`;
  queues.push(name);
  return name;
}

/** A connection of the check's own, to look at Redis directly and run the track's scripts. */
async function redis(): Promise<Redis> {
  look ??= await connectRedis({ name: 'mq-check-07' });
  return look;
}

/** The track's lab 07 scripts, on the check's own connection. */
async function scripts(): Promise<Scripts> {
  return new Scripts(await redis(), [labLua(track, PART_LABS.coordination)]);
}

/** Redis's clock, ms: the one the scripts read. */
async function redisNow(): Promise<number> {
  const [s, us] = await (await redis()).time();
  return Number(s) * 1000 + Number(us) / 1000;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `done()` holds, polling; fails with `what` after `ms`. */
async function until(done: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`expected ${what} within ${ms} ms`);
    await pause(20);
  }
}

/** Rejects when one of `stopping` stopped on its own (a TODO not done): race a wait against it. */
function stopped(stopping: Array<{ done: Promise<void> }>): Promise<never> {
  return Promise.race(
    stopping.map((s) =>
      s.done.then(() => {
        throw new Error('it stopped on its own, before the check was done');
      }),
    ),
  );
}

/** The connection a chassis part opens next under `name`, with a switch that kills it: nothing sent after. */
function killable(name: string): { kill(): void; killed(): boolean; undo(): void } {
  let dead = false;
  const undo = decorateConnections((client, connection) => {
    if (connection !== name) return;
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((
      command: { reject: (e: Error) => void; promise: Promise<unknown> },
      ...rest: unknown[]
    ) => {
      if (dead) {
        command.reject(new Error('this process was killed'));
        return command.promise;
      }
      // A pipeline passes its stream along: keep it.
      return (send as (...args: unknown[]) => unknown)(command, ...rest);
    }) as never;
  });
  return { kill: () => (dead = true), killed: () => dead, undo };
}

// ---------------------------------------------------------------------------------------------------------------
// 07.1 the chord join

/** A chord of `n` square members made with no worker running: its members' messages, and what waits in the queue. */
async function madeChord(n: number) {
  const name = queueName();
  const queue = new Queue({ name });
  undos.push(() => queue.close());
  const r = await redis();
  const chord = await queue.chord(
    Array.from({ length: n }, (_, i) => sig('square', i)),
    sig('collect'),
  );
  const members = (await waiting(r, name)).filter((e) => e.chord?.id === chord.id);
  await r.del(queueKeys(name).waiting);
  /** The callback's messages in the queue: each one is a run of the callback. */
  const callbacks = async () => (await waiting(r, name)).filter((e) => e.id === chord.id);
  return { name, queue, chord, members, callbacks };
}

/** What waits in a queue, decoded, oldest first. */
async function waiting(r: Redis, name: string): Promise<Envelope[]> {
  const raws = await r.lrange(queueKeys(name).waiting, 0, -1);
  return raws.reverse().flatMap((raw) => {
    const decoded = decodeEnvelope(raw);
    return decoded.ok ? [decoded.envelope] : [];
  });
}

/**
 * Whether task `id` was ever enqueued: it waits, runs or has a result. Read in the order a message moves
 * (waiting, then active, then its result), so one moving on meanwhile is still seen.
 */
async function enqueued(name: string, id: string): Promise<boolean> {
  const r = await redis();
  const k = queueKeys(name);
  // By the envelope's own id: a chord member's envelope names its chord's id too (the callback's).
  const holds = (raws: string[]) =>
    raws.some((raw) => {
      const decoded = decodeEnvelope(raw);
      return decoded.ok && decoded.envelope.id === id;
    });
  if (holds(await r.lrange(k.waiting, 0, -1))) return true;
  if (holds(await r.lrange(k.active, 0, -1))) return true;
  return (await r.exists(k.result(id))) === 1;
}

function coordination(name: string): Coordination {
  const c = new Coordination({ queue: name, track });
  undos.push(() => c.close());
  return c;
}

function success(envelope: Envelope, result: unknown): ResultRecord {
  return { id: envelope.id, task: envelope.task, state: 'SUCCESS', attempt: 0, enqueuedAt: 0, result };
}

function failure(envelope: Envelope, message: string): ResultRecord {
  return {
    id: envelope.id,
    task: envelope.task,
    state: 'FAILURE',
    attempt: 0,
    enqueuedAt: 0,
    error: { name: 'Error', message },
  };
}

/** Joins member `i` of `members` with `result` (or a failure) and returns what the script answered, by name. */
async function joinMember(c: Coordination, members: Envelope[], i: number, result: unknown, failed = false) {
  const member = members[i]!;
  const { join: reply } = await c.settled(
    member,
    failed ? failure(member, String(result)) : success(member, result),
  );
  return reply;
}

const shown = (callbacks: Envelope[]) =>
  callbacks.length === 0 ? 'none' : callbacks.map((e) => JSON.stringify(e.args[0])).join(' and ');

describe('07.1 the chord join', () => {
  it('07.1 runs the callback once, when the last member joins, with every result in member order', async () => {
    const { name, members, callbacks } = await madeChord(4);
    const c = coordination(name);
    // They finish out of order: the results go in member order all the same.
    const order = [2, 0, 3, 1];
    for (const [k, i] of order.entries()) {
      const reply = await joinMember(c, members, i, i * i);
      if (k < order.length - 1) {
        expect(
          reply,
          `member #${i} joined, ${k + 1} of 4: not the last, so the join answers 1 (counted, members still to come)`,
        ).toBe('counted');
        expect(
          (await callbacks()).length,
          `after ${k + 1} of 4 members joined, no callback yet: it runs once every member succeeded`,
        ).toBe(0);
      } else {
        expect(reply, 'the join that counts the last member answers 2: the callback is enqueued').toBe(
          'fired',
        );
      }
    }
    const fired = await callbacks();
    expect(
      fired.length,
      `the join of the last member enqueues the callback, once, in the same script (callbacks in the queue: ${shown(fired)})`,
    ).toBe(1);
    expect(
      fired[0]!.args[0],
      'the callback gets every result in member order (#0, #1, #2, #3), whichever member finished first',
    ).toEqual([0, 1, 4, 9]);
  });

  it('07.1 counts a member delivered twice once: the callback never fires early, and keeps the first result', async () => {
    const { name, members, callbacks } = await madeChord(3);
    const c = coordination(name);
    const first = await joinMember(c, members, 0, 'a');
    // At least once: its worker died after running it, so it ran again elsewhere and joins again.
    const again = await joinMember(c, members, 0, 'a, run again');
    const second = await joinMember(c, members, 1, 'b');
    const early = await callbacks();
    expect(
      early.length,
      `member #0 delivered twice and #1 once: 2 of 3 distinct members, yet the callback fired with ${shown(early)}: a member delivered twice counted twice (count distinct members, not deliveries)`,
    ).toBe(0);
    expect(again, 'a member counted before answers 0 (a redelivery: nothing changed)').toBe('counted-before');
    expect([first, second], 'a member counted, with members still to come, answers 1').toEqual([
      'counted',
      'counted',
    ]);
    expect(await joinMember(c, members, 2, 'c')).toBe('fired');
    const fired = await callbacks();
    expect(fired.length, `one callback (in the queue: ${shown(fired)})`).toBe(1);
    expect(fired[0]!.args[0], "a member's first result stays: the second run of #0 changes nothing").toEqual([
      'a',
      'b',
      'c',
    ]);
  });

  it('07.1 a member delivered again after the callback went changes nothing', async () => {
    const { name, members, callbacks } = await madeChord(3);
    const c = coordination(name);
    for (const i of [0, 1, 2]) await joinMember(c, members, i, i);
    expect((await callbacks()).length, 'the callback went once all three joined').toBe(1);
    // A worker stalled past its lease with all three held: another ran them again, and both runs join.
    const replies = [];
    for (const i of [0, 1, 2]) replies.push(await joinMember(c, members, i, i));
    replies.push(await joinMember(c, members, 1, 'a late failure', true));
    const fired = await callbacks();
    expect(
      fired.length,
      `every member joined again after the callback went, and the callback was enqueued ${fired.length} times (${shown(fired)}): once decided, a chord lets nothing in (its results are gone by then, so they would count as new)`,
    ).toBe(1);
    expect(replies, 'a chord decided before answers 4 to every later join: nothing changed').toEqual([
      'decided-before',
      'decided-before',
      'decided-before',
      'decided-before',
    ]);
  });

  it('07.1 the worker dies right after the join that counted the last member: the callback is in the queue, once', async () => {
    const { name, members, callbacks } = await madeChord(3);
    const healthy = coordination(name);
    await joinMember(healthy, members, 0, 1);
    await joinMember(healthy, members, 1, 2);
    // The dying worker: its connection sends nothing after the join script's answer, as if killed right there,
    // between the join and the ack (and before anything else it would have sent).
    const dying = killable(`mq:${name}:coordination`);
    let joined = false;
    const doomed = new Coordination({ queue: name, track });
    undos.push(() => doomed.close());
    try {
      await doomed
        .settled(members[2]!, success(members[2]!, 3))
        .then(() => {
          joined = true;
        })
        .finally(() => dying.kill());
    } finally {
      dying.undo();
    }
    expect(joined, 'the last member joined').toBe(true);
    const now = await callbacks();
    expect(
      now.length,
      'the worker died right after the join that counted the last member, and no callback was in the queue: count, "was it the last?" and the enqueue must be one step, the same script',
    ).toBe(1);
    // Its message was never acked: it comes back, runs again and joins again, on another worker.
    await joinMember(coordination(name), members, 2, 3);
    const fired = await callbacks();
    expect(fired.length, `the redelivered last member changes nothing (callbacks: ${shown(fired)})`).toBe(1);
    expect(fired[0]!.args[0]).toEqual([1, 2, 3]);
  });

  it('07.1 a member that fails for good fails the chord: the callback never runs, and its result says which member', async () => {
    const { name, queue, chord, members, callbacks } = await madeChord(3);
    const c = coordination(name);
    expect(await joinMember(c, members, 0, 0)).toBe('counted');
    const failed = await joinMember(c, members, 1, 'no luck', true);
    const after = await joinMember(c, members, 2, 4);
    const fired = await callbacks();
    expect(
      fired.length,
      `member #1 failed for good, yet the callback was enqueued (with ${shown(fired)}): a failure fails the chord, it is no result`,
    ).toBe(0);
    expect(failed, 'a member that failed for good answers 3').toBe('failed');
    expect(after, 'after a failure the chord is decided: a member joining later answers 4').toBe(
      'decided-before',
    );
    const error = await queue
      .handle(chord.id)
      .result({ timeout: 2000 })
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(
      error?.message ?? 'the callback succeeded',
      "the callback's result says the chord failed, and why",
    ).toMatch(/member #1 .*failed: Error: no luck; the callback never runs/);
  });

  it('07.1 a member that succeeded stays counted when a second run of it fails', async () => {
    const { name, members, callbacks } = await madeChord(2);
    const c = coordination(name);
    await joinMember(c, members, 0, 'first run');
    // Its worker died after the join; the member ran again, and this time it failed for good.
    expect(
      await joinMember(c, members, 0, 'second run failed', true),
      'member #0 succeeded and was counted: its failed second run changes nothing (0), it does not fail the chord',
    ).toBe('counted-before');
    expect(await joinMember(c, members, 1, 'b')).toBe('fired');
    expect((await callbacks()).map((e) => e.args[0])).toEqual([['first run', 'b']]);
  });

  it('07.1 members finishing at one instant on several workers: the callback runs once, every time', async () => {
    const name = queueName();
    const queue = new Queue({ name });
    undos.push(() => queue.close());
    const size = 4;
    const rounds = 3;
    const runs: TaskRun[] = [];
    const workers: Worker[] = [];
    undos.push(() => Promise.all(workers.map((w) => w.stop())));
    for (let i = 0; i < size; i++) {
      const worker = await Worker.start({
        queue: name,
        tasksPath: TASKS,
        track: { coordination: track },
        blockMs: 100,
      });
      workers.push(worker);
      worker.on('task', (run) => runs.push(run));
    }
    for (let round = 0; round < rounds; round++) {
      // Each worker holds one member (one slot each) and all of them return at the same moment: their joins reach
      // Redis together, on four connections.
      const at = Date.now() + 300;
      const chord = await queue.chord(
        Array.from({ length: size }, (_, i) => sig('until', at, i)),
        sig('collect'),
      );
      // A member is reported once acked, and it joins before its ack: once all are reported, the callback is in
      // the queue (or running, or done), or nothing will ever enqueue it. No need to wait for a time-out.
      const ids = new Set(chord.members.ids);
      await within(
        Promise.race([
          until(() => runs.filter((r) => ids.has(r.id)).length >= size, 20_000, 'the members to run'),
          stopped(workers),
        ]),
        25_000,
        `round ${round + 1}'s members`,
      );
      expect(
        await enqueued(name, chord.id),
        `round ${round + 1}: all ${size} members ran and joined, and no callback was in the queue: the join that counts the last member enqueues it`,
      ).toBe(true);
      const results = await within(
        Promise.race([chord.get({ timeoutMs: 20_000 }), stopped(workers)]),
        25_000,
        `round ${round + 1}'s callback`,
      );
      expect(results, 'every result, in member order').toEqual([0, 1, 2, 3]);
    }
    // A second callback would still be waiting or running: wait for the queue to be empty first.
    await until(
      async () => {
        const s = await queue.stats();
        return s.waiting === 0 && s.active === 0;
      },
      15_000,
      'the queue to be empty',
    );
    const callbacks = runs.filter((r) => r.task === 'collect');
    expect(
      callbacks.length,
      `${rounds} chords whose members finished at one instant on ${size} workers ran ${callbacks.length} callbacks: two joins at once each saw the last member`,
    ).toBe(rounds);
  });

  it('07.1 a chord over 3 worker processes, one killed with kill -9 mid-run: one callback, every result in member order', {
    timeout: 90_000,
  }, async () => {
    const name = queueName();
    const queue = new Queue({ name });
    undos.push(() => queue.close());
    const dir = mkdtempSync(pathJoin(tmpdir(), 'check-07-'));
    undos.push(() => rmSync(dir, { recursive: true, force: true }));
    const next = chaosRandom();
    const seed = chaosSeedOfRun();
    const runs: Array<TaskRun & { worker: string }> = [];
    const onEvent = (event: ChildEvent, from: string) => {
      if (event.type === 'task') runs.push({ ...event.run, worker: from });
    };
    const workers: LabProcess[] = [1, 2, 3].map((i) =>
      startWorkerProcess(`worker-${i}`, { queue: name, track, concurrency: 2, visibilityMs: 1000 }, onEvent),
    );
    undos.push(() => Promise.all(workers.map((w) => w.stop())));
    const failed = Promise.race(workers.map((w) => w.failed));
    await within(
      Promise.race([Promise.all(workers.map((w) => w.ready)), failed]),
      60_000,
      'the workers to start',
    );

    const members = 36;
    // One member stalls its worker past its lease on its first run: another worker runs it too, and both runs
    // finish and join while the last member, a slow one, is still out (a count of joins would reach n early). The
    // kill lands where the seed says, once a quarter to a half of the members have run, on a worker the seed picks
    // among those not stalled.
    const stalled = Math.floor(next() * 6);
    const marker = pathJoin(dir, 'stall');
    const ms = (i: number) => (i === members - 1 ? 2600 : 60);
    const chord = await queue.chord(
      Array.from({ length: members }, (_, i) =>
        sig('square', i, ms(i), ...(i === stalled ? [marker, 1800] : [])),
      ),
      sig('collect'),
    );
    const ids = new Set(chord.members.ids);
    const ran = () => new Set(runs.filter((run) => ids.has(run.id)).map((run) => run.id)).size;
    const share = 0.25 + next() * 0.25;
    await within(
      Promise.race([
        until(() => ran() >= members * share && existsSync(marker), 45_000, 'the members to run'),
        failed,
      ]),
      50_000,
      `${Math.ceil(members * share)} members to run`,
    );
    expect(await enqueued(name, chord.id), 'the kill came before the chord was done').toBe(false);
    const staller = Number(readFileSync(marker, 'utf8'));
    const others = workers.filter((w) => w.pid !== staller);
    const victim = others[Math.floor(next() * others.length)]!;
    await victim.kill();
    const survivors = workers.filter((w) => w !== victim);
    // Every member ran and was acked (so joined) at least once: the callback is enqueued by now, or never will be.
    // Read from their results, not from what the workers said: the killed one's last words may not have arrived.
    await within(
      Promise.race([chord.members.get({ timeoutMs: 45_000 }), ...survivors.map((w) => w.failed)]),
      50_000,
      'every member to run',
    );
    expect(
      await enqueued(name, chord.id),
      `every member ran and joined, and no callback was in the queue: the join that counts the last member enqueues it (${victim.name} killed with kill -9, seed ${seed})`,
    ).toBe(true);
    const results = await within(
      Promise.race([chord.get({ timeoutMs: 45_000 }), ...survivors.map((w) => w.failed)]),
      50_000,
      'the callback',
    );
    await until(
      async () => {
        const s = await queue.stats();
        return s.waiting === 0 && s.active === 0;
      },
      15_000,
      'the queue to be empty',
    );
    const callbacks = runs.filter((run) => run.task === 'collect' && run.state === 'SUCCESS');
    const perMember = new Map<string, number>();
    for (const run of runs)
      if (run.task === 'square') perMember.set(run.id, (perMember.get(run.id) ?? 0) + 1);
    const twice = [...perMember.values()].filter((n) => n > 1).length;
    record('chord members that finished twice (a stall past the lease)', twice);
    const context = `${victim.name} killed with kill -9 (seed ${seed}); ${twice} members finished twice`;
    expect(callbacks.length, `the callback ran ${callbacks.length} times: ${context}`).toBe(1);
    expect(results, `every result in member order: ${context}`).toEqual(
      Array.from({ length: members }, (_, i) => i * i),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 07.2 beat: once per tick

/** The message and guard of one tick of entry `ping`, as a beat makes them. */
function tickOf(name: string, tick: number) {
  const id = `ping@${new Date(tick).toISOString()}`;
  return {
    raw: encodeEnvelope(createEnvelope('tick', [], { id })),
    guard: queueKey(name, 'beat', 'ping', tick),
    waiting: queueKeys(name).waiting,
  };
}

/** The tick times (epoch ms) of the messages of entry `ping` in the queue, in order. */
async function enqueuedTicks(name: string): Promise<number[]> {
  return (await waiting(await redis(), name))
    .filter((e) => e.id.startsWith('ping@'))
    .map((e) => Date.parse(e.id.slice('ping@'.length)))
    .sort((a, b) => a - b);
}

/** Ticks enqueued twice, and ticks missing between the first and the last (every `periodMs`). */
function twiceAndMissing(ticks: number[], periodMs: number): { twice: number[]; missing: number[] } {
  const twice = ticks.filter((t, i) => ticks[i - 1] === t);
  const missing: number[] = [];
  for (let i = 1; i < ticks.length; i++) {
    for (let t = ticks[i - 1]! + periodMs; t < ticks[i]!; t += periodMs) missing.push(t);
  }
  return { twice, missing };
}

const iso = (ticks: number[]) =>
  ticks
    .slice(0, 5)
    .map((t) => new Date(t).toISOString().slice(11, 23))
    .join(', ') + (ticks.length > 5 ? `, … (${ticks.length})` : '');

const EVERY_MS = 100;

/** Beats on one queue, every 100 ms, each with its own id and a connection that can be killed. */
async function startBeats(name: string, count: number) {
  const beats: Array<{ beat: Beat; line: ReturnType<typeof killable>; latest: number }> = [];
  undos.push(() => Promise.all(beats.map((b) => b.beat.stop())));
  for (let i = 1; i <= count; i++) {
    const line = killable(`mq:${name}:beat`);
    try {
      const beat = await Beat.start({
        schedule: checkSchedule([{ name: 'ping', task: 'tick', every: `${EVERY_MS}ms` }]),
        queue: name,
        track,
        id: `beat-${i}`,
      });
      const started = { beat, line, latest: 0 };
      // The latest tick this beat enqueued itself, by its own account (whatever its script keeps in Redis).
      beat.on('tick', (tick) => {
        if (tick.outcome === 'enqueued') started.latest = Math.max(started.latest, tick.tick);
      });
      beat.on('warning', () => {});
      beats.push(started);
    } finally {
      line.undo();
    }
  }
  return beats;
}

describe('07.2 beat', () => {
  it('07.2 claims a tick and pushes its message in one step: the first try enqueues it, every later try finds it taken', async () => {
    const name = queueName();
    const lua = await scripts();
    const r = await redis();
    const tick = Math.floor((await redisNow()) / EVERY_MS) * EVERY_MS;
    const t = tickOf(name, tick);
    const keepUntil = tick + 30_000;
    const first = await lua.run('beat-tick', [t.guard, t.waiting], [t.raw, 'beat-a', keepUntil]);
    expect(first, 'the first try of a tick enqueues it: 1').toBe(1);
    expect(await r.lrange(t.waiting, 0, -1), 'the first try pushed the tick’s message').toEqual([t.raw]);
    expect(await r.get(t.guard), 'the guard names the beat that claimed the tick (ARGV[2])').toBe('beat-a');
    const second = await lua.run('beat-tick', [t.guard, t.waiting], [t.raw, 'beat-b', keepUntil]);
    const third = await lua.run('beat-tick', [t.guard, t.waiting], [t.raw, 'beat-a', keepUntil]);
    const pushed = await r.llen(t.waiting);
    expect(
      pushed,
      `three beats tried one tick and it was enqueued ${pushed} times: only the first try may claim the tick (set the guard only if it is not there) and push`,
    ).toBe(1);
    expect([second, third], 'a try that finds the tick taken answers 0').toEqual([0, 0]);
    expect(await r.get(t.guard), 'the guard still names the first beat: a later try changes nothing').toBe(
      'beat-a',
    );
  });

  it('07.2 keeps the guard as long as a beat may still try the tick (until ARGV[3]), then lets it go', async () => {
    const name = unsweptQueueName();
    const lua = await scripts();
    const r = await redis();
    const before = await redisNow();
    const tick = Math.floor(before / EVERY_MS) * EVERY_MS;
    const t = tickOf(name, tick);
    const keepUntil = Math.round(before) + 20_000;
    expect(await lua.run('beat-tick', [t.guard, t.waiting], [t.raw, 'beat-a', keepUntil])).toBe(1);
    const ttl = await r.pttl(t.guard);
    const after = await redisNow();
    await r.expire(t.waiting, 60);
    if (ttl === -1) await r.expire(t.guard, 60);
    expect(
      ttl,
      'the guard must expire by itself (a tick’s guard kept for ever is a key per tick, for ever)',
    ).toBeGreaterThan(0);
    expect(
      ttl,
      `the guard must last until ARGV[3] (${Math.round(keepUntil - after)} ms from now): a beat that tries the tick later (it woke late and catches up) would find no guard and enqueue it a second time; it lasts ${ttl} ms`,
    ).toBeGreaterThanOrEqual(keepUntil - after - 50);
    expect(ttl, 'and no longer than that').toBeLessThanOrEqual(keepUntil - before + 5);
  });

  it('07.2 three beats on the same ticks: each tick enqueued once, none skipped', async () => {
    const name = queueName();
    const beats = await startBeats(name, 3);
    await within(
      Promise.race([
        until(async () => (await enqueuedTicks(name)).length >= 12, 20_000, '12 ticks enqueued'),
        stopped(beats.map((b) => b.beat)),
      ]),
      25_000,
      '12 ticks to be enqueued by three beats',
    );
    await Promise.all(beats.map((b) => b.beat.stop()));
    const ticks = await enqueuedTicks(name);
    const { twice, missing } = twiceAndMissing(ticks, EVERY_MS);
    const counts = beats.map(
      (b) => `${b.beat.id}: ${b.beat.counts.enqueued} enqueued, ${b.beat.counts.taken} taken`,
    );
    expect(
      twice,
      `three beats tried every tick, and these were enqueued more than once: ${iso(twice)} (${counts.join('; ')})`,
    ).toEqual([]);
    expect(missing, `ticks no beat enqueued: ${iso(missing)} (${counts.join('; ')})`).toEqual([]);
  });

  it('07.2 a beat killed mid-run loses at most one tick: the others go on at once', async () => {
    const name = queueName();
    const beats = await startBeats(name, 2);
    await within(
      Promise.race([
        until(async () => (await enqueuedTicks(name)).length >= 5, 20_000, '5 ticks enqueued'),
        stopped(beats.map((b) => b.beat)),
      ]),
      25_000,
      '5 ticks to be enqueued',
    );
    // The leading beat: the one that enqueued the latest tick. Its connection dies now: nothing it sends after
    // this reaches Redis, as after a kill -9.
    const victim = beats.reduce((a, b) => (b.latest > a.latest ? b : a));
    const killedAt = await redisNow();
    const killedWall = Date.now();
    victim.line.kill();
    const survivor = beats.find((b) => b !== victim)!;
    // A second of ticks after the kill, or four seconds, whichever comes first: a beat that waits for the dead
    // one (a leader's lease) enqueues nothing meanwhile.
    const deadline = Date.now() + 4000;
    await within(
      Promise.race([
        until(
          async () => ((await enqueuedTicks(name)).at(-1) ?? 0) >= killedAt + 1000 || Date.now() > deadline,
          20_000,
          'a second of ticks after the kill',
        ),
        stopped([survivor.beat]),
      ]),
      25_000,
      'the beat left to go on',
    );
    await Promise.all(beats.map((b) => b.beat.stop()));
    const ticks = await enqueuedTicks(name);
    const { twice, missing } = twiceAndMissing(ticks, EVERY_MS);
    const last = ticks.at(-1)!;
    const context = `${victim.beat.id} killed at ${iso([killedAt])}; ticks ${iso([ticks[0]!])} to ${iso([last])}`;
    const lost = `the beat left must enqueue the next tick itself, not wait for the dead one (a leader's lease); ${context}`;
    expect(
      last,
      `after ${victim.beat.id} was killed, no tick was enqueued for ${Math.round(Date.now() - killedWall)} ms: ${lost}`,
    ).toBeGreaterThanOrEqual(killedAt + 500);
    expect(
      missing.length,
      `after ${victim.beat.id} was killed, ${missing.length} ticks were never enqueued (${iso(missing)}): ${lost}`,
    ).toBeLessThanOrEqual(1);
    expect(twice, `enqueued twice: ${iso(twice)}; ${context}`).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 07.3 the shared rate limiter

/** Asks for a start of message `id` of a task limited to one start per `interval` ms; all asks in one step. */
async function ask(name: string, ids: string[], interval = LIMITED_INTERVAL_MS): Promise<number[]> {
  const keys = [queueKey(name, 'rate', 'limited'), queueKey(name, 'rate-booked', 'limited')];
  const replies = await (await scripts()).runEach(
    'rate-limit',
    [],
    ids.map((id) => ({ keys, args: [interval, id] })),
  );
  for (const reply of replies) {
    if (typeof reply !== 'number' || !Number.isInteger(reply) || reply < 0) {
      throw new Error(`rate-limit-2.lua must answer 0 or a number of ms > 0, got ${JSON.stringify(reply)}`);
    }
  }
  return replies as number[];
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** What ten asks at one instant must get: 0, then one interval apart (give or take the rounding up). */
function expectSpaced(replies: number[], what: string): void {
  expect(replies[0], `${what}: the first may start now (0); the replies were ${replies.join(', ')}`).toBe(0);
  const off = replies.filter((w, k) => Math.abs(w - k * LIMITED_INTERVAL_MS) > 2);
  expect(
    off,
    `${what} at '10/s': one may start now, the next 100 ms later, then 200, …; they were told to wait ${replies.join(', ')} ms`,
  ).toEqual([]);
}

describe('07.3 the rate limiter', () => {
  it('07.3 hands out one start per interval: ten asks at one instant get 0, 100, 200, … 900 ms', async () => {
    const name = queueName();
    expectSpaced(await ask(name, ids('m', 10)), 'ten messages of one task asked at one instant');
  });

  it('07.3 saves up no burst: after an idle spell, ten asks at one instant still get one start now', async () => {
    const name = queueName();
    expect(await ask(name, ['first']), 'the first ask of a task starts at once').toEqual([0]);
    // Idle for more than ten intervals: no start was taken meanwhile, and none may be saved up.
    await pause(1100);
    expectSpaced(
      await ask(name, ids('m', 10)),
      'after 1.1 s without a start, ten messages asked at one instant',
    );
  });

  it('07.3 a message that comes back keeps its booking: early, it waits again for the same start; due, it starts once', async () => {
    const name = queueName();
    const [a, b] = await ask(name, ['a', 'b']);
    expect([a, b], 'a starts now, b is booked one interval later').toEqual([0, LIMITED_INTERVAL_MS]);
    // b comes back early (a promotion run early, a clock ahead of Redis's), and c asks right after it.
    // (Twenty more book the starts after c's: the next free start stays seconds ahead, however busy the machine.)
    const [bAgain, c] = await ask(name, ['b', 'c', ...ids('later', 20)]);
    expect(
      bAgain,
      `b came back before its start: it must wait again for the start booked for it, not start now (0) and not book another (that would put it behind c, and again behind whatever comes next); it was told ${bAgain} ms, after ${b} ms the first time`,
    ).toBeGreaterThan(0);
    expect(
      bAgain,
      `b keeps its one booking: it was told ${bAgain} ms, after ${b} ms the first time`,
    ).toBeLessThanOrEqual(b!);
    expect(
      c! - bAgain!,
      `c gets the start after b's, one interval later: b took no second start (b ${bAgain} ms, c ${c} ms)`,
    ).toBeGreaterThanOrEqual(LIMITED_INTERVAL_MS - 2);
    expect(c! - bAgain!).toBeLessThanOrEqual(LIMITED_INTERVAL_MS + 2);
    await pause(bAgain! + 20);
    expect(await ask(name, ['b']), 'b comes back after its start: it starts (0)').toEqual([0]);
    const [bThird] = await ask(name, ['b']);
    expect(
      bThird,
      'b asked once more after it started (a redelivery): its booking was used up, so it is a new ask and waits its turn, behind c',
    ).toBeGreaterThan(0);
  });

  it("07.3 three workers share one '10/s': no start before its turn, the limited wait in the delayed set, an unlimited task runs meanwhile", async () => {
    const name = queueName();
    const queue = new Queue({ name });
    undos.push(() => queue.close());
    const runs: TaskRun[] = [];
    const workers: Worker[] = [];
    undos.push(() => Promise.all(workers.map((w) => w.stop())));
    for (let i = 0; i < 3; i++) {
      const worker = await Worker.start({
        queue: name,
        tasksPath: TASKS,
        track: { coordination: track },
        blockMs: 100,
      });
      workers.push(worker);
      worker.on('task', (run) => runs.push(run));
    }
    const count = 20;
    const from = await redisNow();
    await queue.enqueueMany(
      'limited',
      Array.from({ length: count }, () => []),
    );
    const started = () => runs.filter((run) => run.task === 'limited').length;
    await within(
      Promise.race([until(() => started() >= 3, 20_000, 'three limited starts'), stopped(workers)]),
      25_000,
      'the limited tasks to start',
    );
    const k = queueKeys(name);
    const r = await redis();
    // One snapshot: the three places a message not started yet can be.
    const snapshot = (await r.multi().zcard(k.delayed).llen(k.waiting).llen(k.active).exec()) ?? [];
    const [delayed, waitingNow, active] = snapshot.map(([, n]) => Number(n));
    const startedThen = started();
    const free = await queue.enqueue('free', []);
    await within(
      Promise.race([
        until(
          () => started() >= count && runs.some((run) => run.id === free.id),
          30_000,
          'every task to run',
        ),
        stopped(workers),
      ]),
      35_000,
      'every task to run',
    );
    const starts = runs
      .filter((run) => run.task === 'limited')
      .map((run) => run.startedAt)
      .sort((x, y) => x - y);
    const early = starts.flatMap((at, i) =>
      at < from + i * LIMITED_INTERVAL_MS - 2 ? [`#${i} at +${Math.round(at - from)} ms`] : [],
    );
    const gaps = starts.slice(1).map((at, i) => Math.round(at - starts[i]!));
    expect(
      early,
      `${count} limited tasks enqueued at once on three workers at '10/s' in all: the i-th start may come no sooner than i × 100 ms after the enqueue; these came early (gaps between starts, ms: ${gaps.join(' ')})`,
    ).toEqual([]);
    // Held in a slot until its turn, a limited message would keep the three slots busy and the rest in waiting,
    // behind them (14 or so here). Put off, it waits in the delayed set, and the slots take whatever comes: one
    // message each in flight at most, and in waiting only those just promoted or not asked yet (a busy machine).
    const seen = `with ${startedThen} of ${count} started: delayed ${delayed}, waiting ${waitingNow}, in flight ${active}`;
    expect(
      waitingNow,
      `${seen}: the limited messages must wait for their turn in the delayed set, not in the queue behind slots held by others waiting for theirs`,
    ).toBeLessThanOrEqual(5);
    if (count - startedThen >= 5)
      expect(
        delayed,
        `${seen}: a limited message waits in Redis's delayed set, not in a worker's slot`,
      ).toBeGreaterThan(0);
    const freeRun = runs.find((run) => run.id === free.id)!;
    expect(
      freeRun.startedAt,
      `the unlimited task must run while limited ones still wait for their turn: it started at +${Math.round(freeRun.startedAt - from)} ms, the last limited at +${Math.round(starts.at(-1)! - from)} ms`,
    ).toBeLessThan(starts.at(-1)!);
  });
});
