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
  /** More worker flags, e.g. ['--processes', '2']. */
  extraWorkerArgs: string[] = [],
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
      ...extraWorkerArgs,
    ];
    const orphans: number[] = [];
    const killedAt: number[] = [];
    // Each third of the run: 2 minutes, or 2 s a task when that is longer (the processes pool forks a Node per
    // task: about one task a second at c=2 on a 2-core machine at load 15).
    const stageMs = Math.max(120_000, Math.ceil(total / 3) * 2000);
    for (const share of [1 / 3, 2 / 3]) {
      const worker = start(workerArgs);
      // A stage that fails stops its worker: nothing of a failed drill runs on (or declares its queue again).
      await until(async () => (await succeeded()) >= Math.floor(total * share), stageMs).catch((error) => {
        worker.kill('SIGKILL');
        throw error;
      });
      orphans.push(...childrenOf(worker.pid!));
      killedAt.push(await succeeded());
      worker.kill('SIGKILL');
      await until(() => !alive(worker.pid!), 5000);
    }
    const last = start(workerArgs);
    try {
      await until(async () => (await succeeded()) >= total, stageMs);
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

/** The victim's tasks: long, so it still runs them when it is killed however slow the survivor is to start. */
const SLEEP_MS = 30_000;

export interface Redelivery {
  /** From the kill -9 to the first of the victim's tasks starting again on the survivor, ms. */
  ms: number;
  /** How many tasks the victim held, started, when it was killed. */
  held: number;
}

/**
 * The time to redelivery: a victim worker holds one started `sleep` task per slot (one slot, or one per process
 * with --processes) and nothing else is queued; an idle survivor worker is up; the victim is killed with kill -9, and the clock runs until one of its
 * tasks starts again (its STARTED record's startedAt, set by the survivor). On Redis that is the lease running
 * out (--visibility) and a recover() noticing; on RabbitMQ, the server seeing the victim's socket close.
 * Both workers and the producer follow the caller's environment (BROKER_URL).
 */
export async function redeliveryDrill(
  queueName: string,
  pool: PoolKind,
  visibilityMs = 1000,
  extraWorkerArgs: string[] = [],
): Promise<Redelivery> {
  const queue = new Queue({ name: queueName });
  // One task per slot, each slot busy with one: the victim holds them all, started, and nothing else waits.
  const at = extraWorkerArgs.indexOf('--processes');
  const slots = at < 0 ? 1 : Number(extraWorkerArgs[at + 1]);
  const workerArgs = [
    'mini-queue',
    'worker',
    '--pool',
    pool,
    '--concurrency',
    String(slots),
    '--queue',
    queueName,
    '--visibility',
    String(visibilityMs),
    ...extraWorkerArgs,
  ];
  const started: Array<ReturnType<typeof start>> = [];
  try {
    const handles = await queue.enqueueMany(
      'sleep',
      // Long enough to outlast a slow start of the survivor: the victim must still be running them when killed.
      Array.from({ length: slots }, () => [SLEEP_MS]),
    );
    const victim = start(workerArgs);
    started.push(victim);
    const running = async () =>
      (await Promise.all(handles.map((h) => h.info()))).filter((r) => r?.state === 'STARTED').length;
    await until(async () => (await running()) === handles.length, 60_000);
    const survivor = start(workerArgs);
    started.push(survivor);
    // Up and consuming: it says so once its broker and pool are ready; a moment more for its first reserve.
    await new Promise<void>((resolve, reject) => {
      let out = '';
      survivor.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ctrl-C to stop')) resolve();
      });
      survivor.once('exit', (code) => reject(new Error(`the survivor exited (${code}) before it was ready`)));
    });
    await new Promise((r) => setTimeout(r, 500));
    if ((await running()) !== handles.length)
      throw new Error(
        `the victim finished its ${SLEEP_MS} ms tasks before the survivor was up: too slow a machine`,
      );
    const killedAt = Date.now();
    victim.kill('SIGKILL');
    let firstAgain = 0;
    let said = '';
    survivor.stderr?.on('data', (chunk: Buffer) => {
      said += chunk.toString();
    });
    await until(async () => {
      if (survivor.exitCode !== null) throw new Error(`the survivor exited (${survivor.exitCode}): ${said}`);
      const again = (await Promise.all(handles.map((h) => h.info())))
        .map((r) => r?.startedAt ?? 0)
        .filter((at) => at >= killedAt);
      if (again.length > 0) firstAgain = Math.min(...again);
      return again.length > 0;
    }, 120_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; the survivor said: ${said.slice(-2000)}`);
    });
    await until(
      async () => (await Promise.all(handles.map((h) => h.state()))).every((s) => s === 'SUCCESS'),
      60_000,
    );
    return { ms: firstAgain - killedAt, held: handles.length };
  } finally {
    for (const child of started) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('close', resolve));
    }
    await queue.close();
  }
}
