import Table from 'cli-table3';
import type { WorkerBeat } from './types.ts';

/**
 * `npx tsx mini-queue inspect`: the live workers of a queue as a table, and under it the tasks each lane runs now
 * (Celery's `inspect stats` and `inspect active` in one). Pure: it renders the heartbeat records it is given, as
 * of `now`, so a test can check it without a clock.
 */
export function renderInspect(queue: string, beats: WorkerBeat[], now = Date.now()): string {
  if (beats.length === 0) return noWorkers(queue);
  const workers = new Table({
    head: ['worker', 'host/pid', 'pool', 'in flight', 'done', 'failed', 'retried', 'up', 'heartbeat'],
    style: { head: [], border: [] },
  });
  for (const beat of beats) {
    workers.push([
      beat.id,
      `${beat.host}/${beat.pid}`,
      `${beat.pool}×${beat.concurrency}${beat.processes === undefined ? '' : ` in ${beat.processes} processes`}`,
      String(beat.inFlight),
      String(beat.done),
      String(beat.failed),
      String(beat.retried),
      duration(now - beat.startedAt),
      `${seconds(now - beat.beatAt)} ago`,
    ]);
  }
  const lines = [
    `Queue '${queue}': ${beats.length} worker${beats.length === 1 ? '' : 's'} alive`,
    workers.toString(),
  ];
  const active = new Table({
    head: ['worker', 'lane', 'task', 'id', 'running for'],
    style: { head: [], border: [] },
  });
  let running = 0;
  for (const beat of beats) {
    for (const lane of beat.lanes) {
      if (!lane.task) continue;
      running++;
      active.push([beat.id, lane.name, lane.task.name, lane.task.id, seconds(now - lane.task.since)]);
    }
  }
  const lanes = beats.reduce((n, beat) => n + beat.lanes.length, 0);
  lines.push(
    running === 0
      ? `Active: none of the ${lanes} lanes runs a task (as of each worker's last heartbeat).`
      : `Active: ${running} of ${lanes} lanes run a task (as of each worker's last heartbeat)\n${active.toString()}`,
  );
  return lines.join('\n');
}

/** The one line when no worker is alive: on `queue`, or (undefined) on any queue. */
export function noWorkers(queue: string | undefined): string {
  const where = queue === undefined ? 'on any queue' : `on queue '${queue}'`;
  const start =
    queue === undefined ? 'npx tsx mini-queue worker' : `npx tsx mini-queue worker --queue ${queue}`;
  return `No worker is alive ${where} (none has written a heartbeat in the last 3 s). Start one: ${start}`;
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
