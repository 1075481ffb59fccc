/**
 * Every pool kind survives kill -9 of its worker, twice: all tasks succeed exactly once in the counts, and no
 * child process of a killed worker lives on. (`npx tsx test/crash-drill.ts 500` runs the full-size drill.)
 */
import { describe, expect, it } from 'vitest';
import type { PoolKind } from '../mini-queue/pool.ts';
import { crashDrill } from './helpers/drill.ts';
import { useQueues } from './helpers/queues.ts';

const queues = useQueues('drill');

// Fork per task costs a Node start-up each (hundreds of ms): fewer tasks for that pool keep the suite short.
const SIZES: Array<[PoolKind, number]> = [
  ['solo', 200],
  ['event-loop', 200],
  ['coroutines', 200],
  ['threads', 200],
  ['prefork', 200],
  ['processes', 16],
];

describe('crash drill: kill -9 of the worker twice midway', () => {
  it.each(SIZES)(
    '%s pool: all %i tasks succeed, nothing left behind',
    async (pool, total) => {
      const result = await crashDrill(queues.name(), pool, total);
      expect(
        result.killedAt.every((n) => n < total),
        `killed midway (at ${result.killedAt})`,
      ).toBe(true);
      expect(result.stats).toEqual({
        waiting: 0,
        active: 0,
        delayed: 0,
        succeeded: total,
        failed: 0,
        dead: 0,
      });
      expect(result.survivors, 'no child process of a killed worker is still alive').toEqual([]);
    },
    240_000,
  );
});
