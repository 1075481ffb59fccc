/**
 * Lab 08's tasks, for its demo and its check. Each run writes its start to a Redis list the caller names (the
 * task id, the pid, the time), before it does anything else: a worker killed with kill -9 never reports the runs
 * it had begun, but Redis keeps them, so who ran what, and how often, is known whatever was killed.
 */
import type { Redis } from 'ioredis';
import { connectRedis } from '../../mini-queue/redis/client.ts';
import { defineTasks } from '../../mini-queue/tasks.ts';

let redis: Promise<Redis> | undefined;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One start as written: `id pid at`. */
export interface Start {
  id: string;
  pid: number;
  at: number;
}

export function parseStart(line: string): Start {
  const [id = '', pid = '0', at = '0'] = line.split(' ');
  return { id, pid: Number(pid), at: Number(at) };
}

export default defineTasks({
  /** Records its start in the list `starts`, then works for `ms`: its result is the pid that ran it. */
  async work(starts: string, ms: number) {
    redis ??= connectRedis({ name: 'mq-lab08-starts' });
    await (await redis).rpush(starts, `${this.id} ${process.pid} ${Date.now()}`);
    await sleep(ms);
    return process.pid;
  },
});
