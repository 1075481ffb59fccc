import type { Variant } from '../variants.ts';

/** Wrong event-loop pools: each must fail `npm run check -- 01` with a check that names its flaw. */
const variants: Variant[] = [
  {
    name: 'one-at-a-time',
    lab: '01-event-loop',
    file: 'pool.ts',
    find: 'if (running < concurrency) {',
    replace: 'if (running < 1) {',
    description: 'runs tasks one at a time whatever C is (Celery -P solo with extra steps)',
    flaw: /runs up to C at once/,
    checks: '01.1 runs up to C',
  },
  {
    name: 'exceeds-c',
    lab: '01-event-loop',
    file: 'pool.ts',
    find: 'if (running < concurrency) {',
    replace: 'if (running <= concurrency) {',
    description: 'off by one: lets C + 1 tasks run at once',
    flaw: /never more than C in flight/,
    checks: '01.1 never more than C',
  },
  {
    name: 'frees-and-hands-over',
    lab: '01-event-loop',
    file: 'pool.ts',
    find: 'if (next) next();\n    else running--;',
    replace: 'if (next) next();\n    running--;',
    description: 'hands its slot to a waiting call and frees it too, so a new call gets a slot that is taken',
    flaw: /never more than C in flight/,
    checks: '01.1 never more than C',
  },
  {
    name: 'lifo-waiting',
    lab: '01-event-loop',
    file: 'pool.ts',
    find: 'const next = waiting.shift();',
    replace: 'const next = waiting.pop();',
    description: 'starts the newest waiting call first: the oldest can wait forever under load',
    flaw: /first in, first out/,
    checks: '01.2 waiting calls',
  },
  {
    name: 'close-at-once',
    lab: '01-event-loop',
    file: 'pool.ts',
    find: 'await Promise.allSettled([...pending]);',
    replace: 'pending.clear();',
    description: 'close() returns before the tasks it was given have finished',
    flaw: /close waits for in-flight tasks/,
    checks: '01.3 close waits',
  },
];

export default variants;
