/**
 * Lab 08's demo: `npx tsx labs/08-transport [--solution] [--workers N] [--tasks N]`.
 *
 * The same tasks on both transports side by side: N worker processes (2) on Redis (lab 00's reference broker)
 * and N on RabbitMQ (your AmqpBroker), each queue fed the same batch of 300 ms tasks. Once the first worker of
 * each has begun a task, both are killed with kill -9 at the same moment. Then it shows what each transport did
 * with what the dead worker held: on RabbitMQ it comes back at once (the kernel closed the dead worker's socket,
 * and RabbitMQ requeues what a closed channel had not acked); on Redis it waits for its lease (the visibility
 * timeout) to run out. Passes when every task succeeded on both, nothing was lost, and nothing ran twice but what
 * the dead workers had begun.
 *
 * Don't change this file: your work is in broker.ts.
 */

import { guide, openStubs } from '../../kit/guided.ts';
import { runLab } from '../../kit/run-lab.ts';
import { dropThrowaways, onInterrupt, throwaway } from '../../kit/throwaway.ts';
import {
  type ChildEvent,
  startTransportWorker,
  type TransportName,
  type WorkerProcess,
} from '../../kit/transport/processes.ts';
import { Rabbit, useRabbit } from '../../kit/transport/rabbit.ts';
import { parseStart, type Start } from '../../kit/transport/tasks.ts';
import { style } from '../../kit/ui/style.ts';
import { table } from '../../kit/ui/table.ts';
import { drawTimeline, type Span } from '../../kit/ui/timeline.ts';
import type { Broker } from '../../mini-queue/broker.ts';
import { createEnvelope, encodeEnvelope } from '../../mini-queue/envelope.ts';
import { NotImplemented } from '../../mini-queue/errors.ts';
import { queueKey } from '../../mini-queue/keys.ts';
import { openBroker, type Track } from '../../mini-queue/parts.ts';
import { connectRedis } from '../../mini-queue/redis/client.ts';
import type { TaskRun } from '../../mini-queue/worker.ts';

