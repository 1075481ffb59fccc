/**
 * Children die with their worker however it dies, even mid-computation: kill -9 of a prefork or a processes
 * worker whose children spin in `for (;;) {}` leaves no child alive 5 s later. Their 'disconnect' handler cannot
 * run while the task blocks their event loop; the chassis's watchdog thread (mini-queue/runtime/parent-watchdog.ts)
 * kills them.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Queue } from '../mini-queue/queue.ts';
import { alive, start } from './helpers/cli.ts';
import { loadNow, loadStretch } from './helpers/load.ts';
import { childrenOf, cpuSeconds } from './helpers/processes.ts';
import { until, useQueues } from './helpers/queues.ts';

const TASKS = fileURLToPath(new URL('../kit/fixtures/parallel-tasks.ts', import.meta.url));
const queues = useQueues('orphans');

describe('kill -9 of a worker whose children spin', () => {
  it.each(['prefork', 'processes'])(
    '%s: no child is alive 5 s later',
    async (pool) => {
      const name = queues.name();
      const queue = new Queue({ name });
      await queue.enqueueMany('spin', [[], []]);
      const worker = start([
        'mini-queue',
        'worker',
        '--pool',
        pool,
        '--concurrency',
        '2',
        '--queue',
        name,
        '--tasks',
        TASKS,
      ]);
      let children: number[] = [];
      // The bounds hold with a core to spare; a busy machine stretches them (helpers/load.ts).
      const loadAtStart = loadNow();
      try {
        // Both children found by their parent's pid, and both deep in the loop: a second of CPU each is no start-up.
        await until(() => {
          children = childrenOf(worker.pid!, 'child.ts');
          return children.length === 2 && children.every((pid) => (cpuSeconds(pid) ?? 0) >= 1);
        }, 30_000 * loadStretch(loadAtStart));
        worker.kill('SIGKILL');
        await until(() => !alive(worker.pid!), 5000);
        const killedAt = Date.now();
        // 5 s with a core to spare; stretched on a busy machine, where the watchdog thread waits for a core too.
        await until(() => children.every((pid) => !alive(pid)), 5000 * loadStretch(loadAtStart)).catch(
          () => {},
        );
        const survivors = children.filter(alive);
        expect(survivors, `children alive ${Date.now() - killedAt} ms after their worker's kill -9`).toEqual(
          [],
        );
      } finally {
        // Whatever is left would spin forever on a shared machine.
        worker.kill('SIGKILL');
        for (const pid of children.filter(alive)) process.kill(pid, 'SIGKILL');
        await queue.close();
      }
    },
    240_000,
  );
});
