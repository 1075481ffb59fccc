/**
 * Canvas on real Redis with in-process workers: group, chain, chord, and the chord join under the two races that
 * break counters: a member delivered twice, and members finishing at one instant on several workers. The kill -9
 * drill over worker processes is chord-drill.test.ts.
 */
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResultRecord } from '../mini-queue/broker.ts';
import { sig } from '../mini-queue/canvas.ts';
import {
  CanvasTimeoutError,
  ChainFailedError,
  ChordFailedError,
  GroupFailedError,
} from '../mini-queue/canvas-handles.ts';
import { Coordination } from '../mini-queue/coordination.ts';
import { decodeEnvelope, type Envelope } from '../mini-queue/envelope.ts';
import { queueKeys } from '../mini-queue/keys.ts';
import { Queue } from '../mini-queue/queue.ts';
import { decorateConnections } from '../mini-queue/redis/client.ts';
import { type TaskRun, Worker, type WorkerOptions } from '../mini-queue/worker.ts';
import { run } from './helpers/cli.ts';
import { loadStretch } from './helpers/load.ts';
import { until, useQueues } from './helpers/queues.ts';

const TASKS = fileURLToPath(new URL('./fixtures/canvas-tasks.ts', import.meta.url));
const queues = useQueues('canvas');
const workers: Worker[] = [];
const producers: Queue[] = [];
const coordinations: Coordination[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await Promise.all(producers.splice(0).map((q) => q.close()));
  await Promise.all(coordinations.splice(0).map((c) => c.close()));
});

function producer(name: string): Queue {
  const queue = new Queue({ name });
  producers.push(queue);
  return queue;
}

/** `count` in-process workers on one queue, and every run any of them reports. */
async function startWorkers(name: string, count = 1, options: WorkerOptions = {}) {
  const runs: TaskRun[] = [];
  for (let i = 0; i < count; i++) {
    const worker = await Worker.start({
      queue: name,
      tasksPath: TASKS,
      blockMs: 100,
      retryBackoffMs: 20,
      ...options,
    });
    workers.push(worker);
    worker.on('task', (run) => runs.push(run));
  }
  return runs;
}

function coordination(name: string): Coordination {
  const c = new Coordination({ queue: name });
  coordinations.push(c);
  return c;
}

