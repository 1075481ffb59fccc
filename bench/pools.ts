/**
 * The pools every section compares: the kit's reference pools (the solutions of labs 01-05) and piscina, both
 * running the example tasks, so a difference between them is the pool's and not the tasks'.
 */
import { Piscina } from 'piscina';
import { poolFactory, workerPoolFactory } from '../mini-queue/parts.ts';
import type { Pool, PoolKind } from '../mini-queue/pool.ts';
import { PISCINA_TASK } from '../mini-queue/runtime/piscina-task.ts';
import { TS_THREAD_ENTRY, tsThreadData } from '../mini-queue/runtime/typescript.ts';
import { EXAMPLE_TASKS_PATH, loadTasks, type TaskRegistry } from '../mini-queue/tasks.ts';

let registry: Promise<TaskRegistry> | undefined;

/** The reference pool of `kind`, started and ready for the example tasks. */
export async function kitPool(kind: PoolKind, concurrency: number): Promise<Pool> {
  registry ??= loadTasks(EXAMPLE_TASKS_PATH);
  const createPool = await poolFactory(kind, 'solutions');
  return createPool({ concurrency, tasksPath: EXAMPLE_TASKS_PATH, registry: await registry });
}

/** The reference pool of `kind` run in each of `processes` child processes, `concurrency` split between them. */
export async function kitPoolIn(kind: PoolKind, processes: number, concurrency: number): Promise<Pool> {
  registry ??= loadTasks(EXAMPLE_TASKS_PATH);
  const createPool = await workerPoolFactory(kind, 'solutions', processes);
  return createPool({ concurrency, tasksPath: EXAMPLE_TASKS_PATH, registry: await registry });
}

/** piscina with exactly `threads` threads (none started or stopped mid-run), each with the example tasks. */
export function piscinaPool(threads: number): Piscina {
  return new Piscina({
    filename: TS_THREAD_ENTRY,
    workerData: tsThreadData(PISCINA_TASK, { tasksPath: EXAMPLE_TASKS_PATH }),
    minThreads: threads,
    maxThreads: threads,
  });
}
