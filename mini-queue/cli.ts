/**
 * The mini-queue command line (DESIGN.md's contract):
 *
 *   npx tsx mini-queue worker [--tasks FILE] [--pool KIND] [--concurrency N] [--queue Q] [--track labs|solutions]
 *                             [--processes N] [--fast-path | --no-fast-path]
 *   npx tsx mini-queue enqueue TASK 'JSON-ARGS' [--count N] [--queue Q] [--tasks FILE]
 *   npx tsx mini-queue stats [--queue Q]
 *   npx tsx mini-queue group|chain|chord TASK 'JSON-ARGS' [TASK 'JSON-ARGS' ...] [--callback TASK] [--wait MS]
 *   npx tsx mini-queue beat --schedule FILE [--queue Q] [--track labs|solutions]
 *   npx tsx mini-queue inspect [--queue Q] [--json]
 *   npx tsx mini-queue dashboard [--port N] [--host H] [--queue Q ...]
 */
import { availableParallelism } from 'node:os';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { chosenTransport, selectTransport } from './amqp/address.ts';
import { Beat } from './beat.ts';
import type { Signature } from './canvas.ts';
import { CanvasTimeoutError, GroupFailedError } from './canvas-handles.ts';
import { startDashboard } from './dashboard/index.ts';
import { isLoopback } from './dashboard/server.ts';
import { MAX_TIMEOUT_MS } from './envelope.ts';
import { runMain, UserError } from './errors.ts';
import { integerFlag, isNegativeNumber, joinNegativeValues } from './flags.ts';
import { validateQueueName } from './keys.ts';
import { noWorkers, renderInspect } from './monitor/inspect.ts';
import { listQueues, readWorkers } from './monitor/read.ts';
import type { WorkerBeat } from './monitor/types.ts';
import { watchLaunchers } from './parent-watch.ts';
import { parseTrack } from './parts.ts';
import { POOL_KINDS, type PoolKind } from './pool.ts';
import { checkProcesses } from './pools/multi-process.ts';
import { Queue, TaskFailedError } from './queue.ts';
import type { RateLimit } from './rate.ts';
import { connectRedis } from './redis/client.ts';
import { loadSchedule } from './schedule.ts';
import { EXAMPLE_TASKS_PATH, loadTasks, lookupTask, unknownTaskMessage } from './tasks.ts';
import { Worker } from './worker.ts';

