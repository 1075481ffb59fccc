/**
 * The entry of one process of lab 07 (see processes.ts): a worker or a beat, on lab 07's Lua from the track
 * given, telling its parent over IPC what it does. It stops warm on SIGTERM or SIGINT, and cold when its parent
 * is gone (the IPC channel closes): a drill's SIGKILL of the parent leaves no process behind.
 */
import { fileURLToPath } from 'node:url';
import { Beat } from '../../mini-queue/beat.ts';
import { errorMessage, NotImplemented, todoIn } from '../../mini-queue/errors.ts';
import { trackFolder } from '../../mini-queue/parts.ts';
import { checkSchedule } from '../../mini-queue/schedule.ts';
import { Worker } from '../../mini-queue/worker.ts';
import type { ChildEvent, ChildOptions } from './processes.ts';

const TASKS = fileURLToPath(new URL('./tasks.ts', import.meta.url));

function send(event: ChildEvent): void {
  if (process.connected) process.send?.(event);
}

/** Says why it stops, in the terms the parent turns back into a NotImplemented or a one-line error. */
function failed(error: unknown): void {
  const todo = error instanceof NotImplemented ? error : todoIn(errorMessage(error));
  send({
    type: 'error',
    message: errorMessage(error),
    ...(todo ? { todo: todo.todo, hint: todo.hint } : {}),
  });
}

const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
const track = trackFolder(options.track);

async function main(): Promise<void> {
  if (options.role === 'worker') {
    const worker = await Worker.start({
      queue: options.queue,
      // Lab 07's Lua from the track; the broker and the pool are the reference's.
      track: { coordination: track },
      tasksPath: TASKS,
      pool: 'event-loop',
      concurrency: options.concurrency ?? 2,
      visibilityMs: options.visibilityMs ?? 1000,
      blockMs: 100,
    });
    worker.on('task', (run) => send({ type: 'task', run }));
    worker.on('limited', (put) => send({ type: 'limited', ...put, at: Date.now() }));
    const stop = (cold: boolean) => void worker.stop({ cold });
    process.once('SIGTERM', () => stop(false));
    process.once('SIGINT', () => stop(false));
    process.once('disconnect', () => stop(true));
    send({ type: 'ready' });
    await worker.done;
  } else {
    const beat = await Beat.start({
      schedule: checkSchedule(options.schedule, options.name),
      queue: options.queue,
      track,
      id: options.name,
    });
    beat.on('tick', (tick) => send({ type: 'tick', tick }));
    const stop = () => void beat.stop();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.once('disconnect', stop);
    send({ type: 'ready' });
    await beat.done;
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    failed(error);
    // The message must reach the parent before the channel closes with this process.
    setTimeout(() => process.exit(1), 50);
  },
);
