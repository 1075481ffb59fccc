import { execFileSync } from 'node:child_process';
import type { PoolKind } from '../../mini-queue/pool.ts';
import { Queue } from '../../mini-queue/queue.ts';
import { alive, start } from './cli.ts';
import { until } from './queues.ts';

export interface DrillResult {
  stats: Record<string, number>;
  /** Child processes of the killed workers still alive after the drill. */
  survivors: number[];
  /** Succeeded counts at each kill. */
  killedAt: number[];
}

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * The crash drill: `total` CPU tasks on a fresh queue; a worker process with the given pool is killed with
 * kill -9 twice midway and replaced; the third one finishes. Returns the final counts and any child process of
 * a killed worker that outlived it.
 */
export async function crashDrill(
  queueName: string,
  pool: PoolKind,
  total: number,
  args: unknown[] = [24],
): Promise<DrillResult> {
  const queue = new Queue({ name: queueName });
  try {
    await queue.enqueueMany(
      'fib',
      Array.from({ length: total }, () => args),
    );
    const succeeded = async () => (await queue.stats()).succeeded;
    const workerArgs = [
      'mini-queue',
      'worker',
      '--pool',
      pool,
      '--concurrency',
      '2',
      '--queue',
      queueName,
      '--visibility',
      '1000',
    ];
    const orphans: number[] = [];
    const killedAt: number[] = [];
    for (const share of [1 / 3, 2 / 3]) {
      const worker = start(workerArgs);
      await until(async () => (await succeeded()) >= Math.floor(total * share), 120_000);
      orphans.push(...childrenOf(worker.pid!));
      killedAt.push(await succeeded());
      worker.kill('SIGKILL');
      await until(() => !alive(worker.pid!), 5000);
    }
    const last = start(workerArgs);
    try {
      await until(async () => (await succeeded()) >= total, 120_000);
    } finally {
      last.kill('SIGTERM');
      await new Promise((resolve) => last.once('close', resolve));
    }
    // Children of a killed worker notice that their parent is gone and exit; give them a moment.
    await until(() => orphans.every((pid) => !alive(pid)), 5000).catch(() => {});
    return { stats: { ...(await queue.stats()) }, survivors: orphans.filter((pid) => alive(pid)), killedAt };
  } finally {
    await queue.close();
  }
}