const HELP = `mini-queue: a small Celery-like task queue on Redis

Usage:
  npx tsx mini-queue worker  [--tasks FILE] [--pool KIND] [--concurrency N] [--queue Q] [--track labs|solutions]
                             [--visibility MS]  (a dead worker's tasks come back after MS; default 30000, at least 1000)
                             [--max-tasks-per-child N] [--reject-on-worker-lost]  (prefork only, as in Celery)
                             [--processes N]  (event-loop and coroutines: the pool in N processes, C split
                             between them, like N gevent workers; for I/O past what one event loop drives)
                             [--fast-path | --no-fast-path]  (reserve what is ready in one batch per round trip;
                             default: on with the reference broker, off with yours, so its reserve() runs)
                             [--no-events]  (publish no task events for the dashboard; the heartbeat that
                             inspect reads is written either way)
                             [--rate-limit TASK=RATE ...]  (e.g. fib=10/s, 100/m, 1000/h: shared by every worker
                             on the queue; over the tasks module's own rateLimit)
  (--track labs runs your lab's part: the pool of labs 01-05, or lab 00's broker with the solo pool; and lab
  07's rate limiter for the tasks that have a rate limit)
  npx tsx mini-queue enqueue TASK 'JSON-ARGS' [--count N] [--queue Q] [--tasks FILE]
                             [--max-retries N] [--countdown MS] [--timeout MS]  (1 to 2147483647)
  (JSON-ARGS is one array, negative numbers inside it: enqueue fib '[-1]')
  npx tsx mini-queue stats   [--queue Q]
  npx tsx mini-queue group   TASK 'JSON-ARGS' [TASK 'JSON-ARGS' ...] [--count N] [--queue Q] [--tasks FILE] [--wait MS]
  npx tsx mini-queue chain   TASK 'JSON-ARGS' [TASK 'JSON-ARGS' ...] [--queue Q] [--tasks FILE] [--wait MS]
  npx tsx mini-queue chord   TASK 'JSON-ARGS' [TASK 'JSON-ARGS' ...] --callback TASK [--callback-args 'JSON-ARGS']
                             [--count N] [--queue Q] [--tasks FILE] [--wait MS]
  (group and chord: the members run together, --count N times over; chord then runs the callback once with their
  results as its first argument. chain: one after the other, each result the next one's first argument. Prints the
  ids (a chord's id is its callback's); with --wait MS, waits that long and prints the result as JSON instead.)
  npx tsx mini-queue inspect [--queue Q] [--json]
                             (the live workers, from their heartbeats: pool, lanes, in flight, done, heartbeat
                             age, and what each lane runs now; without --queue, every queue that has workers)
  npx tsx mini-queue beat    --schedule FILE [--queue Q] [--track labs|solutions]
                             (enqueues the schedule's ticks; run several for availability: each tick is
                             enqueued once. FILE: a .json array or a module that exports
                             defineSchedule([{ name, task, args, every: '5s' | cron: '0 7 * * *' }]))
  npx tsx mini-queue dashboard [--port N] [--host H] [--queue Q ...]
                             (the live page: queues, workers, lanes, failures, sample batches; port 8787,
                             --port 0 for any free one; loopback only unless --host 0.0.0.0; every queue
                             unless --queue)

Pools: ${POOL_KINDS.join(', ')} (default: solo). Tasks default to the kit's examples
(mini-queue/examples/tasks.ts). Redis: REDIS_URL, else redis://127.0.0.1:6379, else a private redis-server.
Transport: Redis, or RabbitMQ with BROKER_URL=amqp://user:pass@host:5672 or --transport rabbitmq (any command;
amqp://127.0.0.1:5672 then); results stay in Redis either way.

Examples:
  npx tsx mini-queue enqueue fib '[27]' --count 1000
  npx tsx mini-queue worker --pool threads --concurrency 4
  npx tsx mini-queue worker --pool event-loop --processes 2 --concurrency 1000
  npx tsx mini-queue chord fib '[20]' fib '[21]' --callback sum --wait 10000
  npx tsx mini-queue stats
  npx tsx mini-queue dashboard`;

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * The shortest `--visibility`, ms. A worker renews its leases every min(1 s, visibility / 3), so at 1000 ms a
 * renewal may come up to ~660 ms late (an event loop busy with a task, a slow round trip to Redis) before a
 * running task's lease runs out and another worker takes it too. Shorter than that, healthy tasks end as
 * WorkerLost. (The API takes shorter ones, for tests that want a fast recovery.)
 */
const MIN_VISIBILITY_MS = 1000;

function parse<const O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({
      args: joinNegativeValues(args, options),
      options,
      allowPositionals: true,
      allowNegative: true,
      strict: true,
    });
  } catch (error) {
    const negative = args.find(isNegativeNumber);
    if ((error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && negative !== undefined) {
      throw new UserError(
        `'${negative}' is not an option: a task's arguments go in one JSON array, e.g. enqueue fib '[${negative}]'`,
      );
    }
    // parseArgs may explain over several lines: one line here, like every other bad input.
    const message = (error as Error).message.replace(/\s*\n\s*/g, ' ').replace(/\.$/, '');
    throw new UserError(`${message}. See \`npx tsx mini-queue --help\`.`);
  }
}

