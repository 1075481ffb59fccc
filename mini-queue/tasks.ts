import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { errorMessage, UserError } from './errors.ts';
import { type RateLimit, rateInterval } from './rate.ts';

/** What a running task can see as `this` (Celery's bound task `self`). */
export interface TaskContext {
  /** The task id. */
  readonly id: string;
  /** 0 on the first run, +1 on each retry. */
  readonly attempt: number;
  /** Aborted when the task's time limit passes or the worker shuts down cold: pass it to fetch() and friends. */
  readonly signal: AbortSignal;
}

// biome-ignore lint/suspicious/noExplicitAny: task arguments are whatever JSON the producer sends.
export type TaskFn = (this: TaskContext, ...args: any[]) => unknown;

const REGISTRY = Symbol.for('mini-queue.tasks');
const OPTIONS = Symbol.for('mini-queue.task-options');

/** What a task can declare beside its function (the second argument of defineTasks). */
export interface TaskOptions {
  /**
   * At most this many starts of the task, spaced evenly: `'10/s'`, `'100/m'`, `'1000/h'`, or a number (per
   * second), as Celery's `@app.task(rate_limit='10/s')`. Unlike Celery's, which each worker counts for itself,
   * the limit is shared by every worker on the queue (counted in Redis, see mini-queue/rate-limit.ts). A task
   * over its limit waits in the delayed set, holding no slot.
   */
  rateLimit?: RateLimit;
}

export type TaskRegistry<T extends Record<string, TaskFn> = Record<string, TaskFn>> = Readonly<T> & {
  readonly [REGISTRY]: true;
  readonly [OPTIONS]?: Readonly<Record<string, TaskOptions | undefined>>;
};

/** The kit's example tasks (talk examples: mails, scraping, thumbnails, an ML model, fib). */
export const EXAMPLE_TASKS_PATH = fileURLToPath(new URL('./examples/tasks.ts', import.meta.url));

/**
 * Registers tasks by name: `export default defineTasks({ fib, sendEmail })`. A message can only ask for a name
 * in here; the worker looks it up and never imports anything a message names. Options per task come second:
 * `defineTasks({ fib, sendEmail }, { sendEmail: { rateLimit: '10/s' } })`.
 */
export function defineTasks<T extends Record<string, TaskFn>>(
  tasks: T,
  options: { [K in keyof T]?: TaskOptions } = {},
): TaskRegistry<T> {
  for (const [name, fn] of Object.entries(tasks)) {
    if (typeof fn !== 'function')
      throw new UserError(`defineTasks: '${name}' must be a function, got ${typeof fn}`);
  }
  for (const [name, declared] of Object.entries(options as Record<string, TaskOptions | undefined>)) {
    if (!Object.hasOwn(tasks, name)) {
      throw new UserError(`defineTasks: options for '${name}', which is not a task here`);
    }
    const limit = declared?.rateLimit;
    try {
      if (limit !== undefined) rateInterval(limit);
    } catch (error) {
      throw new UserError(`defineTasks: '${name}': ${errorMessage(error)}`);
    }
  }
  return Object.freeze({ ...tasks, [REGISTRY]: true as const, [OPTIONS]: Object.freeze({ ...options }) });
}

/** The options a task was defined with (defineTasks' second argument). */
export function taskOptions(registry: TaskRegistry, name: string): TaskOptions | undefined {
  return registry[OPTIONS]?.[name];
}

export function isTaskRegistry(value: unknown): value is TaskRegistry {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[REGISTRY] === true;
}

export function taskNames(registry: TaskRegistry): string[] {
  return Object.keys(registry).sort();
}

/** Own, enumerable names only: `constructor`, `__proto__` or `toString` are not tasks. */
export function lookupTask(registry: TaskRegistry, name: string): TaskFn | undefined {
  return Object.hasOwn(registry, name) ? registry[name] : undefined;
}

export function unknownTaskMessage(name: string, registry: TaskRegistry): string {
  return `unknown task '${name}' (known: ${taskNames(registry).join(', ')})`;
}

const MODULE_FILE = /\.(ts|mts|cts|tsx|js|mjs|cjs|jsx)$/;

/** Why a module failed to load, in one line: the message, and the first place in the module itself. */
function loadError(error: unknown, file: string): string {
  const message = errorMessage(error)
    .replace(/^Transform failed with \d+ errors?:\s*/, '')
    .replace(/\s*\n\s*/g, ' ');
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  const at = stack
    .split('\n')
    .find((line) => line.includes(file))
    ?.trim();
  return at && !message.includes(file) ? `${message} (${at})` : message;
}

/** Imports a tasks module by path and checks that its default export came from defineTasks. */
export async function loadTasks(path: string = EXAMPLE_TASKS_PATH): Promise<TaskRegistry> {
  const absolute = resolve(path);
  if (!existsSync(absolute)) throw new UserError(`No tasks module at ${path}: pass --tasks path/to/tasks.ts`);
  if (!MODULE_FILE.test(absolute)) {
    throw new UserError(
      `${path} is not a TypeScript or JavaScript module: pass the file that does \`export default defineTasks({ ... })\``,
    );
  }
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(absolute).href)) as { default?: unknown };
  } catch (error) {
    // It does not compile, or throws as it loads: one line, with where, as for any bad input.
    throw new UserError(`Cannot load the tasks module ${path}: ${loadError(error, absolute)}`);
  }
  if (!isTaskRegistry(module.default)) {
    throw new UserError(`${path} must \`export default defineTasks({ ... })\` (from mini-queue/index.ts)`);
  }
  return module.default;
}

/**
 * Runs one named task with its context. Throws for an unknown name, like the task itself would. Without a
 * `signal` (a run nothing can abort), the context makes one only if the task reads it.
 */
export async function invokeTask(
  registry: TaskRegistry,
  call: { id: string; task: string; args: unknown[]; attempt: number },
  signal?: AbortSignal,
): Promise<unknown> {
  const fn = lookupTask(registry, call.task);
  if (!fn) throw new Error(unknownTaskMessage(call.task, registry));
  const context = signal ? { id: call.id, attempt: call.attempt, signal } : new UnabortableContext(call);
  return await fn.apply(context, call.args);
}

/** The context of a run without a time limit: most tasks never read the signal, so it is made on first use. */
class UnabortableContext implements TaskContext {
  readonly id: string;
  readonly attempt: number;
  private controller: AbortController | undefined;
  constructor(call: { id: string; attempt: number }) {
    this.id = call.id;
    this.attempt = call.attempt;
  }
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }
}
