import type { Redis } from 'ioredis';
import { afterAll, afterEach } from 'vitest';
import { deleteQueue } from '../../mini-queue/admin.ts';
import { connectRedis } from '../../mini-queue/redis/client.ts';

let counter = 0;

/**
 * Unique queue names for one test file, deleted after each test (BullMQ's habit: tests/utils/cleanup-queue.ts).
 * Never FLUSHALL: the Redis is shared with whatever else runs on the machine.
 */
export function useQueues(label: string): { name(): string; redis(): Promise<Redis> } {
  const names: string[] = [];
  let client: Redis | undefined;
  const redis = async () => {
    client ??= await connectRedis({ name: `test-${label}` });
    return client;
  };
  afterEach(async () => {
    const r = await redis();
    for (const name of names.splice(0)) await deleteQueue(r, name);
  });
  afterAll(() => {
    client?.disconnect();
  });
  return {
    name() {
      const name = `test-${label}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
      names.push(name);
      return name;
    },
    redis,
  };
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes. */
export async function until(condition: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