async function worker(args: string[]): Promise<number> {
  const { values } = parse(args, {
    tasks: { type: 'string' },
    'fast-path': { type: 'boolean' },
    pool: { type: 'string' },
    concurrency: { type: 'string', short: 'c' },
    queue: { type: 'string', short: 'Q' },
    track: { type: 'string' },
    visibility: { type: 'string' },
    'max-tasks-per-child': { type: 'string' },
    'reject-on-worker-lost': { type: 'boolean' },
    'rate-limit': { type: 'string', multiple: true },
    processes: { type: 'string' },
    events: { type: 'boolean' },
  });
  const pool = values.pool ?? 'solo';
  if (!(POOL_KINDS as readonly string[]).includes(pool)) {
    throw new UserError(`--pool must be one of ${POOL_KINDS.join(', ')}, got '${pool}'`);
  }
  const maxTasksPerChild = values['max-tasks-per-child'];
  const rejectOnWorkerLost = values['reject-on-worker-lost'];
  if (pool !== 'prefork' && (maxTasksPerChild !== undefined || rejectOnWorkerLost)) {
    throw new UserError(
      `--max-tasks-per-child and --reject-on-worker-lost are prefork options: add --pool prefork (got --pool ${pool})`,
    );
  }
  const concurrency =
    values.concurrency === undefined ? undefined : integerFlag(values.concurrency, '--concurrency');
  const processes =
    values.processes === undefined ? undefined : processesFlag(values.processes, pool, concurrency);
  const track = parseTrack(values.track ?? 'solutions');
  const visibilityMs =
    values.visibility === undefined
      ? 30_000
      : integerFlag(values.visibility, '--visibility', MIN_VISIBILITY_MS, MAX_TIMEOUT_MS);
  // Like a lab's demo: your files for the part under test only. That is the pool (labs 01-05), or, for the solo
  // pool, lab 00's broker; and lab 07's rate limiter, which only runs for tasks with a rate limit. Everything
  // else stays the reference.
  const tracks =
    pool === 'solo' ? { broker: track, coordination: track } : { pool: track, coordination: track };
  // The reference broker runs with the fast path; your lab 00 broker, unless asked, through its own reserve(). On
  // RabbitMQ there is none: messages are pushed to the worker's buffer, and reserve() takes from it.
  const fastPath =
    values['fast-path'] ?? ((tracks.broker ?? 'solutions') === 'solutions' && chosenTransport() === 'redis');
  const started = await Worker.start({
    pool: pool as PoolKind,
    concurrency,
    ...(processes === undefined ? {} : { processes }),
    queue: values.queue,
    tasksPath: values.tasks ?? EXAMPLE_TASKS_PATH,
    track: tracks,
    fastPath,
    prefork: {
      ...(maxTasksPerChild === undefined
        ? {}
        : { maxTasksPerChild: integerFlag(maxTasksPerChild, '--max-tasks-per-child') }),
      ...(rejectOnWorkerLost ? { rejectOnWorkerLost: true } : {}),
    },
    visibilityMs,
    rateLimits: rateLimitFlags(values['rate-limit'] ?? []),
    events: values.events ?? true,
  });
  const counts = { SUCCESS: 0, FAILURE: 0, RETRY: 0, dead: 0, limited: 0 };
  started.on('task', (run) => {
    counts[run.state]++;
    if (run.state !== 'SUCCESS') console.error(`${run.state} ${run.task} ${run.id}: ${run.error ?? ''}`);
  });
  started.on('dead', ({ reason }) => {
    counts.dead++;
    console.error(`dead letter: ${reason}`);
  });
  started.on('warning', (message) => console.error(`warning: ${message}`));
  started.on('limited', () => counts.limited++);
  console.log(
    `worker ${process.pid}: pool ${started.pool.kind} x${started.pool.concurrency}${processes === undefined ? '' : ` in ${processes} processes`} on queue '${values.queue ?? 'default'}' (track ${track}${fastPath ? ', fast path' : ''}). Ctrl-C to stop.`,
  );
  const progress = setInterval(() => {
    console.log(
      `processed ${counts.SUCCESS + counts.FAILURE} (ok ${counts.SUCCESS}, failed ${counts.FAILURE}, retry ${counts.RETRY}, dead ${counts.dead}), holding ${started.holding}${counts.limited > 0 ? `, ${counts.limited} put off by a rate limit` : ''}`,
    );
  }, 2000);
  progress.unref();
  // First signal: warm shutdown (finish what runs, fetch nothing more). Second: cold (what is held goes back to
  // the queue at once, threads and children are killed; nothing is lost).
  let signals = 0;
  let coldHolding: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      console.log(
        `${signal}: warm shutdown, finishing ${started.holding} task(s). ${signal} again to stop now.`,
      );
      void started.stop();
    } else {
      coldHolding = started.holding;
      console.log(`${signal}: cold shutdown, giving back the ${coldHolding} task(s) held.`);
      void started.stop({ cold: true }).finally(() => process.exit(0));
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A signal to the command a person started (npx, npm) does not reach this process: see parent-watch.ts.
  const unwatch = watchLaunchers(({ pid, command }) => {
    if (signals > 0) return;
    signals++;
    console.log(
      `a process that started this worker is gone (pid ${pid}: ${command}): warm shutdown, finishing ${started.holding} task(s).`,
    );
    void started.stop();
  });
  try {
    await started.done;
  } finally {
    clearInterval(progress);
    unwatch();
  }
  if (coldHolding !== undefined) console.log(coldReport(started.released, coldHolding, visibilityMs));
  console.log(`worker ${process.pid} stopped: ${counts.SUCCESS} succeeded, ${counts.FAILURE} failed.`);
  return 0;
}

