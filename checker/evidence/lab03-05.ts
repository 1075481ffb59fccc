/**
 * Evidence for the checks of labs 03 (threads) and 05 (prefork) that a busy machine cannot blur: which lanes the
 * pool started and when each one ended (its handles' own 'exit'), whether a process is still alive (kill 0, ps),
 * and how the CPU-bound tasks' run intervals, taken by the tasks' own clocks, overlapped. No verdict here rests on
 * a wall-clock ratio: a loaded laptop stretches every interval alike, but cannot make two runs on one thread
 * overlap, nor keep a killed process running.
 */

import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { fib } from '../../mini-queue/examples/tasks.ts';
import type { Pool, TaskOutcome } from '../../mini-queue/pool.ts';

type Handle = Worker | ChildProcess;

export interface LaneLife {
  /** `thread-<threadId>` or `pid-<pid>`, as the pool names its lanes. */
  name: string;
  handle: Handle;
  /** Started as a replacement (after the pool was up), not at start-up. */
  replacement: boolean;
  exited: boolean;
}

export interface LaneWatch {
  /** Every lane the pool started, in order: the first ones, then each replacement. */
  all(): LaneLife[];
  /** Lanes started and not exited (starting ones included). */
  live(): LaneLife[];
  /** Lanes in service: said `ready`, not retired, not exited (the pool's own flags). */
  ready(): number;
  replacements(): LaneLife[];
  exited(): LaneLife[];
  /** One line for a failure message: started, died, replaced, alive now. */
  summary(): string;
}

/**
 * Watches the lanes of a lane pool (mini-queue/lane-pool.ts): the ones it holds now, and every one it starts from
 * here on (its `spawn()` is wrapped), each with an 'exit' listener of ours. The pool itself is untouched.
 */
export function watchLanes(pool: Pool): LaneWatch {
  const lives: LaneLife[] = [];
  const add = (handle: Handle, replacement: boolean) => {
    const life: LaneLife = { name: laneName(handle), handle, replacement, exited: hasExited(handle) };
    lives.push(life);
    handle.once('exit', () => {
      life.exited = true;
    });
  };
  const inner = pool as unknown as {
    lanes?: Set<{ handle: Handle; ready?: boolean; retired?: boolean }>;
    spawn?: () => Handle;
  };
  for (const lane of inner.lanes ?? []) add(lane.handle, false);
  const spawn = inner.spawn;
  if (typeof spawn === 'function') {
    inner.spawn = function (this: unknown) {
      const handle = spawn.call(this);
      add(handle, true);
      return handle;
    };
  }
  const api: LaneWatch = {
    all: () => [...lives],
    live: () => lives.filter((l) => !l.exited),
    ready: () => [...(inner.lanes ?? [])].filter((l) => l.ready && !l.retired && !hasExited(l.handle)).length,
    replacements: () => lives.filter((l) => l.replacement),
    exited: () => lives.filter((l) => l.exited),
    summary: () =>
      `${lives.filter((l) => !l.replacement).length} started at first, ${api.exited().length} exited, ` +
      `${api.replacements().length} started since, ${api.live().length} alive now (${api
        .live()
        .map((l) => l.name)
        .join(', ')})`,
  };
  return api;
}

function laneName(handle: Handle): string {
  return 'threadId' in handle ? `thread-${handle.threadId}` : `pid-${handle.pid}`;
}

function hasExited(handle: Handle): boolean {
  if ('threadId' in handle) return handle.threadId < 0;
  return handle.exitCode !== null || handle.signalCode !== null;
}

