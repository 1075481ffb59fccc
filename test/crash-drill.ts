/**
 * The full-size crash drill, by hand: `npx tsx test/crash-drill.ts [TASKS] [POOL ...]` (default 500, every pool).
 * For each pool: TASKS fib tasks, the worker killed with kill -9 twice midway, and the final counts.
 */
import { deleteQueue } from '../mini-queue/admin.ts';
import { dashboardLink, dashboardUrl } from '../mini-queue/monitor/read.ts';
import { POOL_KINDS, type PoolKind } from '../mini-queue/pool.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';
import { crashDrill } from './helpers/drill.ts';

const [count = '500', ...pools] = process.argv.slice(2);
const total = Number(count);
const redis = await connectRedis();
// A dashboard running (npx tsx mini-queue dashboard): its link for each pool's queue, to watch the kills there.
const dashboard = await dashboardUrl(redis);
let failed = false;
for (const pool of (pools.length > 0 ? pools : POOL_KINDS) as PoolKind[]) {
  const name = `drill-${pool}-${process.pid}`;
  const started = Date.now();
  if (dashboard !== undefined) console.log(`Dashboard: ${dashboardLink(dashboard, name)}`);
  try {
    const result = await crashDrill(name, pool, total);
    const ok = result.stats.succeeded === total && result.stats.failed === 0 && result.survivors.length === 0;
    failed ||= !ok;
    console.log(
      `${ok ? 'ok  ' : 'FAIL'} ${pool.padEnd(10)} killed at ${result.killedAt.join(' and ')}; ${JSON.stringify(result.stats)}; ` +
        `survivors ${result.survivors.length}; ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    await deleteQueue(redis, name);
  }
}
redis.disconnect();
process.exit(failed ? 1 : 0);
