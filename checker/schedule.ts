/**
 * Which labs `npm run check` may grade side by side, two at a time. Those whose checks measure the machine (the
 * speedups of 03 to 05, 06's latency under load) run alone: a neighbour would take the cores they measure. Labs
 * 00 to 02 wait on Redis, timers and sockets; their verdicts rest on evidence no load blurs (the checker passes
 * the reference with two busy loops beside it), so one may start while the one before it runs.
 */
const ALONE = new Set(['03-threads', '04-processes', '05-prefork', '06-showdown']);

/** May `next` run while `current` does? Labs not named here (a new one) run alone until shown safe. */
export function sideBySide(current: string, next: string): boolean {
  const known = /^0[0-6]-/;
  return known.test(current) && known.test(next) && !ALONE.has(current) && !ALONE.has(next);
}