/** `--rate-limit fib=10/s` (repeatable) as { fib: '10/s' }; the rates themselves are checked by the worker. */
function rateLimitFlags(flags: string[]): Record<string, RateLimit> {
  const limits: Record<string, RateLimit> = {};
  for (const flag of flags) {
    const at = flag.lastIndexOf('=');
    if (at <= 0) throw new UserError(`--rate-limit takes TASK=RATE, like fib=10/s, got '${flag}'`);
    limits[flag.slice(0, at)] = flag.slice(at + 1);
  }
  return limits;
}

/** `--processes N`: only with a pool that runs many tasks on one thread, and within 1..4 per core. */
function processesFlag(value: string, pool: string, concurrency: number | undefined): number {
  const most = availableParallelism() * 4;
  const n = integerFlag(value, '--processes', 1, most);
  // The worker's default concurrency for these pools is the core count.
  checkProcesses(pool as PoolKind, n, concurrency ?? availableParallelism(), {
    processes: '--processes',
    pool: '--pool',
    concurrency: '--concurrency',
  });
  return n;
}

/** What a cold stop did with the tasks the worker held, as it happened. */
function coldReport(released: number | undefined, holding: number, visibilityMs: number): string {
  if (released === undefined) {
    return `Could not reach Redis to give back the ${holding} task(s) held: they return to the queue when their leases run out (within ${visibilityMs} ms).`;
  }
  if (released === 0) return 'Nothing went back to the queue: no task was held unfinished.';
  return `${released} task(s) went back to the queue, unrun here; another worker runs them.`;
}

async function enqueue(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    count: { type: 'string', short: 'n' },
    queue: { type: 'string', short: 'Q' },
    tasks: { type: 'string' },
    'max-retries': { type: 'string' },
    countdown: { type: 'string' },
    timeout: { type: 'string' },
  });
  const [task, json = '[]', ...extra] = positionals;
  if (!task || extra.length > 0) {
    // After a `--` every word is an argument, options included.
    const why = extra.length > 0 ? ` (one JSON array after the task; extra: ${extra.join(' ')})` : '';
    throw new UserError(
      `usage: npx tsx mini-queue enqueue TASK 'JSON-ARGS' [--count N], e.g. enqueue fib '[27]'${why}`,
    );
  }
  const taskArgs = jsonArgs(json);
  await checkTaskNames([task], values.tasks);
  const count = values.count === undefined ? 1 : integerFlag(values.count, '--count');
  const queue = new Queue({ name: values.queue });
  try {
    const options = {
      ...(values['max-retries'] === undefined
        ? {}
        : { maxRetries: integerFlag(values['max-retries'], '--max-retries', 0) }),
      ...(values.countdown === undefined
        ? {}
        : { countdown: integerFlag(values.countdown, '--countdown', 0) }),
      ...(values.timeout === undefined
        ? {}
        : { timeout: integerFlag(values.timeout, '--timeout', 1, MAX_TIMEOUT_MS) }),
    };
    // In chunks: one LPUSH per 1000, so --count 100000 neither builds one giant command nor 100000 round trips.
    for (let done = 0; done < count; done += 1000) {
      const batch = Array.from({ length: Math.min(1000, count - done) }, () => taskArgs as unknown[]);
      const handles = await queue.enqueueMany(task, batch, options);
      process.stdout.write(`${handles.map((h) => h.id).join('\n')}\n`);
    }
  } finally {
    await queue.close();
  }
  return 0;
}

