/**
 * `npm run bench [-- --json [FILE]] [--only 1,3] [--help]`: mini-queue against what people would use instead, on
 * the same Redis, in the same run, with the machine's own limits beside it. One file per section:
 *
 *   1 queue.ts     queue throughput: mini-queue vs BullMQ vs Bee-Queue, and mini-queue on RabbitMQ when one answers
 *                  (bench/throughput.ts runs one system),
 *                  and pool by pool vs Celery -P threads / gevent / solo
 *   2 dispatch.ts  µs per no-op task: the threads pool vs piscina
 *   3 cpu.ts       CPU speedup at 1..P: threads, prefork, processes-per-task, piscina, Celery -P prefork
 *   4 io.ts        I/O concurrency against Little's law: event-loop and coroutines at C = 100 and 1000, in this
 *                  process and in P child processes, and mini-queue's coroutines vs Celery -P gevent / eventlet,
 *                  both through Redis
 *   5 ceiling.ts   the Redis ceiling, pipelined and not, measured from Node
 *   6 checker-time.ts  the checker's own time: `npm run check -- --solution`, wall and CPU
 *
 * Celery (bench/peers/celery.ts, its Python under bench/peers/celery/) joins sections 1, 3 and 4 when a Python
 * with celery, gevent, eventlet, redis and urllib3 is found (BENCH_PYTHON, else python3, /usr/bin/python3, python);
 * otherwise one line says how to install them and its rows are left out.
 *
 * Every figure is the median of several runs after a warm-up, with its spread; one table at the end, ratios
 * ours / theirs (> 1 is better for us), then the targets as met / not met. The targets never fail the run.
 */
import { writeFileSync } from 'node:fs';
import { loadavg, totalmem, uptime } from 'node:os';
import { parseArgs } from 'node:util';
import { machineFacts } from '../kit/machine.ts';
import { table } from '../kit/ui/table.ts';
import { runMain, UserError } from '../mini-queue/errors.ts';
import { integerFlag } from '../mini-queue/flags.ts';
import { redact } from '../mini-queue/redis/address.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';
import { resolveRedisUrl } from '../mini-queue/redis/resolve.ts';
import { type CeilingResult, ceilingRows, runCeiling } from './ceiling.ts';
import { type CheckerTimeResult, checkerRows, runCheckerTime } from './checker-time.ts';
import { type CpuResult, cpuRows, runCpu } from './cpu.ts';
import { type DispatchResult, dispatchRows, runDispatch } from './dispatch.ts';
import { type IoResult, ioRows, runIo } from './io.ts';
import { CeleryDriver, findPython, skipLine } from './peers/celery.ts';
import { type QueueResult, queueRows, rememberRabbitUrl, runQueue } from './queue.ts';
import { type Row, since } from './stats.ts';
import { judge } from './targets.ts';

/**
 * Sizes, chosen so the whole bench stays under 5 minutes on a busy 2-core machine, 8 with Celery (and the
 * checker, section 6, 1.5 to 2.5 more). Celery drains
 * no-ops 5-15x slower than mini-queue and each of its runs starts a worker process, so its runs are smaller:
 * `tasks` a run (`fewerTasks` for Celery 5.2's backend per greenlet, slower still), said in its rows; so are
 * mini-queue's coroutines and solo runs of section 1 (`poolTotal`), there only to be compared with Celery.
 */
const PLAN = {
  queue: {
    total: 20_000,
    concurrency: 50,
    runs: 3,
    /**
     * Pairs of mini-queue workers run at once, events on beside off (bench/queue.ts), and the tasks each drains:
     * longer than `total`, since a worker compiles its events code once (~30 ms, 1.5 µs a task of 20,000).
     */
    eventRounds: 8,
    eventTotal: 40_000,
    celery: { tasks: 1500, fewerTasks: 400, poolTotal: 10_000 },
  },
  dispatch: { tasks: 100_000, runs: 3 },
  cpu: { runs: 5 },
  io: {
    tasks: 10_000,
    concurrencies: [100, 1000],
    latencyMs: 50,
    runs: 3,
    celery: { tasks: 1000, fewerTasks: 300 },
  },
  ceiling: { runs: 3 },
};

