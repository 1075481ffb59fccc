/**
 * mini-queue tasks run by piscina, for side-by-side comparisons (lab 03's demo, the benchmarks):
 *
 *   new Piscina({ filename: TS_THREAD_ENTRY, workerData: tsThreadData(PISCINA_TASK, { tasksPath }) })
 *   await piscina.run({ task: 'fib', args: [30] })
 *
 * Each piscina thread imports the tasks module by path once, like the kit's own threads pool.
 */
import { threadId, workerData } from 'node:worker_threads';
import { now } from '../clock.ts';
import { invokeTask, loadTasks, type TaskRegistry } from '../tasks.ts';

export const PISCINA_TASK = new URL(import.meta.url);

export interface PiscinaCall {
  task: string;
  args: unknown[];
}

export interface PiscinaOutcome {
  value: unknown;
  lane: string;
  startedAt: number;
  finishedAt: number;
}

let registry: Promise<TaskRegistry> | undefined;

export default async function runTask(call: PiscinaCall): Promise<PiscinaOutcome> {
  registry ??= loadTasks((workerData as { tasksPath: string }).tasksPath);
  const tasks = await registry;
  const startedAt = now();
  const value = await invokeTask(tasks, { id: 'piscina', attempt: 0, ...call }, new AbortController().signal);
  return { value, lane: `piscina-${threadId}`, startedAt, finishedAt: now() };
}
