/**
 * In a pool's child process (labs 04 and 05): the child dies with its parent, however the parent died, even while
 * a task holds the child's main thread.
 *
 * A child's own way out is the IPC channel's `'disconnect'`: the kernel closes the channel when the parent dies,
 * kill -9 included. But that is an event, and events run on the main thread: a child in a long CPU-bound task, or
 * in a runaway `for (;;) {}`, never gets to it. It lives on with ppid 1, burning a core, forever for a runaway.
 *
 * So a second watcher runs where a blocked main thread cannot hold it up: a tiny worker thread that reads
 * `process.ppid` four times a second. When the parent dies, even before anyone reaps it, the kernel hands its
 * children to init (or a subreaper), so the ppid changes at once; `kill(ppid, 0)` would still succeed on the
 * unreaped parent, and on a new process that reused its pid. If the parent is gone and the main thread has not
 * ticked for STALE_MS (a heartbeat in shared memory it bumps on a timer), the watchdog kills the whole process
 * with SIGKILL: `process.exit()` in a worker thread ends only that thread, and SIGTERM would wait for a handler
 * that the blocked main thread cannot run.
 *
 *   main thread ──every 100 ms: beat[0]++──▶ SharedArrayBuffer ◀──every 250 ms: ppid changed? beat stale? ── watchdog
 *                                                                                     both ▶ kill(pid, SIGKILL)
 *
 * Why not kill as soon as the parent is gone: a main thread that runs does get `'disconnect'`, and what the child
 * does then is its own code's business (lab 05's TODO 05.6 is exactly that, and a child that ignores it must stay
 * visible as an orphan to the checker). The watchdog only acts where the child's own code cannot.
 * Why not something else: `prctl(PR_SET_PDEATHSIG)` needs a native addon; moving the task off the child's main
 * thread would make every child a thread pool of its own. The cost here is one small thread per child, started
 * alongside the tasks module's import (a few tens of ms, not on the task's path).
 */
import { Worker } from 'node:worker_threads';

/** How long the main thread may go without a tick, once the parent is gone, before the process is killed. */
const STALE_MS = 2000;
const BEAT_MS = 100;
const CHECK_MS = 250;
let started = false;

// Plain JavaScript evaluated in the thread: no TypeScript loader to start, nothing to import but the thread's data.
const WATCHDOG = `
const { workerData } = require('node:worker_threads');
const { parentPid, beat, staleMs, checkMs } = workerData;
let seen = Atomics.load(beat, 0);
let seenAt = Date.now();
setInterval(() => {
  const now = Date.now();
  const current = Atomics.load(beat, 0);
  if (current !== seen) {
    seen = current;
    seenAt = now;
  }
  if (process.ppid !== parentPid && now - seenAt > staleMs) process.kill(process.pid, 'SIGKILL');
}, checkMs);
`;

/**
 * Starts the watchdog in this child process (once; a process that is not a forked child gets none). Call it
 * first thing: a task module that spins while it is imported is covered too.
 */
export function startParentWatchdog(): void {
  if (started || !process.send) return;
  started = true;
  const beat = new Int32Array(new SharedArrayBuffer(4));
  // unref'd: the heartbeat and the thread never keep the child alive, so an idle child still exits on its own.
  setInterval(() => Atomics.add(beat, 0, 1), BEAT_MS).unref();
  const watchdog = new Worker(WATCHDOG, {
    eval: true,
    // Not the child's flags (`--import tsx`): the thread runs plain JavaScript, and starts faster without them.
    execArgv: [],
    workerData: { parentPid: process.ppid, beat, staleMs: STALE_MS, checkMs: CHECK_MS },
  });
  watchdog.unref();
  // A watchdog that cannot start leaves the child as it was before (the 'disconnect' handler still works).
  watchdog.on('error', () => {});
}