/** One task's arguments as typed: a JSON array, or one line saying how to write it. */
function jsonArgs(json: string): unknown[] {
  let taskArgs: unknown;
  try {
    taskArgs = JSON.parse(json);
  } catch {
    throw new UserError(
      `JSON-ARGS must be a JSON array like '[27]' or '["a@example.com", "Hi"]', got ${json}`,
    );
  }
  if (!Array.isArray(taskArgs))
    throw new UserError(`JSON-ARGS must be a JSON array: write '[${json}]', not '${json}'`);
  return taskArgs;
}

/**
 * With --tasks, a name is checked against that module and an unknown one refused. Without, the worker's tasks
 * module is not known here: it may have its own. Checked against the default (the examples), an unknown name is
 * enqueued with a warning, since a worker on the default module would fail it as UnknownTask.
 */
async function checkTaskNames(names: string[], tasksFile: string | undefined): Promise<void> {
  const registry = await loadTasks(tasksFile ?? EXAMPLE_TASKS_PATH);
  for (const task of new Set(names)) {
    if (lookupTask(registry, task)) continue;
    if (tasksFile !== undefined) throw new UserError(unknownTaskMessage(task, registry));
    console.error(
      `warning: ${unknownTaskMessage(task, registry).replace('known:', 'the example tasks are')}: a worker on the default tasks fails it; enqueued anyway for a worker with its own --tasks (pass --tasks FILE to check the name)`,
    );
  }
}

