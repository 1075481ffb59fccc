/**
 * The targets, judged on the medians of one run. Reported as met or not met; they never fail the run:
 * a shared, noisy machine must not make `npm run bench` exit non-zero.
 */
import { atP, type CpuResult } from './cpu.ts';
import type { DispatchResult } from './dispatch.ts';
import type { IoResult } from './io.ts';
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
}): Target[] {
  const targets: Target[] = [];
  const add = (target: string, value: number, bar: number) =>
    targets.push({ target, value, bar, met: Number.isFinite(value) && value >= bar });
  const { queue, dispatch, cpu, io } = results;
  if (queue) {
    const { 'mini-queue': ours, bullmq } = queue.systems;
    const ratio = ours.processedPerSec.median / bullmq.processedPerSec.median;
    add('queue throughput >= 2x BullMQ (processed/s, ours / theirs)', ratio, 2);
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
    for (const point of io.points.filter((p) => p.concurrency === 100)) {
      add(`${point.pool}: I/O at C = 100 >= 0.9 of Little's law`, point.fraction, 0.9);
    }
  }
  return targets;
}
