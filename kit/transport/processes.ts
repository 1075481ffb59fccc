/**
 * Workers in processes of their own, on one transport each, for lab 08's demo and check: killed with SIGKILL
 * when a drill wants it, which on RabbitMQ closes their connection (the kernel does it), and on Redis leaves their
 * leases to run out.
 *
 *   this process ──fork(child.ts OPTIONS, env: BROKER_URL or none)──▶ pid ──▶ Worker.start on lab 08's tasks
 *                ◀── IPC: ready, each task run, an error (a TODO not done)
 *
 * On RabbitMQ the worker's broker is lab 08's from the track given; on Redis it is lab 00's reference (this lab
 * is about the transport, not lab 00's broker). The pool is the reference's event loop.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NotImplemented, UserError } from '../../mini-queue/errors.ts';
import type { Track } from '../../mini-queue/parts.ts';
import { tsChildExecArgv } from '../../mini-queue/runtime/typescript.ts';
import type { TaskRun } from '../../mini-queue/worker.ts';
import { REPO_ROOT } from '../todos.ts';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
/** How long a process gets to say it runs: a busy two-core machine starts Node and tsx in seconds. */
const READY_TIMEOUT_MS = 45_000;

export type TransportName = 'redis' | 'rabbitmq';

export type ChildEvent =
  | { type: 'ready' }
  | { type: 'task'; run: TaskRun }
  | { type: 'error'; message: string; todo?: string; hint?: string };

export interface TransportWorkerOptions {
  queue: string;
  transport: TransportName;
  /** Where lab 08's broker comes from (RabbitMQ only). */
  track: Track;
  /** @default 2 */
  concurrency?: number;
  /** Redis only: how long a dead worker's messages wait for their lease to run out. @default 5000 */
  visibilityMs?: number;
}

export type ChildOptions = TransportWorkerOptions & { name: string };

export interface WorkerProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves once it consumes; rejects with why it could not start. */
  readonly ready: Promise<void>;
  /** Rejects with what stopped it on its own (a TODO not done, a crash); never settles otherwise. */
  readonly failed: Promise<never>;
  alive(): boolean;
  /** kill -9: nothing of it runs after this, and it gives nothing back itself. */
  kill(): Promise<void>;
  /** Warm stop (SIGTERM), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts a worker on `options.transport`. `amqpUrl` is the RabbitMQ it uses (BROKER_URL in its environment); on
 * Redis, BROKER_URL and BROKER are left out of it.
 */
export function startTransportWorker(
  name: string,
  options: TransportWorkerOptions,
  amqpUrl: string | undefined,
  onEvent: (event: ChildEvent, from: string) => void,
): WorkerProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.BROKER;
  delete env.BROKER_URL;
  if (options.transport === 'rabbitmq') {
    if (!amqpUrl) throw new UserError('a RabbitMQ worker needs the RabbitMQ URL');
    env.BROKER_URL = amqpUrl;
  }
  const child: ChildProcess = fork(CHILD, [JSON.stringify({ name, ...options } satisfies ChildOptions)], {
    cwd: REPO_ROOT,
    execArgv: tsChildExecArgv(),
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let stopping = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // If this process goes first (an error, Ctrl-C), the child goes too; it also stops when its IPC channel closes.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));

  let fail: (error: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {});
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failed.catch(reject);
  });
  ready.catch(() => {});
  const timer = setTimeout(
    () => fail(new UserError(`${name} was not running within ${READY_TIMEOUT_MS} ms: ${lastLine(log)}`)),
    READY_TIMEOUT_MS,
  );
  timer.unref();
  void ready.finally(() => clearTimeout(timer)).catch(() => {});
  void exited.then(() => clearTimeout(timer));

  child.on('message', (event: ChildEvent) => {
    if (event.type === 'ready') markReady();
    else if (event.type === 'error') {
      fail(
        event.todo
          ? new NotImplemented(event.todo, event.hint ?? '')
          : new UserError(`${name}: ${event.message}`),
      );
    }
    onEvent(event, name);
  });
  child.once('error', (error) => fail(new UserError(`could not start ${name}: ${error.message}`)));
  void exited.then(() => {
    if (!stopping)
      fail(new UserError(`${name} ended (code ${child.exitCode}): ${lastLine(log) || 'no output'}`));
  });

  return {
    name,
    pid: child.pid ?? -1,
    ready,
    failed,
    alive: () => child.exitCode === null && child.signalCode === null,
    async kill() {
      stopping = true;
      child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 5000) {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const grace = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(grace);
    },
  };
}

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .at(-1) ?? ''
  );
}