/** Redis's visibility timeout here: how long a dead worker's messages wait for their leases to run out. */
const VISIBILITY_MS = 5000;
const TASK_MS = 300;
/** What a TODO left undone gets to show up in the other processes too, so the first one in order is named. */
const GRACE_MS = 1500;
const TRANSPORTS: TransportName[] = ['redis', 'rabbitmq'];
const LABEL: Record<TransportName, string> = { redis: 'Redis', rabbitmq: 'RabbitMQ' };

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await runLab({
  name: '08-transport',
  title: '08 — the transport is a choice: the same queue on RabbitMQ, results still in Redis',
  demo: guide('08-transport', async ({ track, workers: asked = 2, tasks = 40 }) => {
    // One worker per transport is killed: another must be there to take over what it held.
    const workers = Math.max(2, asked);
    if (asked < 2)
      console.log(style.dim('--workers is at least 2 here: one of each is killed, another takes over.'));
    // No RabbitMQ: one line saying how to get one, and nothing else runs.
    const url = await useRabbit();
    const rabbit = new Rabbit(url);
    const names: Record<TransportName, string> = {
      redis: throwaway(`lab08-redis-${process.pid}`),
      rabbitmq: throwaway(`lab08-rabbit-${process.pid}`),
    };
    const starts = (t: TransportName) => queueKey(names[t], 'lab08', 'starts');
    const runs: Array<TaskRun & { worker: string }> = [];
    const onEvent = (event: ChildEvent, from: string) => {
      if (event.type === 'task') runs.push({ ...event.run, worker: from });
    };

    // What stopped a process on its own; the first TODO in order wins, once the others had a moment to say theirs.
    const problems: Error[] = [];
    let troubled: (error: Error) => void = () => {};
    const trouble = new Promise<never>((_, reject) => {
      troubled = reject;
    });
    trouble.catch(() => {});
    const watch = (p: WorkerProcess) => {
      p.failed.catch((error: Error) => {
        if (problems.push(error) === 1) setTimeout(() => troubled(firstInOrder(problems, track)), GRACE_MS);
      });
      return p;
    };
    const step = <T>(promise: Promise<T>) => Promise.race([promise, trouble]);

    const processes: WorkerProcess[] = [];
    // On Ctrl-C too: the workers go (at once: the clean-up has 3 s), then RabbitMQ's queue, which a worker still
    // consuming would declare again; Redis's keys go with the throw-away queues.
    const undo = onInterrupt(async () => {
      await Promise.all(processes.map((p) => p.kill()));
      await rabbit.drop([names.rabbitmq]).catch(() => {});
    });
    const redis = await connectRedis({ name: 'lab08-demo' });
    const producers: Broker[] = [];
    try {
      // The same batch on both: on Redis through lab 00's reference broker, on RabbitMQ through your push().
      for (const t of TRANSPORTS) {
        const producer = await openOn(t, names[t], t === 'rabbitmq' ? track : 'solutions', url);
        producers.push(producer);
        const raws = Array.from({ length: tasks }, () =>
          encodeEnvelope(createEnvelope('work', [starts(t), TASK_MS])),
        );
        await step(producer.push(raws));
      }
      console.log(
        `Enqueued ${tasks} tasks of ${TASK_MS} ms on each transport: ${style.cyan(`mq:{${names.redis}}:waiting`)} (Redis) and ${style.cyan(`mq.${names.rabbitmq}`)} (RabbitMQ, results in Redis).`,
      );
      console.log(`Starting ${workers} worker processes on each, 2 tasks at a time…`);
      for (const t of TRANSPORTS) {
        for (let i = 1; i <= workers; i++) {
          const name = `${t === 'redis' ? 'redis' : 'rabbit'}-${i}`;
          processes.push(
            watch(
              startTransportWorker(
                name,
                { queue: names[t], transport: t, track, concurrency: 2, visibilityMs: VISIBILITY_MS },
                url,
                onEvent,
              ),
            ),
          );
        }
      }
      await step(Promise.all(processes.map((p) => p.ready)));
      const t0 = Date.now();
      const victims = TRANSPORTS.map(
        (t) => processes.find((p) => p.name.startsWith(t === 'redis' ? 'redis' : 'rabbit'))!,
      );
      const startsOf = async (t: TransportName) => (await redis.lrange(starts(t), 0, -1)).map(parseStart);

      // Both victims have begun a task (and hold another): kill both at the same moment.
      await step(
        until(async () => {
          for (const [i, t] of TRANSPORTS.entries()) {
            if (!(await startsOf(t)).some((s) => s.pid === victims[i]!.pid)) return false;
          }
          return true;
        }, 30_000),
      );
      await Promise.all(victims.map((v) => v.kill()));
      const killedAt = Date.now();
      console.log(
        `kill -9 of ${victims.map((v) => v.name).join(' and ')} while each ran tasks. RabbitMQ sees the socket close; Redis waits for the leases (${VISIBILITY_MS / 1000} s).`,
      );

      const done = async (t: TransportName) => {
        const ids = (await startsOf(t)).map((s) => s.id);
        const unique = [...new Set(ids)];
        if (unique.length < tasks) return false;
        const results = await redis.mget(...unique.map((id) => queueKey(names[t], 'result', id)));
        return results.every((r) => r !== null && (JSON.parse(r) as { state: string }).state === 'SUCCESS');
      };
      await step(until(async () => (await done('redis')) && (await done('rabbitmq')), 60_000)).catch(
        (error: unknown) => {
          if (error instanceof NotImplemented) throw error;
        },
      );
      await Promise.all(processes.map((p) => p.stop()));

      const rows = [];
      const spans: Span[] = [];
      let ok = true;
      for (const [i, t] of TRANSPORTS.entries()) {
        const victim = victims[i]!;
        const all = await startsOf(t);
        const byVictim = new Set(all.filter((s) => s.pid === victim.pid).map((s) => s.id));
        const finished = new Set(runs.filter((r) => r.worker === victim.name).map((r) => r.id));
        const running = [...byVictim].filter((id) => !finished.has(id)).length;
        const again = all.filter((s) => s.pid !== victim.pid && byVictim.has(s.id) && s.at >= killedAt);
        const back = again.length > 0 ? Math.min(...again.map((s) => s.at)) - killedAt : undefined;
        const ran = new Map<string, number>();
        for (const s of all) ran.set(s.id, (ran.get(s.id) ?? 0) + 1);
        const twice = [...ran].filter(([id, n]) => n > 1 && !(n === 2 && byVictim.has(id))).length;
        const stats = await producers[i]!.stats();
        const lost = tasks - new Set(all.map((s) => s.id)).size;
        ok &&= stats.succeeded === tasks && lost === 0 && twice === 0;
        rows.push([
          LABEL[t],
          tasks,
          stats.succeeded,
          running,
          back === undefined ? '-' : `${(back / 1000).toFixed(2)} s`,
          [...ran.values()].filter((n) => n > 1).length,
          lost,
        ]);
        spans.push(...lanes(t, all, runs, victim, killedAt));
      }
      console.log(drawTimeline(spans.filter((s) => s.startedAt >= t0 - 1000)));
      console.log(
        style.dim('█ a task  ▒ begun by a worker killed with kill -9 (it never finished)  ✗ kill -9'),
      );
      console.log(
        table(
          [
            'transport',
            'tasks',
            'succeeded',
            'running at the kill',
            'first one back after',
            'ran twice',
            'lost',
          ],
          rows,
        ),
      );
      const rabbitBack = rows[1]![4];
      console.log(
        ok
          ? style.green(
              `${tasks}/${tasks} tasks done on each transport, nothing lost. What the dead worker held came back after ${rows[0]![4]} on Redis (its leases ran out) and ${rabbitBack} on RabbitMQ (at once: no lease to wait for).`,
            )
          : style.red(
              'Not every task succeeded exactly once on both transports (see the table): a task lost or run twice is what the check names.',
            ),
      );
      return ok;
    } finally {
      await Promise.all(processes.map((p) => p.stop(1000)));
      undo();
      await Promise.all(producers.map((p) => p.close().catch(() => {})));
      redis.disconnect();
      await rabbit.drop([names.rabbitmq]).catch(() => {});
      await rabbit.close();
      await dropThrowaways([names.redis, names.rabbitmq]);
    }
  }),
});