/** What waits in the queue, decoded: with no worker running, the members of a chord just made. */
async function waiting(redis: Redis, name: string): Promise<Envelope[]> {
  const raws = await redis.lrange(queueKeys(name).waiting, 0, -1);
  return raws.reverse().map((raw) => {
    const decoded = decodeEnvelope(raw);
    if (!decoded.ok) throw new Error(decoded.reason);
    return decoded.envelope;
  });
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

describe('group', () => {
  it('gives the results in member order, whichever finishes first', async () => {
    const name = queues.name();
    const queue = producer(name);
    await startWorkers(name, 1, { pool: 'event-loop', concurrency: 4 });
    const group = await queue.group([sig('square', 3, 60), sig('square', 4, 0), sig('add', 1, 2)]);
    expect(group.ids).toHaveLength(3);
    expect(await group.get({ timeoutMs: 10_000 })).toEqual([9, 16, 3]);
  });

  it('names every member that failed, with its error, and keeps the others results', async () => {
    const name = queues.name();
    const queue = producer(name);
    await startWorkers(name);
    const group = await queue.group([sig('boom', 'first'), sig('add', 1, 1), sig('boom', 'third')]);
    const error = await group.get({ timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GroupFailedError);
    const failed = error as GroupFailedError;
    expect(failed.failures.map((f) => [f.index, f.task, f.error.message])).toEqual([
      [0, 'boom', 'first'],
      [2, 'boom', 'third'],
    ]);
    expect(failed.results).toEqual([undefined, 2, undefined]);
    expect(failed.message).toMatch(/^2 of 3 group members failed: #0 boom \(.*\): Error: first; #2 boom/);
  });

  it('times out naming the members still out; an empty group is []', async () => {
    const name = queues.name();
    const queue = producer(name);
    const group = await queue.group([sig('add', 1, 2)]);
    await expect(group.get({ timeoutMs: 200 })).rejects.toThrow(
      new CanvasTimeoutError(
        `group: 1 of 1 members not finished within 200 ms: #0 add (${group.ids[0]}) PENDING. Is a worker running on this queue?`,
      ),
    );
    expect(await (await queue.group([])).get({ timeoutMs: 100 })).toEqual([]);
  });

  it('refuses what is not a signature, in one line naming where', async () => {
    const queue = producer(queues.name());
    await expect(queue.group([sig('add', 1), 'add' as never])).rejects.toThrow(
      'group member #1 must be a signature { task, args?, options? }, e.g. sig(\'fib\', 20), got "add"',
    );
    await expect(queue.chain([])).rejects.toThrow('a chain needs at least one signature');
    await expect(
      queue.chord([{ task: 'add', args: [1], options: { countdown: 5 } as never }], sig('collect')),
    ).rejects.toThrow(
      'chord member #0 (add): a signature takes the options maxRetries and timeout, got countdown',
    );
  });
});

describe('chain', () => {
  it('passes each result as the next first argument', async () => {
    const name = queues.name();
    const queue = producer(name);
    await startWorkers(name);
    const chain = await queue.chain([sig('add', 1, 2), sig('add', 10), sig('square')]);
    expect(await chain.get({ timeoutMs: 10_000 })).toBe(169);
    // Each link's own result is kept under its id, like any task's.
    expect(await queue.handle(chain.ids[1]!).result()).toBe(13);
  });

  it('stops at the link that failed and says which; the links after it never run', async () => {
    const name = queues.name();
    const queue = producer(name);
    const runs = await startWorkers(name);
    const chain = await queue.chain([sig('add', 1, 2), sig('boom'), sig('add', 1)]);
    const error = await chain.get({ timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChainFailedError);
    expect((error as ChainFailedError).link).toBe(1);
    expect((error as Error).message).toBe(
      `chain link #1 of 3 (boom ${chain.ids[1]}) failed: Error: 3; the links after it never ran`,
    );
    expect(await queue.handle(chain.ids[2]!).state()).toBe('PENDING');
    await until(() => runs.length >= 2);
    expect(runs.map((r) => r.task)).toEqual(['add', 'boom']);
    expect((await queue.stats()).waiting).toBe(0);
  });

  it('enqueues the next link once when a link is settled twice (a redelivery)', async () => {
    const name = queues.name();
    const queue = producer(name);
    const redis = await queues.redis();
    await queue.chain([sig('add', 1, 2), sig('add', 10)]);
    const [first] = await waiting(redis, name);
    await redis.del(queueKeys(name).waiting);
    const c = coordination(name);
    expect(await c.settled(first!, success(first!, 3))).toEqual({ next: true });
    expect(await c.settled(first!, success(first!, 3))).toEqual({ next: false });
    const next = await waiting(redis, name);
    expect(next.map((e) => [e.task, e.args, e.chain])).toEqual([['add', [3, 10], undefined]]);
  });
});

describe('chord', () => {
  it('runs the callback once, with every result in member order', async () => {
    const name = queues.name();
    const queue = producer(name);
    const runs = await startWorkers(name, 2, { pool: 'event-loop', concurrency: 4 });
    // Later members finish first: the order is the members', not the finishing order.
    const members = Array.from({ length: 8 }, (_, i) => sig('square', i, (8 - i) * 10));
    const chord = await queue.chord(members, sig('collect'));
    expect(await chord.get({ timeoutMs: 10_000 })).toEqual({ count: 8, sum: 140 });
    // The result is in Redis the moment the ack lands; the worker reports the run a turn later.
    await until(() => runs.some((r) => r.task === 'collect'));
    const callbacks = runs.filter((r) => r.task === 'collect');
    expect(callbacks).toHaveLength(1);
    expect(callbacks[0]!.id).toBe(chord.id);
    expect(await chord.members.get()).toEqual([0, 1, 4, 9, 16, 25, 36, 49]);
    // The results went into the callback's message; the chord keeps only how it ended.
    const redis = await queues.redis();
    expect(await redis.exists(queueKeys(name).chordResults(chord.id))).toBe(0);
    expect(await redis.hget(queueKeys(name).chord(chord.id), 'state')).toBe('fired');
  });

  it("passes the callback's own arguments after the results", async () => {
    const name = queues.name();
    const queue = producer(name);
    await startWorkers(name);
    const chord = await queue.chord([sig('add', 1, 2), sig('add', 3, 4)], sig('label', 'total'));
    expect(await chord.get({ timeoutMs: 10_000 })).toBe('total: 3 + 7');
  });

  it('fails when a member fails for good: the callback never runs, and its result says which member', async () => {
    const name = queues.name();
    const queue = producer(name);
    const runs = await startWorkers(name);
    const chord = await queue.chord([sig('add', 1, 1), sig('boom', 'no'), sig('add', 2, 2)], sig('collect'));
    const error = await chord.get({ timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChordFailedError);
    const memberId = chord.members.ids[1];
    expect((error as Error).message).toBe(
      `chord ${chord.id} (callback collect) failed: member #1 (boom ${memberId}) failed: Error: no; the callback never runs`,
    );
    // Read as any task: the callback's own record says it.
    await expect(queue.handle(chord.id).result({ timeout: 1000 })).rejects.toThrow('the callback never runs');
    await until(() => runs.length === 3);
    expect(runs.filter((r) => r.task === 'collect')).toEqual([]);
  });

  it('joins only a final outcome: a member that fails, then succeeds on its retry, counts as a success', async () => {
    const name = queues.name();
    const queue = producer(name);
    const runs = await startWorkers(name);
    const chord = await queue.chord(
      [{ task: 'flaky', args: [5], options: { maxRetries: 1 } }, sig('add', 1, 1)],
      sig('collect'),
    );
    expect(await chord.get({ timeoutMs: 10_000 })).toEqual({ count: 2, sum: 7 });
    await until(() => runs.length >= 4);
    expect(runs.map((r) => r.state).sort()).toEqual(['RETRY', 'SUCCESS', 'SUCCESS', 'SUCCESS']);
  });

  it('an empty chord runs its callback with no results', async () => {
    const name = queues.name();
    const queue = producer(name);
    await startWorkers(name);
    expect(await (await queue.chord([], sig('collect'))).get({ timeoutMs: 10_000 })).toEqual({
      count: 0,
      sum: 0,
    });
  });

  it('says how far it got when it times out', async () => {
    const name = queues.name();
    const queue = producer(name);
    const chord = await queue.chord([sig('add', 1, 1), sig('add', 2, 2)], sig('collect'));
    const [first] = await waiting(await queues.redis(), name);
    await coordination(name).settled(first!, success(first!, 2));
    await expect(chord.get({ timeoutMs: 150 })).rejects.toThrow(
      `chord ${chord.id}: no result within 150 ms: 1 of 2 members joined. Is a worker running on this queue?`,
    );
  });
});

describe('the chord join (solutions/07-coordination/lua/chord-join-4.lua)', () => {
  /** A chord of `n` add members, made with no worker running, and its members' messages. */
  async function made(n: number) {
    const name = queues.name();
    const queue = producer(name);
    const redis = await queues.redis();
    const chord = await queue.chord(
      Array.from({ length: n }, (_, i) => sig('add', i, 0)),
      sig('collect'),
    );
    const members = await waiting(redis, name);
    await redis.del(queueKeys(name).waiting);
    /** The callback messages in waiting: each one a run of the callback. */
    const callbacks = async () => (await waiting(redis, name)).filter((e) => e.id === chord.id);
    return { name, queue, redis, chord, members, callbacks };
  }

  it('counts a member delivered twice once, and fires once, on the last distinct member', async () => {
    const { name, members, callbacks } = await made(3);
    const c = coordination(name);
    const [a, b, last] = members as [Envelope, Envelope, Envelope];
    expect(await c.settled(a, success(a, 'a'))).toEqual({ join: 'counted' });
    // A redelivered member runs again and joins again (its first result stays): an INCR counter would say 2 here.
    expect(await c.settled(a, success(a, 'a again'))).toEqual({ join: 'counted-before' });
    expect(await c.settled(b, success(b, 'b'))).toEqual({ join: 'counted' });
    expect(await callbacks()).toEqual([]);
    expect(await c.settled(last, success(last, 'c'))).toEqual({ join: 'fired' });
    // And once more after the callback went: its results are dropped by then, the chord's state still says no.
    expect(await c.settled(last, success(last, 'c'))).toEqual({ join: 'decided-before' });
    expect(await c.settled(a, failure(a, 'late'))).toEqual({ join: 'decided-before' });
    const fired = await callbacks();
    expect(fired.map((e) => e.args)).toEqual([[['a', 'b', 'c']]]);
  });

  it('fires once when the worker of the last member dies right after its join', async () => {
    const { name, members, callbacks } = await made(3);
    const [a, b, last] = members as [Envelope, Envelope, Envelope];
    const healthy = coordination(name);
    await healthy.settled(a, success(a, 1));
    await healthy.settled(b, success(b, 2));
    // The dying worker: its connection sends nothing after the join script's reply, as if killed right there.
    let dead = false;
    const undecorate = decorateConnections((client, connection) => {
      if (connection !== `mq:${name}:coordination`) return;
      const send = client.sendCommand.bind(client);
      client.sendCommand = ((command: {
        name: string;
        reject: (e: Error) => void;
        promise: Promise<unknown>;
      }) => {
        if (dead) {
          command.reject(new Error('the worker died'));
          return command.promise;
        }
        const sent = send(command as never);
        if (/^eval/.test(command.name)) command.promise.then(() => (dead = true)).catch(() => {});
        return sent;
      }) as never;
    });
    try {
      await coordination(name)
        .settled(last, success(last, 3))
        .catch(() => {});
    } finally {
      undecorate();
    }
    expect(dead, 'the join ran before the "crash"').toBe(true);
    // Its message was never acked: it is delivered again, runs again, and joins again on another worker.
    await coordination(name).settled(last, success(last, 3));
    expect((await callbacks()).map((e) => e.args)).toEqual([[[1, 2, 3]]]);
  });

  it('the worker never acks past a join that did not happen: the member comes back and joins', async () => {
    const name = queues.name();
    const queue = producer(name);
    // The first join the worker sends never reaches Redis (a dropped connection, a worker dying before it).
    let refused = 0;
    const undecorate = decorateConnections((client, connection) => {
      if (connection !== `mq:${name}:coordination`) return;
      const send = client.sendCommand.bind(client);
      client.sendCommand = ((command: {
        name: string;
        reject: (e: Error) => void;
        promise: Promise<unknown>;
      }) => {
        if (/^eval/.test(command.name) && refused++ === 0) {
          command.reject(new Error('connection lost'));
          return command.promise;
        }
        return send(command as never);
      }) as never;
    });
    try {
      const runs = await startWorkers(name, 1, { visibilityMs: 600 });
      const chord = await queue.chord([sig('add', 1, 1), sig('add', 2, 2)], sig('collect'));
      expect(await chord.get({ timeoutMs: 5000 * loadStretch() })).toEqual({ count: 2, sum: 6 });
      // Had the member been acked before its join, it would never come back, and the chord would wait for ever.
      expect(refused).toBeGreaterThan(1);
      // Reported once each: the run whose join was refused was not settled, so not reported either.
      await until(() => runs.length >= 3);
      expect(runs.map((r) => r.task).sort()).toEqual(['add', 'add', 'collect']);
      expect(await queue.stats()).toMatchObject({ succeeded: 3, failed: 0 });
    } finally {
      undecorate();
    }
  });

  it('a member that succeeded and then, run again, failed stays counted', async () => {
    const { name, members, callbacks } = await made(2);
    const c = coordination(name);
    const [a, b] = members as [Envelope, Envelope];
    await c.settled(a, success(a, 1));
    expect(await c.settled(a, failure(a, 'second run failed'))).toEqual({ join: 'counted-before' });
    expect(await c.settled(b, success(b, 2))).toEqual({ join: 'fired' });
    expect((await callbacks()).map((e) => e.args)).toEqual([[[1, 2]]]);
  });

  it('fails the chord when the callback message would be too big, and says so', async () => {
    const { name, queue, chord, members, callbacks } = await made(2);
    const c = coordination(name);
    const [a, b] = members as [Envelope, Envelope];
    await c.settled(a, success(a, 'x'.repeat(300_000)));
    expect(await c.settled(b, success(b, 'y'.repeat(300_000)))).toEqual({ join: 'too-big' });
    expect(await callbacks()).toEqual([]);
    await expect(queue.handle(chord.id).result({ timeout: 1000 })).rejects.toThrow(
      /the callback's message would be 600\d+ bytes with its 2 results, over the 524288-byte limit/,
    );
  });

  it('warns and goes on for a member whose chord is gone', async () => {
    const { name, redis, chord, members } = await made(1);
    await redis.del(queueKeys(name).chord(chord.id));
    const warnings: string[] = [];
    const c = new Coordination({ queue: name, warn: (m) => warnings.push(m) });
    coordinations.push(c);
    expect(await c.settled(members[0]!, success(members[0]!, 1))).toEqual({ join: 'missing' });
    expect(warnings).toEqual([
      `chord ${chord.id}: member #0 finished, but the chord is gone (expired or never made)`,
    ]);
  });

  it('members finishing at one instant on several workers: the callback runs once, every time', async () => {
    const name = queues.name();
    const queue = producer(name);
    const size = 6;
    const runs = await startWorkers(name, size);
    const stretch = loadStretch();
    for (let round = 0; round < 8; round++) {
      // Each worker holds one member (solo pool, one slot); all of them return at the same wall-clock moment, so
      // their joins reach Redis together, on six connections.
      const at = Date.now() + 150 * stretch;
      const chord = await queue.chord(
        Array.from({ length: size }, (_, i) => sig('until', at, i)),
        sig('collect'),
      );
      expect(await chord.get({ timeoutMs: 10_000 * stretch })).toEqual({ count: size, sum: 15 });
    }
    // A second callback would still be in the queue or running: wait for the queue to be empty first.
    await until(async () => {
      const s = await queue.stats();
      return s.waiting === 0 && s.active === 0;
    });
    const callbacks = runs.filter((r) => r.task === 'collect');
    expect(callbacks).toHaveLength(8);
    expect(new Set(callbacks.map((r) => r.id)).size).toBe(8);
  });
});

describe('the command line', () => {
  it.each([
    [['chord', 'add', '[1,2]'], 'a chord needs --callback TASK'],
    [
      ['group', 'add', '[1,2]', 'add'],
      "each TASK is followed by its JSON-ARGS: 'add' has none (write add '[]')",
    ],
    [['chain', '[1,2]', 'add'], "expected a task name where '[1,2]' is"],
    [['group', 'add', '1'], "JSON-ARGS must be a JSON array: write '[1]', not '1'"],
    [['chain', 'add', '[1]', '--count', '2'], "Unknown option '--count'"],
    [['group', 'nope', '[]', '--tasks', 'test/fixtures/canvas-tasks.ts'], "unknown task 'nope' (known:"],
  ])('%j: one line, exit 1', async (args, message) => {
    const ran = await run(['mini-queue', ...args, '--queue', queues.name()]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain(message);
    expect(ran.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('runs a chord and prints its result with --wait', async () => {
    const name = queues.name();
    await startWorkers(name, 1, { pool: 'event-loop', concurrency: 4 });
    const args = [
      'square',
      '[2]',
      'square',
      '[3]',
      '--count',
      '2',
      '--callback',
      'collect',
      '--tasks',
      TASKS,
    ];
    const ran = await run(['mini-queue', 'chord', ...args, '--queue', name, '--wait', '20000']);
    expect(ran.stderr).toBe('');
    expect(JSON.parse(ran.stdout)).toEqual({ count: 4, sum: 26 });
  });
});
