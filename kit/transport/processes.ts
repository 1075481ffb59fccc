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
import { fileURLToPath } from 'node:url';
import { UserError } from '../../mini-queue/errors.ts';
import type { Track } from '../../mini-queue/parts.ts';
import type { TaskRun } from '../../mini-queue/worker.ts';
import { forkLabProcess, type LabChildEvent, type LabProcess } from '../lab-process.ts';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

export type TransportName = 'redis' | 'rabbitmq';

export type ChildEvent = LabChildEvent | { type: 'task'; run: TaskRun };

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

/** A worker on one transport, in a process of its own. */
export type WorkerProcess = LabProcess;

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
  return forkLabProcess(CHILD, name, { name, ...options } satisfies ChildOptions, env, onEvent);
}