/** Waits until `ready()` holds, checking every 25 ms, for at most `ms`; resolves whether it held. */
export async function until(ready: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

export type ProcessState = 'gone' | 'zombie' | 'running' | 'sleeping' | 'stopped' | 'alive';

/**
 * A process's life as `ps` sees it: gone, a zombie (dead, not yet reaped by its parent: it runs nothing), or
 * alive, with what it does (R running, S/D sleeping, T stopped). kill(pid, 0) where there is no `ps`.
 */
export function processState(pid: number): ProcessState {
  try {
    process.kill(pid, 0);
  } catch {
    return 'gone';
  }
  let stat = '';
  try {
    stat = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  } catch {
    // ps exits 1 for a pid it does not list: it went between the two looks.
    return 'gone';
  }
  if (stat === '') return 'alive';
  const code = stat[0];
  return code === 'Z'
    ? 'zombie'
    : code === 'R'
      ? 'running'
      : code === 'S' || code === 'D' || code === 'I'
        ? 'sleeping'
        : code === 'T'
          ? 'stopped'
          : 'alive';
}

/** Alive and able to run code: not gone and not a zombie. */
export function stillRuns(pid: number): boolean {
  const state = processState(pid);
  return state !== 'gone' && state !== 'zombie';
}

/** CPU time a process has used so far, ms (Linux /proc), or undefined. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * The smallest n for which fib(n) takes at least `targetMs` here, never below `floor`: the best of three timings
 * each, since on a busy machine one preemption inside a short run would pass for a slow fib and pick an n far
 * too small (kit/parallel.ts's calibrateFib times each n once).
 */
export function sizeFib(targetMs: number, floor = 27): number {
  fib(20);
  for (let n = floor; n < 40; n++) {
    let best = Number.POSITIVE_INFINITY;
    for (let k = 0; k < 3 && best >= targetMs; k++) {
      const started = performance.now();
      fib(n);
      best = Math.min(best, performance.now() - started);
    }
    if (best >= targetMs) return n;
  }
  return 40;
}

/** What a `crunch` task (checker/fixtures/lab03-05-tasks.ts) says about its own run. */
export interface CrunchRun {
  value: number;
  startedAt: number;
  finishedAt: number;
  cpuMs?: number;
  pid: number;
  threadId: number;
}

export interface Overlap {
  /** Tasks that ran and said where. */
  tasks: number;
  /** Distinct threads of execution (pid + threadId) the tasks say they ran on. */
  lanes: number;
  /** From the first start to the last finish, ms. */
  spanMs: number;
  /** Time during which two or more tasks ran at once on distinct lanes, ms. */
  togetherMs: number;
  /** togetherMs / spanMs. */
  fraction: number;
  /** Mean of each task's CPU time over its own wall time (1 on an idle core), when the tasks could measure it. */
  cpuShare?: number;
}

/**
 * How much of a batch of CPU-bound, synchronous tasks ran side by side, from the tasks' own clocks and their own
 * word on where they ran (not the pool's lane names). One thread can never run two such tasks at once, however
 * fast or loaded the machine: any overlap needs two threads of execution.
 */
export function crunchOverlap(outcomes: TaskOutcome[]): Overlap {
  const runs = outcomes.flatMap((o) => (o.ok && isCrunch(o.value) ? [o.value] : []));
  const lane = (r: CrunchRun) => `${r.pid}/${r.threadId}`;
  const edges = runs.flatMap((r) => [
    { at: r.startedAt, lane: lane(r), delta: 1 },
    { at: r.finishedAt, lane: lane(r), delta: -1 },
  ]);
  // Ends before starts at the same instant: touching runs do not overlap.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  const running = new Map<string, number>();
  let togetherMs = 0;
  let previous = edges[0]?.at ?? 0;
  for (const edge of edges) {
    const lanesBusy = [...running.values()].filter((n) => n > 0).length;
    if (lanesBusy >= 2) togetherMs += edge.at - previous;
    running.set(edge.lane, (running.get(edge.lane) ?? 0) + edge.delta);
    previous = edge.at;
  }
  const spanMs = runs.length
    ? Math.max(...runs.map((r) => r.finishedAt)) - Math.min(...runs.map((r) => r.startedAt))
    : 0;
  const shares = runs.flatMap((r) =>
    r.cpuMs === undefined || r.finishedAt - r.startedAt < 20 ? [] : [r.cpuMs / (r.finishedAt - r.startedAt)],
  );
  return {
    tasks: runs.length,
    lanes: new Set(runs.map(lane)).size,
    spanMs,
    togetherMs,
    fraction: spanMs > 0 ? togetherMs / spanMs : 0,
    ...(shares.length ? { cpuShare: shares.reduce((a, b) => a + b, 0) / shares.length } : {}),
  };
}

function isCrunch(value: unknown): value is CrunchRun {
  const v = value as Partial<CrunchRun> | null;
  return typeof v?.startedAt === 'number' && typeof v.finishedAt === 'number' && typeof v.pid === 'number';
}

/** The most spans running at one instant (a span ending exactly when another starts does not count twice). */
export function mostAtOnce(spans: Array<{ startedAt: number; finishedAt: number }>): number {
  return Math.max(
    0,
    ...spans.map(
      ({ startedAt }) => spans.filter((s) => s.startedAt <= startedAt && startedAt < s.finishedAt).length,
    ),
  );
}
