/** What Celery calls each pool and what its docs advise per workload: the terminal and the report quote both. */
import type { PoolKind } from '../../mini-queue/pool.ts';

/** What Celery calls each pool (`celery worker -P ...`). */
export const CELERY: Record<PoolKind, string> = {
  solo: '-P solo',
  'event-loop': 'asyncio-style',
  coroutines: '-P gevent',
  threads: '-P threads',
  processes: 'fork per task',
  prefork: '-P prefork',
};

/** Celery's docs, per workload: what they say, and the pools they would send it to (none: they would split it). */
export const CELERY_SAYS: Record<string, { pools?: PoolKind[]; says: string }> = {
  'I/O': {
    pools: ['event-loop', 'coroutines'],
    says: 'Celery: -P gevent or -P eventlet with a high -c (green threads: lab 02; asyncio-style: lab 01).',
  },
  CPU: {
    pools: ['prefork', 'threads'],
    says:
      'Celery: -P prefork, -c = cores (its default). In Python, threads cannot compute in parallel (the GIL); ' +
      "Node's worker threads can, so threads count too.",
  },
  mixed: {
    says:
      'Celery: split it. Route CPU tasks to a prefork worker and I/O tasks to a gevent one (task_routes, two ' +
      'queues): the I/O half waits side by side, the CPU half gets every core. One pool for both is a compromise.',
  },
};

/**
 * Whether the measurements side with Celery's docs on one piece of advice; none when the docs name no pool for
 * that workload. `missingPools` counts pools that did not race (a lab not finished): disagreeing without them
 * proves little, so the verdict asks for them instead.
 */
export function celeryVerdict(
  workload: string,
  pool: PoolKind,
  missingPools: number,
): { text: string; agrees: boolean } | undefined {
  const pools = CELERY_SAYS[workload]?.pools;
  if (pools === undefined) return undefined;
  if (pools.includes(pool)) return { text: 'Measured: agrees.', agrees: true };
  const text =
    missingPools > 0
      ? `Measured without ${missingPools} of the pools: finish their labs and race again.`
      : 'Measured: this machine says otherwise.';
  return { text, agrees: false };
}
