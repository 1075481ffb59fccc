/**
 * Tasks that leave evidence for lab 04's checks, where a wall clock would only guess: a runaway that writes its
 * pid before it ignores SIGTERM (so the check can prove with `process.kill(pid, 0)` that the time limit ended it),
 * a task that reports what its arguments arrived as (so the check sees what IPC's serialization kept), and one
 * that notes when it finished (so a child that lives on after its task is seen at once).
 */
import { appendFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineTasks } from '../../mini-queue/tasks.ts';

/** A runaway that survives a polite stop: writes its pid to `pidFile`, ignores SIGTERM/SIGINT/SIGHUP, spins. */
function stubborn(pidFile: string) {
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => {});
  writeFileSync(pidFile, String(process.pid));
  for (;;) {
    // Nothing yields: only a signal that cannot be caught ends this process.
  }
}

/** What each argument arrived as in the lane: `Map`, `Date`, `bigint`... (a Map sent as JSON arrives as `Object`). */
function kinds(...args: unknown[]) {
  return args.map((a) => (typeof a === 'object' && a !== null ? a.constructor.name : typeof a));
}

/** Waits ms on a timer, then says which process ran it. */
async function napPid(ms: number) {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { pid: process.pid };
}

/** Says which process ran it, and notes in `doneFile` when it finished (`pid ms` per line): a check can then see
 * whether the process outlived its one task, before any outcome reaches the pool. */
function whereAmINoted(doneFile: string) {
  appendFileSync(doneFile, `${process.pid} ${Date.now()}\n`);
  return { pid: process.pid };
}

/**
 * CPU-bound until `parties` tasks are running at the same time, or `ms` passes: each checks in with a file named
 * by its pid in `dir` and computes between looks. Evidence no load can fake: a slow fork only makes the others
 * wait longer, while a pool that runs one task at a time never has two checked in at once, because a task that
 * gives up takes its file away (one that met the others leaves it, so they see it too).
 */
function rendezvous(dir: string, parties: number, ms: number) {
  const started = Date.now();
  const mine = join(dir, String(process.pid));
  writeFileSync(mine, '');
  let present = 0;
  let sum = 0;
  while (Date.now() - started < ms) {
    present = readdirSync(dir).length;
    if (present >= parties) break;
    for (let i = 0; i < 100_000; i++) sum += i % 7;
  }
  if (present < parties) rmSync(mine, { force: true });
  return { pid: process.pid, met: present >= parties, present, sum };
}

export default defineTasks({ stubborn, kinds, napPid, whereAmINoted, rendezvous });
