import type { Variant } from '../variants.ts';

const lab = '02-coroutines';
const SCHEDULER = 'scheduler.ts';
const RESUME = "return 'error' in owed ? gen.throw(owed.error) : gen.next(owed.value);";
const PARK =
  'Promise.resolve(promise).then(\n      (value) => resume({ value }),\n      (error) => resume({ error }),\n    );';

/** Wrong schedulers and pools, as attendees write them: each must fail `npm run check -- 02` naming its flaw. */
const variants: Variant[] = [
  // 02.1 resume and round robin
  {
    name: 'run-to-completion',
    lab,
    file: SCHEDULER,
    find: 'this.makeReady(fiber);\n    } else if (effect.kind',
    replace: "fiber.task.state = 'ready';\n      this.ready.unshift(fiber);\n    } else if (effect.kind",
    description: 'a bare yield puts the coroutine back at the front: each runs to completion before the next',
    flaw: /round-robin/,
    checks: '02.1 a bare yield',
  },
  {
    name: 'yield-drops-coroutine',
    lab,
    file: SCHEDULER,
    find: 'this.makeReady(fiber);\n    } else if (effect.kind',
    replace: "fiber.task.state = 'ready';\n    } else if (effect.kind",
    description: 'marks a coroutine that yielded as ready but never queues it: it never runs again',
    flaw: /hung/,
    checks: '02.1 a bare yield',
  },
  {
    name: 'resume-drops-value',
    lab,
    file: SCHEDULER,
    find: RESUME,
    replace: "return 'error' in owed ? gen.throw(owed.error) : gen.next();",
    description: 'resumes with next() and no value: every wait() evaluates to undefined',
    flaw: /resumes with the value/,
    checks: '02.3 wait resumes',
  },
  {
    name: 'resume-sends-owed',
    lab,
    file: SCHEDULER,
    find: RESUME,
    replace: "return 'error' in owed ? gen.throw(owed.error) : gen.next(owed);",
    description: 'sends the whole owed record in: a wait() evaluates to { value } instead of the value',
    flaw: /resumes with the value/,
    checks: '02.3 wait resumes',
  },
  {
    name: 'resume-never-throws',
    lab,
    file: SCHEDULER,
    find: RESUME,
    replace: "return gen.next('value' in owed ? owed.value : undefined);",
    description:
      'never raises the owed error: rejections and cancellations resume the coroutine as if all went well',
    flaw: /rejection is thrown at the yield/,
    checks: '02.3 wait resumes',
  },
  {
    name: 'resume-returns-on-error',
    lab,
    file: SCHEDULER,
    find: RESUME,
    replace: "return 'error' in owed ? gen.return(owed.error) : gen.next(owed.value);",
    description: 'ends the generator with return() on an error: no catch block ever sees it',
    flaw: /rejection is thrown at the yield/,
    checks: '02.3 wait resumes',
  },
  // 02.2 time slice
  {
    name: 'hogs-the-loop',
    lab,
    file: SCHEDULER,
    find: 'return now() - sliceStart >= this.sliceMs;',
    replace: 'return now() - sliceStart < 0;',
    description: 'never ends its turn while a coroutine is ready: timers and sockets wait for all of them',
    flaw: /event-loop delay/,
    checks: '02.2 ',
  },
  {
    name: 'slice-in-seconds',
    lab,
    file: SCHEDULER,
    find: 'return now() - sliceStart >= this.sliceMs;',
    replace: 'return now() - sliceStart >= this.sliceMs * 1000;',
    description: 'reads sliceMs as seconds: a turn lasts 4 s instead of 4 ms',
    flaw: /event-loop delay/,
    checks: '02.2 ',
  },
  {
    name: 'slice-wrong-clock',
    lab,
    file: SCHEDULER,
    find: 'return now() - sliceStart >= this.sliceMs;',
    replace: 'return performance.now() - sliceStart >= this.sliceMs;',
    description:
      'measures the slice on another clock than sliceStart (performance.now() vs clock.now()): never over',
    flaw: /event-loop delay/,
    checks: '02.2 ',
  },
  // 02.3 wait
  {
    name: 'wait-swallows-rejection',
    lab,
    file: SCHEDULER,
    find: '(error) => resume({ error }),',
    replace: '() => resume({ value: undefined }),',
    description: 'a rejected promise resumes the coroutine with undefined instead of throwing into it',
    flaw: /rejection/,
    checks: '02.3 ',
  },
  {
    name: 'wait-ignores-rejection',
    lab,
    file: SCHEDULER,
    find: PARK,
    replace: 'Promise.resolve(promise).then((value) => resume({ value }));',
    description: 'waits for fulfilment only: a rejection is unhandled and the coroutine waits forever',
    flaw: /hung|rejection/,
    checks: '02.3 an uncaught rejection',
  },
  {
    name: 'wait-resumes-inline',
    lab,
    file: SCHEDULER,
    find: PARK,
    replace:
      'void resume;\n' +
      '    Promise.resolve(promise).then(\n' +
      '      (value) => {\n' +
      '        fiber.owed = { value };\n' +
      '        this.step(fiber);\n' +
      '      },\n' +
      '      (error) => {\n' +
      '        fiber.owed = { error };\n' +
      '        this.step(fiber);\n' +
      '      },\n' +
      '    );',
    description:
      'resumes the coroutine right inside the promise callback, outside a scheduler turn: what it yields next is never run',
    flaw: /hung/,
    checks: '02.3 a coroutine goes on after a wait',
  },
  {
    name: 'wait-bypasses-wakeup',
    lab,
    file: SCHEDULER,
    find: PARK,
    replace:
      'void resume;\n' +
      '    const wake = (owed: Owed) => {\n' +
      '      fiber.owed = owed;\n' +
      '      this.makeReady(fiber);\n' +
      '      this.queueTick();\n' +
      '    };\n' +
      '    Promise.resolve(promise).then(\n' +
      '      (value) => wake({ value }),\n' +
      '      (error) => wake({ error }),\n' +
      '    );',
    description:
      'queues the coroutine itself instead of through the wake-up call: a cancelled wait’s late answer resumes whatever it waits on next',
    flaw: /late answer/,
    checks: '02.5 a cancelled wait',
  },
  // 02.4 sleep
  {
    name: 'sleepers-unsorted',
    lab,
    file: SCHEDULER,
    find: 'while (at > 0 && this.sleepers[at - 1]!.wakeAt > wakeAt) at--;',
    replace: '',
    description: 'keeps sleepers in arrival order: a short sleep behind a long one wakes late',
    flaw: /deadline order/,
    checks: '02.4 sleeps wake',
  },
  {
    name: 'sleepers-wake-early',
    lab,
    file: SCHEDULER,
    find: 'while (this.sleepers.length > 0 && this.sleepers[0]!.wakeAt <= time) {',
    replace: 'while (this.sleepers.length > 0) {',
    description: 'wakes every sleeper at the next turn, due or not',
    flaw: /deadline/,
    checks: '02.4 sleeps wake',
  },
  {
    name: 'sleep-busy-waits',
    lab,
    file: SCHEDULER,
    find: 'let at = this.sleepers.length;\n    while (at > 0 && this.sleepers[at - 1]!.wakeAt > wakeAt) at--;\n    this.sleepers.splice(at, 0, fiber);',
    replace: 'while (now() < wakeAt) {}\n    this.makeReady(fiber);',
    description:
      'sleeps by spinning until the deadline: every other coroutine (and the event loop) waits meanwhile',
    flaw: /side by side|hung/,
    checks: '02.4 many sleepers',
  },
  {
    name: 'sleeper-overwrites',
    lab,
    file: SCHEDULER,
    find: 'let at = this.sleepers.length;\n    while (at > 0 && this.sleepers[at - 1]!.wakeAt > wakeAt) at--;\n    this.sleepers.splice(at, 0, fiber);',
    replace: 'this.sleepers[0] = fiber;',
    description: 'keeps one sleeper only: each new one replaces the last, which then never wakes',
    flaw: /side by side|hung/,
    checks: '02.4 many sleepers',
  },
  // 02.5 cancel
  {
    name: 'cancel-drops',
    lab,
    file: SCHEDULER,
    find: 'fiber.owed = { error: reason };',
    replace:
      "fiber.task.state = 'done';\n    this.fibers.delete(task.id);\n    fiber.settle.reject(reason);\n    return true;",
    description: 'cancel forgets the coroutine instead of throwing into it: its finally blocks never run',
    flaw: /cancel runs finally/,
    checks: '02.5 cancel runs',
  },
  {
    name: 'cancel-returns-generator',
    lab,
    file: SCHEDULER,
    find: 'fiber.owed = { error: reason };',
    replace: 'fiber.gen.return(undefined);',
    description:
      'cancels with gen.return(): finally runs, but outside a turn, and the task resolves instead of rejecting with Cancelled',
    flaw: /Cancelled|rejected/,
    checks: '02.5 cancel runs',
  },
  {
    name: 'cancel-ignores-reason',
    lab,
    file: SCHEDULER,
    find: 'fiber.owed = { error: reason };',
    replace: "fiber.owed = { error: new Cancelled(task.name + ' was cancelled') };",
    description:
      'always throws a plain Cancelled, dropping the reason it was given: a time limit no longer says so',
    flaw: /time limit fails the task/,
    checks: '02.6 a time limit',
  },
  {
    name: 'cancel-forgets-tick',
    lab,
    file: SCHEDULER,
    find: '    this.queueTick();\n    return true;',
    replace: '    return true;',
    description:
      'queues the cancelled coroutine but asks for no scheduler turn: on a quiet scheduler nobody runs it',
    flaw: /hung/,
    checks: '02.5 cancel runs',
  },
  {
    name: 'cancel-at-deadline',
    lab,
    file: SCHEDULER,
    find:
      "if (fiber.task.state === 'sleeping') this.sleepers.splice(this.sleepers.indexOf(fiber), 1);\n" +
      "    // A waiting fiber's promise may still settle later: the wake-up call of parked() drops a late answer.\n" +
      "    if (fiber.task.state === 'sleeping' || fiber.task.state === 'waiting') this.makeReady(fiber);",
    replace: "if (fiber.task.state === 'waiting') this.makeReady(fiber);",
    description: 'leaves a cancelled sleeper asleep: it hears of the cancel only when its sleep ends',
    flaw: /hung/,
    checks: '02.5 cancel runs',
  },
  {
    name: 'cancelled-sleeper-stays',
    lab,
    file: SCHEDULER,
    find: "if (fiber.task.state === 'sleeping') this.sleepers.splice(this.sleepers.indexOf(fiber), 1);\n",
    replace: '',
    description:
      'wakes a cancelled sleeper but leaves it in the sleepers list: when it sleeps again it is filed twice and woken twice',
    flaw: /taken out of the sleepers/,
    checks: '02.5 a cancelled sleeper',
  },
  {
    name: 'cancel-splices-minus-one',
    lab,
    file: SCHEDULER,
    find: "if (fiber.task.state === 'sleeping') this.sleepers.splice(this.sleepers.indexOf(fiber), 1);",
    replace: 'this.sleepers.splice(this.sleepers.indexOf(fiber), 1);',
    description:
      'takes "it" out of the sleepers without asking whether it sleeps: for a waiter indexOf is -1, and splice(-1, 1) drops the last sleeper',
    flaw: /hung/,
    checks: '02.5 cancelling a waiter',
  },
  {
    name: 'cancel-leaves-waiter-parked',
    lab,
    file: SCHEDULER,
    find: "if (fiber.task.state === 'sleeping' || fiber.task.state === 'waiting') this.makeReady(fiber);",
    replace: "if (fiber.task.state === 'sleeping') this.makeReady(fiber);",
    description:
      'queues a cancelled sleeper but not a cancelled waiter: a wait that never settles is never cancelled',
    flaw: /hung/,
    checks: '02.5 cancel runs',
  },
  // 02.6 the pool
  {
    name: 'pool-returns-generators',
    lab,
    file: 'pool.ts',
    find: '? yield* returned',
    replace: '? returned',
    description: 'the pool returns a generator task’s generator object instead of running it',
    flaw: /generator task is run as a coroutine/,
    checks: '02.6 runs generator',
  },
  {
    name: 'pool-returns-promises',
    lab,
    file: 'pool.ts',
    find: '? yield* wait(returned)',
    replace: '? returned',
    description: 'the pool returns an async task’s promise as its value instead of waiting on it',
    flaw: /a promise is waited on/,
    checks: '02.6 runs generator',
  },
  {
    name: 'pool-drives-generator',
    lab,
    file: 'pool.ts',
    find: '? yield* returned',
    replace:
      '? (() => {\n' +
      '          let step = returned.next();\n' +
      '          while (!step.done) step = returned.next();\n' +
      '          return step.value;\n' +
      '        })()',
    description:
      'runs a generator task to its end by itself in one go: its yields never reach the scheduler, nobody else runs meanwhile',
    flaw: /round-robin inside the pool/,
    checks: '02.6 generator tasks interleave',
  },
];

export default variants;