/** `group`, `chain` and `chord`: signatures as TASK 'JSON-ARGS' pairs (canvas.ts). */
function canvas(kind: 'group' | 'chain' | 'chord') {
  return async (args: string[]): Promise<number> => {
    const { values, positionals } = parse(args, {
      queue: { type: 'string', short: 'Q' },
      tasks: { type: 'string' },
      wait: { type: 'string' },
      ...(kind === 'chain' ? {} : { count: { type: 'string', short: 'n' } }),
      ...(kind === 'chord' ? { callback: { type: 'string' }, 'callback-args': { type: 'string' } } : {}),
    } as const);
    const usage =
      kind === 'chord'
        ? `usage: npx tsx mini-queue chord TASK 'JSON-ARGS' [TASK 'JSON-ARGS' ...] --callback TASK, e.g. chord fib '[20]' fib '[21]' --callback sum`
        : `usage: npx tsx mini-queue ${kind} TASK 'JSON-ARGS' [TASK 'JSON-ARGS' ...], e.g. ${kind} fib '[20]' fib '[21]'`;
    if (positionals.length === 0) throw new UserError(usage);
    if (positionals.length % 2 === 1) {
      const last = positionals.at(-1)!;
      throw new UserError(
        `each TASK is followed by its JSON-ARGS: '${last}' has none (write ${last} '[]'). ${usage}`,
      );
    }
    const once: Signature[] = [];
    for (let i = 0; i < positionals.length; i += 2) {
      const task = positionals[i]!;
      if (/^[[{"\d-]/.test(task))
        throw new UserError(
          `expected a task name where '${task}' is: each TASK comes before its JSON-ARGS. ${usage}`,
        );
      once.push({ task, args: jsonArgs(positionals[i + 1]!) });
    }
    const v = values as Record<string, string | undefined>;
    const count = v.count === undefined ? 1 : integerFlag(v.count, '--count');
    const signatures = Array.from({ length: count }, () => once).flat();
    let callback: Signature | undefined;
    if (kind === 'chord') {
      if (v.callback === undefined) throw new UserError(`a chord needs --callback TASK. ${usage}`);
      callback = {
        task: v.callback,
        args: v['callback-args'] === undefined ? [] : jsonArgs(v['callback-args']),
      };
    } else if (v['callback-args'] !== undefined)
      throw new UserError('--callback-args goes with chord --callback');
    const wait = v.wait === undefined ? undefined : integerFlag(v.wait, '--wait', 1, MAX_TIMEOUT_MS);
    await checkTaskNames([...once.map((s) => s.task), ...(callback ? [callback.task] : [])], v.tasks);
    const queue = new Queue({ name: v.queue });
    try {
      const handle =
        kind === 'group'
          ? await queue.group(signatures)
          : kind === 'chain'
            ? await queue.chain(signatures)
            : await queue.chord(signatures, callback!);
      if (wait === undefined) {
        const ids = 'ids' in handle ? handle.ids : [handle.id];
        process.stdout.write(`${ids.join('\n')}\n`);
        return 0;
      }
      try {
        console.log(JSON.stringify(await handle.get({ timeoutMs: wait })));
      } catch (error) {
        // Failures and timeouts are outcomes, said in one line; anything else is a bug and keeps its stack.
        if (
          error instanceof TaskFailedError ||
          error instanceof GroupFailedError ||
          error instanceof CanvasTimeoutError
        )
          throw new UserError(error.message);
        throw error;
      }
      return 0;
    } finally {
      await queue.close();
    }
  };
}

async function stats(args: string[]): Promise<number> {
  const { values } = parse(args, { queue: { type: 'string', short: 'Q' } });
  const queue = new Queue({ name: values.queue });
  try {
    console.log(JSON.stringify(await queue.stats()));
  } finally {
    await queue.close();
  }
  return 0;
}

/** The live workers, from their heartbeats (mini-queue/monitor/): one queue, or every queue that has workers. */
async function inspect(args: string[]): Promise<number> {
  const { values } = parse(args, { queue: { type: 'string', short: 'Q' }, json: { type: 'boolean' } });
  const asked = values.queue === undefined ? undefined : validateQueueName(values.queue);
  const redis = await connectRedis({ name: 'mq-inspect', failFast: true });
  try {
    const queues = asked === undefined ? await listQueues(redis) : [asked];
    const alive: Array<[string, WorkerBeat[]]> = [];
    for (const queue of queues) {
      const beats = await readWorkers(redis, queue);
      if (beats.length > 0) alive.push([queue, beats]);
    }
    if (values.json) console.log(JSON.stringify(alive.flatMap(([, beats]) => beats)));
    else if (alive.length === 0) console.log(noWorkers(asked));
    else console.log(alive.map(([queue, beats]) => renderInspect(queue, beats)).join('\n\n'));
  } finally {
    redis.disconnect();
  }
  return 0;
}

async function beat(args: string[]): Promise<number> {
  const { values } = parse(args, {
    schedule: { type: 'string' },
    queue: { type: 'string', short: 'Q' },
    track: { type: 'string' },
  });
  if (values.schedule === undefined) {
    throw new UserError(
      'beat needs --schedule FILE (a .json array or a module exporting defineSchedule([...]))',
    );
  }
  const track = parseTrack(values.track ?? 'solutions');
  const schedule = await loadSchedule(values.schedule);
  const queue = values.queue ?? 'default';
  const started = await Beat.start({ schedule, queue, track });
  started.on('tick', (tick) => {
    if (tick.outcome === 'enqueued') console.log(`enqueued ${tick.id} (${tick.task})`);
  });
  started.on('warning', (message) => console.error(`warning: ${message}`));
  const entries = schedule.map((entry) => `${entry.name} ${entry.describe}`).join('; ');
  console.log(
    `beat ${process.pid} (${started.id}) on queue '${queue}' (track ${track}): ${entries}. Ctrl-C to stop.`,
  );
  // A beat holds nothing: one signal stops it at once, and a second is not needed.
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${why}: stopping.`);
    void started.stop();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // A signal to the command a person started (npx, npm) does not reach this process: see parent-watch.ts.
  const unwatch = watchLaunchers(({ pid, command }) =>
    stop(`a process that started this beat is gone (pid ${pid}: ${command})`),
  );
  try {
    await started.done;
  } finally {
    unwatch();
  }
  const c = started.counts;
  console.log(
    `beat ${process.pid} stopped: ${c.enqueued} tick(s) enqueued here, ${c.taken} enqueued by another beat first, ${c.late} too late, ${c.failed} not sent.`,
  );
  return 0;
}

async function dashboard(args: string[]): Promise<number> {
  const { values } = parse(args, {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    queue: { type: 'string', short: 'Q', multiple: true },
  });
  const port = values.port === undefined ? 8787 : integerFlag(values.port, '--port', 0, 65_535);
  const host = values.host ?? '127.0.0.1';
  // One signal stops it: it holds no task, only pages, connections and its key in Redis. Listened for before
  // the start, so a Ctrl-C during it stops it as soon as it has started.
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  // A signal to the command a person started (npx, npm) does not reach this process: see parent-watch.ts.
  let unwatch = () => {};
  const launcherGone = new Promise<string>((resolve) => {
    unwatch = watchLaunchers(({ pid, command }) =>
      resolve(`a process that started this dashboard is gone (pid ${pid}: ${command})`),
    );
  });
  let started: Awaited<ReturnType<typeof startDashboard>>;
  let why: string;
  try {
    started = await startDashboard({ host, port, ...(values.queue ? { queues: values.queue } : {}) });
    const shown = values.queue ? `queue ${values.queue.join(', ')}` : 'every queue';
    console.log(
      isLoopback(host)
        ? `dashboard at ${started.url} (${shown}): loopback only, so only this machine can open it; --host 0.0.0.0 shows it to your network, with no login. Ctrl-C to stop.`
        : `dashboard at ${started.url} (${shown}) on ${host}: anyone who can reach this machine can open it and enqueue sample tasks; there is no login. Ctrl-C to stop.`,
    );
    why = await Promise.race([stopped, launcherGone]);
  } finally {
    unwatch();
  }
  // A second Ctrl-C while stopping means now.
  process.once('SIGINT', () => process.exit(130));
  console.log(`${why}: stopping the dashboard.`);
  await started.close();
  console.log('dashboard stopped: pages disconnected, port closed, its key in Redis deleted.');
  return 0;
}

/**
 * `--transport redis|rabbitmq`, for every command: the same as BROKER=… (mini-queue/amqp/address.ts), so the
 * processes and threads this one starts follow it too. BROKER_URL, when set, still decides.
 */
function withoutTransport(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (arg === '--transport') {
      const value = args[++i];
      if (value === undefined) throw new UserError("--transport takes 'redis' or 'rabbitmq'");
      selectTransport(value);
    } else if (arg.startsWith('--transport=')) selectTransport(arg.slice('--transport='.length));
    else out.push(arg);
  }
  return out;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  worker,
  enqueue,
  stats,
  group: canvas('group'),
  chain: canvas('chain'),
  chord: canvas('chord'),
  beat,
  inspect,
  dashboard,
};

await runMain(async () => {
  const [command, ...rest] = withoutTransport(process.argv.slice(2));
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP);
    return command ? 0 : 1;
  }
  const run = COMMANDS[command];
  if (!run)
    throw new UserError(
      `unknown command '${command}': use worker, enqueue, stats, inspect, group, chain, chord, beat or dashboard (see --help)`,
    );
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  return run(rest);
});
