import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The live children of `pid` whose command line contains `match` (read from /proc: no process spawned). */
export function childrenOf(pid: number, match = ''): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    // [0] state, [1] ppid
    if (!fields || Number(fields[1]) !== pid || fields[0] === 'Z') continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(match)) found.push(Number(entry));
    } catch {
      // Gone between the two reads.
    }
  }
  return found;
}

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux this kit runs on

/** CPU seconds (user + system) `pid` has used, or undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  const fields = statFields(pid);
  // utime and stime are fields 14 and 15 of stat, [11] and [12] here.
  return fields ? (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND : undefined;
}

/** How long ago `pid` started, in ms (10 ms resolution), or undefined once it is gone. */
export function ageMs(pid: number): number | undefined {
  const fields = statFields(pid);
  if (!fields) return undefined;
  // starttime is field 22 of stat, [19] here, in ticks since boot.
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Math.round((uptime - Number(fields[19]) / TICKS_PER_SECOND) * 1000);
}
