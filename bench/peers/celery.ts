/**
 * Celery as a peer (sections 1, 3 and 4): finds a Python that can import Celery, gevent, eventlet and redis-py,
 * and talks to bench/peers/celery/driver.py, which enqueues through Celery's API, starts the Celery workers and
 * times them from inside (bench/peers/celery/bench_app.py). One JSON command a line, one reply a line, one at
 * a time. Without such a Python the bench prints one line on how to install them and leaves the Celery rows out.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { deleteMatching } from '../../mini-queue/admin.ts';
import { connectRedis } from '../../mini-queue/redis/client.ts';

const DRIVER = fileURLToPath(new URL('./celery/driver.py', import.meta.url));

/** Prints the versions as JSON, or fails at the first import that is missing. */
const PROBE = `import json, platform, celery, kombu, gevent, eventlet, redis, urllib3
print(json.dumps({"python": platform.python_version(), "celery": celery.__version__, "kombu": kombu.__version__,
  "gevent": gevent.__version__, "eventlet": eventlet.__version__, "redis": redis.__version__}))`;

export interface CeleryVersions {
  python: string;
  celery: string;
  kombu: string;
  gevent: string;
  eventlet: string;
  redis: string;
}

/** The interpreters tried, in order: BENCH_PYTHON alone when set, else the usual names. */
export function pythonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.BENCH_PYTHON) return [env.BENCH_PYTHON];
  // A pyenv or venv python3 comes first on PATH and often lacks them; Debian's packages are for /usr/bin's.
  return ['python3', '/usr/bin/python3', 'python'];
}

/** The one line printed when no candidate has them. */
export function skipLine(tried: string[]): string {
  return (
    `Celery rows skipped: no Python with celery, gevent, eventlet, redis and urllib3 (tried ${tried.join(', ')}). ` +
    'To add them: apt-get install python3-celery python3-gevent python3-eventlet python3-redis python3-urllib3, or ' +
    'pip install "celery[redis]" gevent eventlet urllib3; BENCH_PYTHON=/path/to/python picks the interpreter.'
  );
}

export type PythonFound = { python: string; versions: CeleryVersions } | { tried: string[] };

export function findPython(env: NodeJS.ProcessEnv = process.env): PythonFound {
  const tried = pythonCandidates(env);
  for (const python of tried) {
    const probe = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', timeout: 30_000 });
    if (probe.status === 0) {
      try {
        return { python, versions: JSON.parse(probe.stdout) as CeleryVersions };
      } catch {
        // not the probe's output: try the next one
      }
    }
  }
  return { tried };
}

export interface CeleryWorkerSpec {
  pool: 'threads' | 'gevent' | 'eventlet' | 'solo' | 'prefork';
  concurrency: number;
  /** task_acks_late: ack after the run (at least once, like mini-queue). @default true */
  acksLate?: boolean;
  /** worker_prefetch_multiplier. @default 4, Celery's */
  prefetch?: number;
  /** One result backend per process (Celery 5.3's result_backend_thread_safe), not one per thread. @default false */
  sharedBackend?: boolean;
}

/** One timed batch, from inside the worker: first task start to last task end, and the worker's CPU in it. */
export interface CeleryTiming {
  /** Celery's producer (apply_async, a message a round trip), measured on the first 200 tasks of the run. */
  enqueuePerSec: number;
  seconds: number;
  /** Absent for prefork, whose tasks run in child processes. */
  cpuSeconds?: number;
  /** A fresh worker's start-up: process start to its first task (section 1 only). */
  bootSeconds?: number;
}

export class CeleryDriver {
  private readonly waiting: Array<{ resolve: (line: string) => void; reject: (error: Error) => void }> = [];
  private exited: Error | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** The key prefix of everything the driver makes, from its first line. */
  prefix = '';

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly url: string,
    readonly python: string,
    readonly versions: CeleryVersions,
  ) {
    createInterface({ input: child.stdout }).on('line', (line) => this.waiting.shift()?.resolve(line));
    child.once('exit', (code, signal) => {
      this.exited = new Error(`Celery's bench driver exited (${signal ?? code})`);
      for (const w of this.waiting.splice(0)) w.reject(this.exited);
    });
  }

  static async start(
    found: { python: string; versions: CeleryVersions },
    url: string,
  ): Promise<CeleryDriver> {
    const child = spawn(found.python, [DRIVER], {
      env: { ...process.env, BENCH_CELERY_URL: url, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // The workers' banners and warnings go to logs the driver keeps; what reaches stderr here is an error.
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    const driver = new CeleryDriver(child, url, found.python, found.versions);
    const hello = await new Promise<string>((resolve, reject) => driver.waiting.push({ resolve, reject }));
    driver.prefix = (JSON.parse(hello) as { prefix: string }).prefix;
    return driver;
  }

  /** One command; its reply, or an Error carrying the driver's one-line reason. */
  request<T>(command: Record<string, unknown>): Promise<T> {
    const next = this.chain.then(async () => {
      if (this.exited) throw this.exited;
      const line = await new Promise<string>((resolve, reject) => {
        this.waiting.push({ resolve, reject });
        this.child.stdin.write(`${JSON.stringify(command)}\n`);
      });
      const reply = JSON.parse(line) as T & { error?: string };
      if (reply.error)
        throw new Error(`Celery ${String(command.op)} ${command.pool ?? command.name ?? ''}: ${reply.error}`);
      return reply as T;
    });
    this.chain = next.catch(() => {});
    return next;
  }

  drain(spec: CeleryWorkerSpec & { tasks: number }): Promise<CeleryTiming> {
    return this.request({ op: 'drain', ...spec });
  }

  /** A worker kept warm for several batches; `name` is how later commands find it. */
  startWorker(name: string, spec: CeleryWorkerSpec): Promise<{ bootSeconds: number }> {
    return this.request({ op: 'start', name, ...spec });
  }

  batch(name: string, task: 'noop' | 'fib' | 'fetch', args: unknown[], tasks: number): Promise<CeleryTiming> {
    return this.request({ op: 'batch', name, task, args, tasks });
  }

  stopWorker(name: string): Promise<unknown> {
    return this.request({ op: 'stop', name });
  }

  /** The smallest n for which fib(n) takes `ms` in this Python, as kit/parallel.ts's calibrateFib does in Node. */
  calibrate(ms: number): Promise<{ n: number; ms: number }> {
    return this.request({ op: 'calibrate', ms });
  }

  /**
   * Ends the driver (it stops its workers and deletes its keys on stdin's end), then deletes whatever a crash may
   * have left: every key under the driver's own prefix, in Celery's, kombu's and our naming.
   */
  async close(): Promise<void> {
    if (!this.exited) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.stdin.end();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    }
    if (!this.prefix) return; // it never started: it made no key
    const redis = await connectRedis({ url: this.url });
    try {
      for (const pattern of celeryPatterns(this.prefix)) await deleteMatching(redis, pattern);
    } finally {
      redis.disconnect();
    }
  }
}

/** Every key the driver with this prefix may make: its queues' own, kombu's bindings, Celery's results. */
export function celeryPatterns(prefix: string): string[] {
  // A wrong prefix here would be a pattern that deletes other people's keys: refuse anything but the driver's.
  if (!/^bench-celery-\d+-$/.test(prefix)) throw new Error(`not a bench driver's key prefix: '${prefix}'`);
  return [`${prefix}*`, `_kombu.binding.${prefix}*`, `celery-task-meta-${prefix}*`];
}
