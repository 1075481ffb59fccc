import type { Variant } from '../variants.ts';

/** Wrong brokers: each must fail `npm run check -- 00` with a check that names its flaw. */
const variants: Variant[] = [
  {
    name: 'lifo-push',
    lab: '00-broker',
    file: 'broker.ts',
    find: 'await this.redis.lpush(this.keys.waiting, ...raws);',
    replace: 'await this.redis.rpush(this.keys.waiting, ...raws);',
    description: 'pushes on the side workers take from: last in, first out',
    flaw: /first in, first out/,
    checks: '^00.1 ',
  },
  {
    name: 'pop-then-push',
    lab: '00-broker',
    file: 'broker.ts',
    find: "const first = await this.blocking.blmove(k.waiting, k.active, 'RIGHT', 'LEFT', blockMs / 1000);",
    replace:
      'const popped = await this.blocking.brpop(k.waiting, blockMs / 1000);\n' +
      '    const first = popped ? popped[1] : null;\n' +
      '    if (first !== null) await this.redis.lpush(k.active, first);',
    description: "reserves kombu's way: BRPOP, then a separate push to active (a crash in between loses it)",
    flaw: /atomic/,
    checks: '00.2 moves atomically',
  },
  {
    name: 'ack-counts-unheld',
    lab: '00-broker',
    file: 'lua/ack-4.lua',
    find: 'if held == 0 then\n  return 0\nend\n',
    replace: '',
    description: 'acks and counts a message it does not hold',
    flaw: /not held|counted once/,
    checks: '00.3 an ack for a message not held',
  },
  {
    name: 'recover-requeues-acked',
    lab: '00-broker',
    file: 'lua/recover-3.lua',
    find: "  if redis.call('LREM', KEYS[1], 1, raw) == 1 then",
    replace: "  redis.call('LREM', KEYS[1], 1, raw)\n  do",
    description: 'gives back every expired lease, even of messages acked meanwhile',
    flaw: /run twice/,
    checks: '00.4 gives back only',
  },
];

export default variants;
