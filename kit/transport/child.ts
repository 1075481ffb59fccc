/**
 * The entry of one worker process of lab 08 (see processes.ts), on the transport its environment names (BROKER_URL
 * set: RabbitMQ), telling its parent over IPC what it does. It stops warm on SIGTERM or SIGINT, and cold when its
 * parent is gone (the IPC channel closes): a drill's SIGKILL of the parent leaves no process behind.
 */
import { fileURLToPath } from 'node:url';
import { errorMessage, NotImplemented, todoIn } from '../../mini-queue/errors.ts';
import { trackFolder } from '../../mini-queue/parts.ts';
import { Worker } from '../../mini-queue/worker.ts';
import type { ChildEvent, ChildOptions } from './processes.ts';

const TASKS = fileURLToPath(new URL('./tasks.ts', import.meta.url));

function send(event: ChildEvent): void {
  if (process.connected) process.send?.(event);
}

const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
const onRabbit = options.transport === 'rabbitmq';
// Lab 08's broker from the track on RabbitMQ; lab 00's reference on Redis.
const broker = onRabbit ? trackFolder(options.track) : 'solutions';

async function main(): Promise<void> {
  const worker = await Worker.start({
    queue: options.queue,
    track: { broker },
    tasksPath: TASKS,
    pool: 'event-loop',
    concurrency: options.concurrency ?? 2,
    visibilityMs: options.visibilityMs ?? 5000,
    blockMs: 200,
  });
  worker.on('task', (run) => send({ type: 'task', run }));
  const stop = (cold: boolean) => void worker.stop({ cold });
  process.once('SIGTERM', () => stop(false));
  process.once('SIGINT', () => stop(false));
  process.once('disconnect', () => stop(true));
  send({ type: 'ready' });
  await worker.done;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    const todo = error instanceof NotImplemented ? error : todoIn(errorMessage(error));
    send({
      type: 'error',
      message: errorMessage(error),
      ...(todo ? { todo: todo.todo, hint: todo.hint } : {}),
    });
    // The message must reach the parent before the channel closes with this process.
    setTimeout(() => process.exit(1), 50);
  },
);
