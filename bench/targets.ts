/**
 * The targets, judged on the medians of one run. Reported as met or not met; they never fail the run:
 * a shared, noisy machine must not make `npm run bench` exit non-zero.
 */

import { CHECKER_BAR_SECONDS, type CheckerTimeResult } from './checker-time.ts';
import { atP, type CpuResult } from './cpu.ts';
import type { DispatchResult } from './dispatch.ts';
import { type IoResult, ioPoolName } from './io.ts';
import type { QueueResult } from './queue.ts';

export interface Target {
  target: string;
  value: number;
  /** What the value must reach. */
  bar: number;
  met: boolean;
}

export function judge(results: {
  queue?: QueueResult;
  dispatch?: DispatchResult;
  cpu?: CpuResult;
  io?: IoResult;
  checker?: CheckerTimeResult;
}): Target[] {
  const targets: Target[] = [];
  const add = (target: string, value: number, bar: number) =>
    targets.push({ target, value, bar, met: Number.isFinite(value) && value >= bar });
  const { queue, dispatch, cpu, io, checker } = results;
  if (queue) {
    const { 'mini-queue': ours, bullmq, 'bee-queue': bee } = queue.systems;
    const speed = (peer: typeof ours) => ours.processedPerSec.median / peer.processedPerSec.median;
    add('queue throughput >= 2x BullMQ (processed/s, ours / theirs)', speed(bullmq), 2);
    add('queue throughput >= 1.3x Bee-Queue (processed/s, ours / theirs)', speed(bee), 1.3);
    // CPU per task at most half BullMQ's: theirs / ours at least 2.
    const cpuRatio = bullmq.cpuMicrosPerTask.median / ours.cpuMicrosPerTask.median;
    add('queue CPU per task <= 0.5x BullMQ (theirs / ours)', cpuRatio, 2);
    // Issue 19: the dashboard's task events (on by default, a subscriber listening) cost at most 5% of throughput.
    add(
      'task events on, a subscriber listening, >= 0.95x off (processed/s, median of pairs run at once)',
      queue.eventsRatio.median,
      0.95,
    );
    // Only when nobody else listened: a dashboard open elsewhere on this Redis hears those runs too.
    if (queue.foreignPatterns === 0) {
      add(
        'task events on, nobody listening, >= 0.95x off (processed/s, median of pairs run at once)',
        queue.eventsUnheardRatio.median,
        0.95,
      );
    }
  }
  if (dispatch) add('threads pool dispatch >= piscina (speed, ours / theirs)', dispatch.ratio, 1);
  if (cpu) {
    const piscina = atP(cpu, 'piscina').efficiency;
    for (const kind of ['threads', 'prefork'] as const) {
      const { efficiency } = atP(cpu, kind);
      add(`${kind}: efficiency at P >= 0.9`, efficiency, 0.9);
      add(`${kind}: efficiency at P >= piscina's (${piscina.toFixed(2)})`, efficiency, piscina);
    }
  }
  if (io) {
    for (const point of io.points.filter((p) => p.concurrency === 100 && p.processes === 0)) {
      add(`${point.pool}: I/O at C = 100 >= 0.9 of Little's law`, point.fraction, 0.9);
    }
    for (const point of io.points.filter((p) => p.concurrency === 1000 && p.processes > 0)) {
      add(`${ioPoolName(point)}: I/O at C = 1000 >= 0.6 of Little's law`, point.fraction, 0.6);
    }
  }
  if (checker) {
    // Judged as bar / ours (>= 1 when under the bar); the wall time of a busy machine says less: see its load.
    add(
      `npm run check -- --solution < ${CHECKER_BAR_SECONDS} s (bar / ours; load ${checker.loadAtStart.toFixed(1)})`,
      CHECKER_BAR_SECONDS / checker.wallSeconds,
      1,
    );
  }
  return targets;
}
