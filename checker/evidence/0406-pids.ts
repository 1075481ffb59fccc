/**
 * Evidence about processes that no load can fake: whether a pid still names a process (`kill(pid, 0)`), and how
 * many spans ran at once by the tasks' own clocks (the most that overlapped at any instant).
 */

/** True while `pid` names a process (a zombie not yet reaped counts: it is not gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits up to `ms` for `pid` to be gone; true if it is. Polls, so a quick exit is seen at once. */
export async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  return !alive(pid);
}

/** The most spans running at the same instant: one definition for every spec (evidence/overlap.ts). */
export { maxOverlap as mostAtOnce } from './overlap.ts';
