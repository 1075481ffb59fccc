/**
 * The full-size crash drill, by hand: `npx tsx test/crash-drill.ts [TASKS] [POOL ...]` (default 500, every pool).
 * For each pool: TASKS fib tasks, the worker killed with kill -9 twice midway, and the final counts.
 *
 * With BROKER_URL=amqp://… the drill runs on RabbitMQ (results in Redis), and every pool also gets the time to
 * redelivery, kill -9 to the first of the victim's tasks starting again on a survivor, on RabbitMQ and on Redis
 * side by side (see redeliveryDrill). On RabbitMQ the pools also include `event-loop:2` (--processes 2); any
 * POOL may be written KIND:P for --processes P.
 */
import { deleteQueue } from '../mini-queue/admin.ts';
import { chosenTransport, redactAmqp, resolveAmqpUrl } from '../mini-queue/amqp/address.ts';
import { deleteAmqpQueues } from '../mini-queue/amqp/admin.ts';
import { POOL_KINDS, type PoolKind } from '../mini-queue/pool.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';
import { crashDrill, type Redelivery, redeliveryDrill } from './helpers/drill.ts';

/** The lease of the drill's workers on Redis (--visibility), ms: the shortest the CLI takes. */
const VISIBILITY_MS = 1000;

const [count = '500', ...pools] = process.argv.slice(2);
const total = Number(count);
const rabbit = chosenTransport() === 'rabbitmq';
const redis = await connectRedis();
if (rabbit) {
  console.log(
    `transport: RabbitMQ at ${redactAmqp(await resolveAmqpUrl())}, results in Redis; redelivery compared with Redis (lease ${VISIBILITY_MS} ms)`,
  );
}
const defaults: string[] = rabbit ? [...POOL_KINDS, 'event-loop:2'] : [...POOL_KINDS];
let failed = false;
for (const spec of pools.length > 0 ? pools : defaults) {
  const [pool, processes] = spec.split(':') as [PoolKind, string | undefined];
  const extra = processes === undefined ? [] : ['--processes', processes];
  const name = `drill-${pool}${processes === undefined ? '' : `-x${processes}`}-${process.pid}`;
  const started = Date.now();
  try {
    const result = await crashDrill(name, pool, total, undefined, extra);
    const ok = result.stats.succeeded === total && result.stats.failed === 0 && result.survivors.length === 0;
    failed ||= !ok;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const redelivery = rabbit ? `; ${await redeliveryOnBoth(`${name}-r`, pool, extra)}` : '';
    console.log(
      `${ok ? 'ok  ' : 'FAIL'} ${spec.padEnd(10)} killed at ${result.killedAt.join(' and ')}; ${JSON.stringify(result.stats)}; ` +
        `survivors ${result.survivors.length}; ${seconds} s${redelivery}`,
    );
  } finally {
    if (rabbit) await deleteAmqpQueues(redis, name);
    await deleteQueue(redis, name);
  }
}
redis.disconnect();
process.exit(failed ? 1 : 0);

/** The time to redelivery on RabbitMQ (this process's BROKER_URL) and on Redis, one line. */
async function redeliveryOnBoth(name: string, pool: PoolKind, extra: string[]): Promise<string> {
  const { BROKER_URL: brokerUrl, BROKER: broker } = process.env;
  let onRabbit: Redelivery;
  let onRedis: Redelivery;
  try {
    onRabbit = await redeliveryDrill(`${name}-amqp`, pool, VISIBILITY_MS, extra);
  } finally {
    await deleteAmqpQueues(redis, `${name}-amqp`);
    await deleteQueue(redis, `${name}-amqp`);
  }
  // The Redis run: no BROKER_URL (nor BROKER) for the producer here and the workers it starts.
  delete process.env.BROKER_URL;
  delete process.env.BROKER;
  try {
    onRedis = await redeliveryDrill(`${name}-redis`, pool, VISIBILITY_MS, extra);
  } finally {
    if (brokerUrl !== undefined) process.env.BROKER_URL = brokerUrl;
    if (broker !== undefined) process.env.BROKER = broker;
    await deleteQueue(redis, `${name}-redis`);
  }
  return `redelivery after kill -9: RabbitMQ ${onRabbit.ms} ms, Redis ${onRedis.ms} ms`;
}
