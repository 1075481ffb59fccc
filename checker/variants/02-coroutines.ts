import type { Variant } from '../variants.ts';

/** Wrong schedulers and pools: each must fail `npm run check -- 02` with a check that names its flaw. */
const variants: Variant[] = [
  {
    name: 'run-to-completion',
    lab: '02-coroutines',
    file: 'scheduler.ts',
    find: 'this.makeReady(fiber);\n    } else if (effect.kind',
    replace: "fiber.task.state = 'ready';\n      this.ready.unshift(fiber);\n    } else if (effect.kind",
    description: 'a bare yield puts the coroutine back at the front: each runs to completion before the next',
    flaw: /round-robin/,
    checks: '02.1 a bare yield',
  },
  {
    name: 'hogs-the-loop',
    lab: '02-coroutines',
    file: 'scheduler.ts',
    find: 'return now() - sliceStart >= this.sliceMs;',
    replace: 'return now() - sliceStart < 0;',
    description: 'never ends its turn while a coroutine is ready: timers and sockets wait for all of them',
    flaw: /event-loop delay/,
    checks: '02.2 ',
  },
  {
    name: 'wait-swallows-rejection',
    lab: '02-coroutines',
    file: 'scheduler.ts',
    find: '(error) => resume({ error }),',
    replace: '() => resume({ value: undefined }),',
    description: 'a rejected promise resumes the coroutine with undefined instead of throwing into it',
    flaw: /rejection/,
    checks: '02.3 ',
  },
  {
    name: 'sleepers-unsorted',
    lab: '02-coroutines',
    file: 'scheduler.ts',
    find: 'while (at > 0 && this.sleepers[at - 1]!.wakeAt > wakeAt) at--;',
    replace: '',
    description: 'keeps sleepers in arrival order: a short sleep behind a long one wakes late',
    flaw: /deadline order/,
    checks: '02.4 sleeps wake',
  },
  {
    name: 'cancel-drops',
    lab: '02-coroutines',
    file: 'scheduler.ts',
    find: 'fiber.owed = { error: reason };',
    replace:
      "fiber.task.state = 'done';\n    this.fibers.delete(task.id);\n    fiber.settle.reject(reason);\n    return true;",
    description: 'cancel forgets the coroutine instead of throwing into it: its finally blocks never run',
    flaw: /cancel runs finally/,
    checks: '02.5 ',
  },
  {
    name: 'pool-returns-generators',
    lab: '02-coroutines',
    file: 'pool.ts',
    find: '? yield* returned',
    replace: '? returned',
    description: 'the pool returns a generator task’s generator object instead of running it',
    flaw: /generator task is run as a coroutine/,
    checks: '02.6 runs generator',
  },
];

export default variants;