const HELP = `Usage: npm run bench [-- --json [FILE]] [--only 1,3]

Benchmarks mini-queue against BullMQ, Bee-Queue, piscina, Celery and the Redis ceiling, on this machine and this
Redis.
  --json [FILE]  also write every figure, ratio and target as JSON (to stdout without FILE)
  --only N,...   run only these sections: 1 queue, 2 dispatch, 3 CPU, 4 I/O, 5 Redis ceiling, 6 checker
  -h, --help     this help

Celery joins sections 1, 3 and 4 when a Python can import celery, gevent, eventlet, redis and urllib3: BENCH_PYTHON,
else python3, /usr/bin/python3, python (apt-get install python3-celery python3-gevent python3-eventlet python3-redis
python3-urllib3, or pip install "celery[redis]" gevent eventlet urllib3). Without one, a line says so and its rows
are left out.`;

interface Flags {
  help: boolean;
  json: boolean;
  jsonFile?: string;
  only: Set<number>;
}

function parseFlags(argv: string[]): Flags {
  const args = [...argv];
  // `--json` takes an optional FILE, which parseArgs cannot express: the argument after it, unless it is a flag.
  const jsonAt = args.indexOf('--json');
  const next = args[jsonAt + 1];
  const jsonFile = jsonAt >= 0 && next !== undefined && !next.startsWith('-') ? next : undefined;
  if (jsonAt >= 0) args.splice(jsonAt, jsonFile === undefined ? 1 : 2);
  let values: { only?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: { only: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (error) {
    throw new UserError(`${(error as Error).message}. See \`npm run bench -- --help\`.`);
  }
  const only = new Set(
    values.only === undefined
      ? [1, 2, 3, 4, 5, 6]
      : values.only.split(',').map((n) => integerFlag(n, '--only')),
  );
  if ([...only].some((n) => n < 1 || n > 6)) {
    throw new UserError('--only takes section numbers from 1 to 6, e.g. --only 1,3');
  }
  return { help: values.help === true, json: jsonAt >= 0, ...(jsonFile ? { jsonFile } : {}), only };
}

async function redisFacts(url: string): Promise<{ url: string; version: string }> {
  const redis = await connectRedis({ url });
  try {
    const info = await redis.info('server');
    return { url: redact(url), version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown' };
  } finally {
    redis.disconnect();
  }
}

await runMain(async () => {
  const args = parseFlags(process.argv.slice(2));
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  // Every run is on Redis but section 1's RabbitMQ row: a BROKER_URL here only says where that row looks (its
  // child gets it, bench/queue.ts), not where the other sections' workers take their messages.
  rememberRabbitUrl(process.env.BROKER_URL);
  delete process.env.BROKER_URL;
  delete process.env.BROKER;
  const url = await resolveRedisUrl();
  const started = performance.now();
  const machine = {
    ...machineFacts(),
    loadAverages: loadavg().map((l) => Number(l.toFixed(2))),
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    uptimeMinutes: Math.round(uptime() / 60),
    date: new Date().toISOString(),
    redis: await redisFacts(url),
  };
  const log = (line: string) => console.error(line);
  log(
    `Machine: ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, libuv ${machine.libuv}, ` +
      `Redis ${machine.redis.version} at ${machine.redis.url}, load ${machine.loadAverages.join(' ')}`,
  );
  const P = machine.cores;
  // Celery, for the sections it joins: one driver process for the whole bench, ended (its keys deleted) at exit.
  let celery: CeleryDriver | undefined;
  let celerySkipped: string | undefined;
  if ([1, 3, 4].some((n) => args.only.has(n))) {
    const found = findPython();
    if ('tried' in found) {
      celerySkipped = skipLine(found.tried);
      log(celerySkipped);
    } else {
      celery = await CeleryDriver.start(found, url);
      const v = found.versions;
      log(
        `Celery ${v.celery} (kombu ${v.kombu}, gevent ${v.gevent}, eventlet ${v.eventlet}, redis-py ${v.redis}) ` +
          `on Python ${v.python} (${found.python})`,
      );
    }
  }
  const seconds: Record<string, number> = {};
  const section = async <T>(n: number, title: string, run: () => Promise<T>): Promise<T | undefined> => {
    if (!args.only.has(n)) return undefined;
    log(`${n}. ${title} ...`);
    const t = performance.now();
    const result = await run();
    seconds[n] = Number(since(t).toFixed(1));
    log(`   done in ${seconds[n]} s (load ${loadavg()[0]!.toFixed(2)})`);
    return result;
  };
  let queue: QueueResult | undefined;
  let dispatch: DispatchResult | undefined;
  let cpu: CpuResult | undefined;
  let io: IoResult | undefined;
  try {
    const q = PLAN.queue;
    queue = await section(
      1,
      `queue throughput: ${q.total} no-ops, one worker at c=${q.concurrency}, ${q.runs} runs per system; ${q.eventRounds} pairs of mini-queue workers at once, task events on (heard, unheard) beside off, ${q.eventTotal} each` +
        (celery ? `; Celery ${q.celery.tasks} a run` : ''),
      () =>
        runQueue(
          q.total,
          q.concurrency,
          q.runs,
          celery && { driver: celery, ...q.celery },
          log,
          q.eventRounds,
          q.eventTotal,
        ),
    );
    const d = PLAN.dispatch;
    dispatch = await section(2, `dispatch: ${d.tasks} no-ops, threads pool vs piscina, ${P} threads`, () =>
      runDispatch(P, d.tasks, d.runs),
    );
    cpu = await section(
      3,
      `CPU speedup at 1..${P} workers: threads, prefork, processes, piscina${celery ? ', Celery prefork' : ''}`,
      () => runCpu(P, PLAN.cpu.runs, celery && { driver: celery, log }),
    );
    const i = PLAN.io;
    io = await section(
      4,
      `I/O: ${i.tasks} HTTP tasks at C=${i.concurrencies.join(', ')}, ${i.latencyMs} ms latency, in 1 and ${P} processes` +
        (celery ? `; Celery and mini-queue through Redis, ${i.celery.tasks} a run` : ''),
      () =>
        runIo(
          i.tasks,
          i.concurrencies,
          i.latencyMs,
          i.runs,
          P,
          celery && { driver: celery, ...i.celery, log },
        ),
    );
  } finally {
    // Its workers stopped and its keys deleted, also when a section failed (a live driver would keep us running).
    await celery?.close();
  }
  const ceiling: CeilingResult | undefined = await section(
    5,
    'Redis ceiling from Node (and redis-benchmark when installed)',
    () => runCeiling(url, PLAN.ceiling.runs),
  );

  // Last: it runs every lab's checks, and nothing after it should inherit the load it leaves.
  const checker: CheckerTimeResult | undefined = await section(
    6,
    'the checker: npm run check -- --solution',
    () => runCheckerTime(),
  );

  const rows: Row[] = [
    ...(queue ? queueRows(queue) : []),
    ...(dispatch ? dispatchRows(dispatch) : []),
    ...(cpu ? cpuRows(cpu) : []),
    ...(io ? ioRows(io) : []),
    ...(ceiling ? ceilingRows(ceiling) : []),
    ...(checker ? checkerRows(checker) : []),
  ];
  const targets = judge({ queue, dispatch, cpu, io, checker });
  const wallSeconds = Number(since(started).toFixed(1));
  const loadAfter = loadavg().map((l) => Number(l.toFixed(2)));
  console.log(
    `Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.platform}, Node ${machine.node}, ` +
      `libuv ${machine.libuv}, Redis ${machine.redis.version}; load ${machine.loadAverages.join(' ')} ` +
      `before, ${loadAfter.join(' ')} after; ${wallSeconds} s in all.`,
  );
  console.log(
    table(
      ['section', 'measure', 'mini-queue', 'compared with', 'ours / theirs', 'spread'],
      rows.map((r) => [
        r.section,
        r.measure,
        r.ours,
        r.theirs,
        r.ratio === undefined ? '-' : r.ratio.toFixed(2),
        r.spread,
      ]),
    ),
  );
  if (targets.length > 0) {
    console.log(
      table(
        ['target', 'value', 'bar', 'met'],
        targets.map((t) => [t.target, t.value.toFixed(2), t.bar.toFixed(2), t.met ? 'met' : 'NOT MET']),
      ),
    );
  }
  console.log(
    'Ratios are medians over medians; spread is (max - min) / median of the runs. On a shared machine compare ' +
      'ratios within one run, not absolute figures across runs.',
  );
  const report = {
    machine: { ...machine, loadAveragesAfter: loadAfter },
    plan: PLAN,
    wallSeconds,
    sectionSeconds: seconds,
    queue,
    dispatch,
    cpu,
    io,
    ceiling,
    checker,
    ...(celery
      ? { celery: { python: celery.python, versions: celery.versions } }
      : { celerySkipped: celerySkipped ?? 'not in the sections run' }),
    table: rows,
    targets,
  };
  if (args.json) {
    const text = `${JSON.stringify(report, null, 2)}\n`;
    if (args.jsonFile) writeFileSync(args.jsonFile, text);
    else console.log(text);
  }
  return 0;
});
