import type { Redis } from 'ioredis';
import { eachMaster } from '../redis/cluster.ts';
import { decodeBeat } from './codec.ts';
import { DASHBOARD_KEY, queueOfKey, type WorkerBeat, workerKey, workersKey } from './types.ts';

/**
 * The live workers of a queue, oldest first. The index is pruned as it is read: an id whose heartbeat key has
 * expired (its worker died, or was stopped without its clean-up) is removed, so a dead worker is gone from here
 * at most 3 of its intervals after its last beat. A worker whose beat lands between our MGET and ZREM is dropped
 * from the index too, and back at its next beat (one interval later): a flicker, never a ghost.
 */
export async function readWorkers(redis: Redis, queue: string): Promise<WorkerBeat[]> {
  const ids = await redis.zrange(workersKey(queue), 0, -1);
  if (ids.length === 0) return [];
  // One queue's keys share a hash slot: one MGET, also on a cluster.
  const records = await redis.mget(ids.map((id) => workerKey(queue, id)));
  const gone: string[] = [];
  const beats: WorkerBeat[] = [];
  ids.forEach((id, i) => {
    const record = records[i];
    if (record == null) gone.push(id);
    else {
      const beat = decodeBeat(record);
      if (beat) beats.push(beat);
    }
  });
  if (gone.length > 0) await redis.zrem(workersKey(queue), ...gone);
  return beats.sort((a, b) => a.startedAt - b.startedAt || a.id.localeCompare(b.id));
}

/** How many SCAN calls (of COUNT 1000) listQueues makes per pattern and node, at most. */
const SCAN_CALLS_MAX = 100;
/** How many queue names listQueues returns, at most. */
const QUEUES_MAX = 500;

/**
 * The queues worth showing: those with workers (`mq:{*}:workers`) or messages waiting (`mq:{*}:waiting`), by name.
 * Bounded: SCAN walks the whole keyspace, so at most SCAN_CALLS_MAX calls per pattern (100,000 keys looked at)
 * and QUEUES_MAX names; on a bigger Redis some queues may be missing, never the call stuck.
 */
export async function listQueues(redis: Redis): Promise<string[]> {
  const names = new Set<string>();
  for (const node of eachMaster(redis)) {
    for (const pattern of ['mq:{*}:workers', 'mq:{*}:waiting']) {
      let cursor = '0';
      let calls = 0;
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          const name = queueOfKey(key);
          if (name !== undefined) names.add(name);
        }
      } while (cursor !== '0' && ++calls < SCAN_CALLS_MAX && names.size < QUEUES_MAX);
    }
  }
  return [...names].sort().slice(0, QUEUES_MAX);
}

/** The URL of the dashboard running on this Redis, if one is (it refreshes `mq:dashboard` every 2 s). */
export async function dashboardUrl(redis: Redis): Promise<string | undefined> {
  const url = await redis.get(DASHBOARD_KEY);
  return url !== null && /^https?:\/\/\S+$/.test(url) ? url : undefined;
}

/** The dashboard's page for one queue: `<url>?queue=<name>`. */
export function dashboardLink(url: string, queue: string): string {
  const link = new URL(url);
  link.searchParams.set('queue', queue);
  return link.toString();
}
