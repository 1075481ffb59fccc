/**
 * The process groups the grader starts (a spec's vitest, a runner of several specs): each detached, so a time-out
 * can stop everything one started (vitest's workers, any thread or child a lab started) with one kill.
 */

/**
 * Spec process groups still running. Detached (so a time-out can kill a whole group), they miss the terminal's
 * Ctrl-C: while any runs we listen for it, stop them, and exit unless the program has its own handler (the lab
 * menu goes back to its menu).
 */
const running = new Set<number>();
function onSignal(signal: NodeJS.Signals): void {
  for (const pid of running) killGroup(pid);
  if (process.listenerCount(signal) === 1) process.exit(130);
}
export function watchGroup(pid: number): void {
  if (running.size === 0) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', killAll);
  }
  running.add(pid);
}
export function unwatchGroup(pid: number): void {
  running.delete(pid);
  if (running.size === 0) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killAll);
  }
}
function killAll(): void {
  for (const pid of running) killGroup(pid);
}

export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {}
}