/**
 * A broker on one transport, from this process: the transport is read from the environment when a broker opens,
 * so it is set for that moment and put back after.
 */
async function openOn(transport: TransportName, queue: string, track: Track, url: string): Promise<Broker> {
  const saved = { BROKER: process.env.BROKER, BROKER_URL: process.env.BROKER_URL };
  delete process.env.BROKER;
  delete process.env.BROKER_URL;
  if (transport === 'rabbitmq') process.env.BROKER_URL = url;
  try {
    return await openBroker({ queue }, track);
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** Polls `done` until it holds; rejects after `ms`. */
async function until(done: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not done within ${ms / 1000} s`);
    await pause(50);
  }
}

/** One row per worker: its runs as it reported them, and what the killed one had begun when it died. */
function lanes(
  t: TransportName,
  all: Start[],
  runs: Array<TaskRun & { worker: string }>,
  victim: WorkerProcess,
  killedAt: number,
): Span[] {
  const prefix = t === 'redis' ? 'redis' : 'rabbit';
  const spans: Span[] = runs
    .filter((r) => r.worker.startsWith(prefix))
    .map((r) => ({ lane: r.worker, startedAt: r.startedAt, finishedAt: r.finishedAt }));
  const finished = new Set(runs.filter((r) => r.worker === victim.name).map((r) => r.id));
  for (const s of all) {
    if (s.pid === victim.pid && !finished.has(s.id)) {
      spans.push({ lane: victim.name, startedAt: s.at, finishedAt: killedAt, mark: '▒' });
    }
  }
  spans.push({ lane: victim.name, startedAt: killedAt, finishedAt: killedAt, mark: '✗' });
  return spans;
}

/**
 * The first TODO in order among what stopped the processes, or a stub before it still in your files (a worker
 * stops on 08.3's deliver() before any ack has met 08.2's); else the first error.
 */
function firstInOrder(problems: Error[], track: Track): Error {
  const order = (a: { todo: string }, b: { todo: string }) =>
    a.todo.localeCompare(b.todo, 'en', { numeric: true });
  const todos = problems.filter((p): p is NotImplemented => p instanceof NotImplemented).sort(order);
  const first = todos[0];
  if (!first) return problems[0]!;
  const before = track === 'labs' ? openStubs('08-transport').find((s) => order(s, first) < 0) : undefined;
  return before ? notDone(before.todo, before.hint) : first;
}

/** A TODO's guidance, in the words of its stub in your files. */
function notDone(todo: string, hint: string): NotImplemented {
  return new NotImplemented(todo, hint);
}
