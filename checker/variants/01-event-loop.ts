import type { Variant } from '../variants.ts';

const lab = '01-event-loop';
const file = 'pool.ts';
const ACQUIRE_AND_RELEASE =
  '    if (running < concurrency) {\n' +
  '      running++;\n' +
  '      return;\n' +
  '    }\n' +
  '    await new Promise<void>((resolve) => waiting.push(resolve));\n' +
  '  }\n' +
  '\n' +
  '  /** A call finished: its slot goes to the oldest waiting call, or becomes free. */\n' +
  '  function release(): void {\n' +
  '    // (01.2) hand the slot over without freeing it: a new run() in between cannot jump the line, and FIFO holds.\n' +
  '    const next = waiting.shift();\n' +
  '    if (next) next();\n' +
  '    else running--;';
const CLOSE = 'await Promise.allSettled([...pending]);';

/** Wrong event-loop pools, as attendees write them: each must fail `npm run check -- 01` naming its flaw. */
const variants: Variant[] = [
  // 01.1 acquire
  {
    name: 'one-at-a-time',
    lab,
    file,
    find: 'if (running < concurrency) {',
    replace: 'if (running < 1) {',
    description: 'runs tasks one at a time whatever C is (Celery -P solo with extra steps)',
    flaw: /runs up to C at once/,
    checks: '01.1 runs up to C',
  },
  {
    name: 'exceeds-c',
    lab,
    file,
    find: 'if (running < concurrency) {',
    replace: 'if (running <= concurrency) {',
    description: 'off by one: lets C + 1 tasks run at once',
    flaw: /never more than C in flight/,
    checks: '01.1 never more than C',
  },
  {
    name: 'check-then-await',
    lab,
    file,
    find: 'if (running < concurrency) {\n      running++;',
    replace: 'if (running < concurrency) {\n      await Promise.resolve();\n      running++;',
    description:
      'awaits between checking for a free slot and taking it: calls made in one tick all see the same free slot',
    flaw: /never more than C in flight/,
    checks: '01.1 never more than C',
  },
  {
    name: 'acquire-polls',
    lab,
    file,
    find: ACQUIRE_AND_RELEASE,
    replace:
      '    while (running >= concurrency) await new Promise((resolve) => setTimeout(resolve, 5));\n' +
      '    running++;\n' +
      '  }\n' +
      '\n' +
      '  function release(): void {\n' +
      '    running--;',
    description: 'a waiting call polls for a free slot on a timer instead of being handed one',
    flaw: /polling on a timer/,
    checks: '01.2 a waiting call starts as soon',
  },
  // 01.2 release
  {
    name: 'frees-and-hands-over',
    lab,
    file,
    find: 'if (next) next();\n    else running--;',
    replace: 'if (next) next();\n    running--;',
    description: 'hands its slot to a waiting call and frees it too, so a new call gets a slot that is taken',
    flaw: /never more than C in flight/,
    checks: '01.1 never more than C',
  },
  {
    name: 'lifo-waiting',
    lab,
    file,
    find: 'const next = waiting.shift();',
    replace: 'const next = waiting.pop();',
    description: 'starts the newest waiting call first: the oldest can wait forever under load',
    flaw: /first in, first out/,
    checks: '01.2 waiting calls',
  },
  {
    name: 'lifo-unshift',
    lab,
    file,
    find: 'await new Promise<void>((resolve) => waiting.push(resolve));',
    replace: 'await new Promise<void>((resolve) => waiting.unshift(resolve));',
    description: 'queues each waiting call at the front of the line: the newest is started first',
    flaw: /first in, first out/,
    checks: '01.2 waiting calls',
  },
  {
    name: 'release-never-wakes',
    lab,
    file,
    find: 'const next = waiting.shift();\n    if (next) next();\n    else running--;',
    replace: 'running--;',
    description: 'frees the slot but never starts a waiting call: the line waits forever',
    flaw: /hung/,
    checks: '01.2 waiting calls',
  },
  {
    name: 'release-leaks-slot',
    lab,
    file,
    find: 'if (next) next();\n    else running--;',
    replace: 'if (next) next();',
    description:
      'a call that finishes with nobody waiting keeps its slot: after C such calls the pool is stuck',
    flaw: /free its slot|hung/,
    checks: '01.2 a freed slot',
  },
  {
    name: 'acquire-counts-twice',
    lab,
    file,
    find: 'await new Promise<void>((resolve) => waiting.push(resolve));',
    replace: 'await new Promise<void>((resolve) => waiting.push(resolve));\n    running++;',
    description:
      'a call handed a slot counts it again when it wakes: the count drifts above C and the pool stops starting calls',
    flaw: /counted once|hung/,
    checks: '01.2 a freed slot',
  },
  {
    name: 'slot-kept-on-failure',
    lab,
    file,
    find: "return await runInline(options, call, 'main');\n    } finally {\n      release();\n    }",
    replace:
      "const outcome = await runInline(options, call, 'main');\n      if (outcome.ok) release();\n      return outcome;\n    } finally {\n    }",
    description: 'gives the slot back only when the task succeeded: every failure costs a slot for good',
    flaw: /hung|frees its slot/,
    checks: '01.2 one task',
  },
  // 01.3 close
  {
    name: 'close-at-once',
    lab,
    file,
    find: CLOSE,
    replace: 'pending.clear();',
    description: 'close() returns before the tasks it was given have finished',
    flaw: /close waits for in-flight tasks/,
    checks: '01.3 close waits',
  },
  {
    name: 'close-fixed-wait',
    lab,
    file,
    find: CLOSE,
    replace: 'await new Promise((resolve) => setTimeout(resolve, 200));',
    description: 'close() waits a fixed time, long enough on the author’s laptop, instead of for the tasks',
    flaw: /close waits for in-flight tasks/,
    checks: '01.3 close waits',
  },
  {
    name: 'close-waits-first',
    lab,
    file,
    find: CLOSE,
    replace: 'await Promise.race([...pending]);',
    description: 'close() waits for the first call to finish, not for all of them',
    flaw: /close waits for in-flight tasks/,
    checks: '01.3 close waits',
  },
  {
    name: 'close-polls-line',
    lab,
    file,
    find: CLOSE,
    replace: 'while (waiting.length > 0) await new Promise((resolve) => setTimeout(resolve, 10));',
    description: 'close() waits until nobody is in line, forgetting the calls still running',
    flaw: /close waits for in-flight tasks/,
    checks: '01.3 close waits',
  },
  {
    name: 'close-timer-never-cleared',
    lab,
    file,
    find: CLOSE,
    replace:
      'await Promise.race([Promise.allSettled([...pending]), new Promise((resolve) => setTimeout(resolve, 600_000))]);',
    description: 'close() races the calls against a 10-minute safety timer and never clears it',
    flaw: /timer/,
    checks: '01.3 close leaves no timer',
  },
  {
    name: 'close-hangs-when-idle',
    lab,
    file,
    find: CLOSE,
    replace:
      'await new Promise<void>((resolve) => {\n' +
      '        const check = () => (pending.size === 0 ? resolve() : undefined);\n' +
      '        for (const p of pending) p.then(check, check);\n' +
      '      });',
    description: 'close() resolves when the last call finishes, so on an idle pool it never resolves',
    flaw: /hung/,
    checks: '01.3 close on an idle',
  },
];

export default variants;
