/**
 * What one queue-throughput run measures, and how, for every system alike: section 1 (queue.ts) reads it, the
 * child process (throughput.ts) produces it, and each system's run (throughput.ts for mini-queue, peers/ for the
 * others) uses the timers below, so all are enqueued in chunks of 1000 and timed from the moment their worker
 * is asked to start.
 */

export const SYSTEMS = ['mini-queue', 'bullmq', 'bee-queue'] as const;
export type System = (typeof SYSTEMS)[number];
/**
 * mini-queue with RabbitMQ as its transport (results still in Redis): the same worker and no-op tasks, another
 * broker. Run only when a RabbitMQ answers (BROKER_URL, else amqp://127.0.0.1:5672).
 */
export const RABBITMQ_SYSTEM = 'mini-queue-rabbitmq';
/** What one child process of section 1 can run. */
export type ChildSystem = System | typeof RABBITMQ_SYSTEM;

/** mini-queue's pools in section 1: event-loop against every peer; coroutines and solo against Celery's. */
export const MQ_QUEUE_POOLS = ['event-loop', 'coroutines', 'solo'] as const;
export type MqQueuePool = (typeof MQ_QUEUE_POOLS)[number];

export interface ThroughputRun {
  enqueueSeconds: number;
  processSeconds: number;
  /**
   * CPU time of the whole process (worker, client library, everything) while draining: per task, the figure a
   * busy shared machine disturbs least, and what bounds throughput on a free core.
   */
  processCpuSeconds: number;
  /**
   * The same from the moment the worker has started (its boot, a Redis connection and its scripts, excluded) to
   * the last task: the window Celery's runs are timed over, from inside its worker (bench/peers/celery/).
   */
  drainSeconds: number;
  drainCpuSeconds: number;
}

/** Enqueues `total` tasks through `enqueue` in chunks of 1000, one chunk at a time; resolves with the seconds. */
export async function timeEnqueue(
  total: number,
  enqueue: (count: number) => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < total; i += 1000) await enqueue(Math.min(1000, total - i));
  return (performance.now() - started) / 1000;
}

/**
 * Times a drain: the clock (wall and this process's CPU) starts before `start` is called and stops when
 * `taskDone` has been called `total` times. `start` starts the worker and hooks `taskDone` to its completions.
 * A second clock starts when `start` has resolved: a task needs a reply from Redis first, so none has begun yet.
 */
export async function timeDrain(
  total: number,
  start: (taskDone: () => void) => unknown,
): Promise<Omit<ThroughputRun, 'enqueueSeconds'>> {
  let done = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const started = performance.now();
  const cpu = process.cpuUsage();
  await start(() => {
    if (++done === total) finish();
  });
  const booted = performance.now();
  const bootCpu = process.cpuUsage();
  await finished;
  const ended = performance.now();
  const used = process.cpuUsage(cpu);
  const drained = process.cpuUsage(bootCpu);
  return {
    processSeconds: (ended - started) / 1000,
    processCpuSeconds: (used.user + used.system) / 1e6,
    drainSeconds: (ended - booted) / 1000,
    drainCpuSeconds: (drained.user + drained.system) / 1e6,
  };
}
