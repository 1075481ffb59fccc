/**
 * mini-queue's public surface: what a script in this repo imports.
 *
 *   import { Queue, defineTasks } from './mini-queue/index.ts';
 */
export { Beat, type BeatOptions, type BeatTick } from './beat.ts';
export type { Broker, BrokerOptions, QueueStats, ResultRecord, TaskState } from './broker.ts';
export { type Signature, type SignatureOptions, sig } from './canvas.ts';
export {
  CanvasTimeoutError,
  ChainFailedError,
  ChainHandle,
  ChordFailedError,
  ChordHandle,
  type GetOptions,
  GroupFailedError,
  GroupHandle,
  type MemberFailure,
} from './canvas-handles.ts';
export { Cancelled, type Coroutine, join, sleep, wait } from './coroutines.ts';
export type { EnqueueOptions, Envelope } from './envelope.ts';
export { NotImplemented, UserError } from './errors.ts';
export { type FastBroker, isFastBroker } from './fast-broker.ts';
export type { Track } from './parts.ts';
export type { CreatePool, Pool, PoolKind, PoolOptions, TaskCall, TaskOutcome } from './pool.ts';
export { POOL_KINDS } from './pool.ts';
export {
  Queue,
  type QueueOptions,
  RedisUnavailableError,
  ResultTimeoutError,
  TaskFailedError,
  TaskHandle,
} from './queue.ts';
export type { RateLimit } from './rate.ts';
export { type ConnectionDecorator, decorateConnections } from './redis/client.ts';
export { checkSchedule, defineSchedule, loadSchedule, type ScheduleEntry } from './schedule.ts';
export {
  defineTasks,
  EXAMPLE_TASKS_PATH,
  type TaskContext,
  type TaskOptions,
  type TaskRegistry,
} from './tasks.ts';
export { type TaskRun, Worker, type WorkerOptions } from './worker.ts';
