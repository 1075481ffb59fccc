import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';

export interface MachineFacts {
  /** Cores a parallel run can use: min(availableParallelism, cgroup cpu.max quota). */
  cores: number;
  availableParallelism: number;
  cgroupQuota: number | undefined;
  cpuModel: string;
  node: string;
  libuv: string;
  platform: string;
  /** 1-minute load average when the run started. */
  loadAverage: number;
}

/** The cgroup v2 CPU quota in cores (`cpu.max` = "quota period"), or undefined when unlimited or unknown. */
export function cgroupCpuQuota(text?: string): number | undefined {
  let content = text;
  if (content === undefined) {
    try {
      content = readFileSync('/sys/fs/cgroup/cpu.max', 'utf8');
    } catch {
      return undefined;
    }
  }
  const [quota, period] = content.trim().split(/\s+/);
  if (!quota || quota === 'max' || !period) return undefined;
  const cores = Number(quota) / Number(period);
  return Number.isFinite(cores) && cores > 0 ? cores : undefined;
}

export function machineFacts(): MachineFacts {
  const quota = cgroupCpuQuota();
  const available = availableParallelism();
  return {
    cores: Math.max(1, Math.min(available, quota === undefined ? available : Math.floor(quota))),
    availableParallelism: available,
    cgroupQuota: quota,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    libuv: process.versions.uv ?? 'unknown',
    platform: `${process.platform}-${process.arch}`,
    loadAverage: Number((loadavg()[0] ?? 0).toFixed(2)),
  };
}

/** A one-line warning when other work already keeps the cores busy: timings will be low and noisy. */
export function busyWarning(facts: MachineFacts): string | undefined {
  if (facts.loadAverage < facts.cores * 0.75) return undefined;
  return `The machine is busy (load ${facts.loadAverage} on ${facts.cores} cores): speedups may read low. Close other work and re-run.`;
}

/** The 1-minute load average now, as MachineFacts rounds it. */
export function loadNow(): number {
  return Number((loadavg()[0] ?? 0).toFixed(2));
}

/**
 * CPU seconds (user + system) used so far by this process and by the children it has waited for, theirs
 * included (Linux: /proc/self/stat, in the kernel's fixed 100 ticks a second); undefined elsewhere. A child still
 * running is not counted yet: read it once every child has exited.
 */
export function cpuSecondsWithChildren(stat?: string): number | undefined {
  let text = stat;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/stat', 'utf8');
    } catch {
      return undefined;
    }
  }
  // Fields after the command name (which may hold spaces, hence after its closing parenthesis): utime, stime,
  // cutime and cstime are the 14th to 17th of the line, the 12th to 15th after it.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].map((i) => Number(fields[i]));
  if (ticks.some((t) => !Number.isFinite(t))) return undefined;
  return Number((ticks.reduce((a, b) => a + b, 0) / 100).toFixed(2));
}
