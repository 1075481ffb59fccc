import { describe, expect, it } from 'vitest';
import { monitorArgs, monitorRedis } from '../checker/monitor.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';
import { until } from './helpers/queues.ts';

describe("the checker's MONITOR reader", () => {
  it('parses a monitor line into the command and its arguments, quotes and escapes undone', () => {
    expect(
      monitorArgs('+1712098529.327989 [0 127.0.0.1:62763] "LMOVE" "mq:{a}:waiting" "say \\"hi\\"\\n"'),
    ).toEqual(['LMOVE', 'mq:{a}:waiting', 'say "hi"\n']);
    expect(monitorArgs('+1.0 [0 unix:/tmp/r.sock] "SET" "k" "\\xe2\\x82\\xac"')[2]).toBe('\xe2\x82\xac');
  });

  it('sees the commands another client runs, in order', async () => {
    const key = `monitor-test-${process.pid}-${Date.now()}`;
    const seen: string[][] = [];
    const monitor = await monitorRedis((args) => {
      if (args.includes(key)) seen.push(args);
    });
    const redis = await connectRedis();
    try {
      await redis.lpush(key, 'a b');
      await redis.rpop(key);
      await until(async () => seen.length >= 2);
      expect(seen.map((args) => args[0]!.toUpperCase())).toEqual(['LPUSH', 'RPOP']);
      expect(seen[0]!.slice(1), 'the arguments, spaces kept').toEqual([key, 'a b']);
    } finally {
      monitor.close();
      await redis.del(key);
      redis.disconnect();
    }
  });
});
