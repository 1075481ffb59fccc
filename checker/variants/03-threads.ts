import type { Variant } from '../variants.ts';

const lab = '03-threads';
// biome-ignore lint/suspicious/noTemplateCurlyInString: the solution's line, quoted as text to patch
const FAIL_LINE = "    if (lane.job) this.fail(lane, 'WorkerLostError', `${lane.name} died: ${reason}`);";
/** The failure call of that line alone. */
const FAIL_CALL = FAIL_LINE.slice(FAIL_LINE.indexOf('this.fail('));
const RUN_LINE = '  const outcome = await runInline({ concurrency: 1, tasksPath, registry }, call, lane);';

/**
 * Wrong threads pools, as attendees write them: each must fail `npm run check -- 03` with a check that names its
 * flaw. The first three are the lab's own "try this to break it"; the rest are the mistakes a room of 30 makes.
 */
const variants: Variant[] = [
  {
    name: 'threads-on-main',
    lab,
    file: 'pool.ts',
    find: 'worker.postMessage(call);',
    // The outcome is handed back as if the thread had sent it: the pool cannot tell, only the timings can.
    replace:
      "void import('../../mini-queue/pools/solo.ts')\n" +
      "      .then(({ runInline }) => runInline(this.options, call, 'thread-' + worker.threadId))\n" +
      "      .then((outcome) => worker.emit('message', { type: 'done', id: call.id, outcome }));",
    description: 'a "thread pool" that runs every task on the main thread: right results, no speedup',
    flaw: /main thread|speedup/,
    checks: '03.2 runs each task|03 CPU-bound',
  },
  {
    name: 'threads-crash-hangs',
    lab,
    file: 'pool.ts',
    find: FAIL_LINE,
    // Replaces the dead thread but forgets the call it held (the line is commented out): nobody settles it.
    replace: `    // ${FAIL_LINE.trim()}`,
    description: 'a task held by a crashed thread is never settled: the worker waits for it forever',
    flaw: /hung|must fail, never hang/,
    checks: '03.4 a thread that crashes',
  },
  {
    name: 'threads-no-time-limit',
    lab,
    file: 'pool.ts',
    find: '    return worker.terminate();',
    // Asks the thread to stop by message: a loop that never yields never reads it.
    replace: "    worker.postMessage({ type: 'stop' });\n    return Promise.resolve();",
    description:
      'reports a time limit but never stops the runaway thread: it spins on, and the pool is a thread short',
    flaw: /spun on|terminated and replaced|time limit/,
    checks: '03.5 ',
  },
  {
    name: 'threads-one-worker',
    lab,
    file: 'pool.ts',
    find: '    return new Worker(entry, { workerData });',
    // "One thread is enough, reuse it": every lane gets the same Worker, so every task runs on one thread.
    replace:
      '    const self = this as unknown as { only?: Worker };\n' +
      '    self.only ??= new Worker(entry, { workerData });\n' +
      '    return self.only;',
    description: 'starts one Worker and hands it out as every lane: all tasks on one thread, no parallelism',
    flaw: /two threads of its own|thread\(s\)/,
    checks: '03.1 createPool|03 CPU-bound',
  },
  {
    name: 'threads-thread-per-task',
    lab,
    file: 'pool.ts',
    find: '  /** Stops a thread now',
    // "A fresh thread for every task, to be safe": a thread's start-up (tsx, the tasks module) on every call.
    replace:
      '  protected override afterTask(lane: Lane<Worker>): void {\n' +
      '    lane.retired = true;\n' +
      '    void this.halt(lane.handle);\n' +
      '  }\n\n' +
      '  /** Stops a thread now',
    description: 'retires each thread after one task and starts another: threads are not reused',
    flaw: /started anew|same 2/,
    checks: '03.1 each thread is started once',
  },
  {
    name: 'threads-lane-unnamed',
    lab,
    file: 'thread.ts',
    find: RUN_LINE,
    // Every thread reports itself as 'worker': the timeline and the lanes of the outcomes lump them together.
    replace: "  const outcome = await runInline({ concurrency: 1, tasksPath, registry }, call, 'worker');",
    description: "names every outcome's lane 'worker' instead of its own thread",
    flaw: /lane names the thread/,
    checks: '03.2 runs each task',
  },
  {
    name: 'threads-no-await',
    lab,
    file: 'thread.ts',
    find: RUN_LINE,
    // Forgets the await: the outcome is a Promise, which cannot be copied to another isolate.
    replace: '  const outcome = runInline({ concurrency: 1, tasksPath, registry }, call, lane);',
    description:
      'returns the Promise of the outcome instead of the outcome: every task fails (DataCloneError)',
    flaw: /succeeds|DataCloneError/,
    checks: '03.2 runs each task',
  },
  {
    name: 'threads-reply-by-order',
    lab,
    file: 'thread.ts',
    find: "  return { type: 'done', id: call.id, outcome };",
    // "Replies come back in the order the calls went out": numbered, not named by the call's id.
    replace:
      '  const self = globalThis as { replies?: number };\n' +
      '  self.replies = (self.replies ?? 0) + 1;\n' +
      "  return { type: 'done', id: 'reply-' + self.replies, outcome };",
    description: 'answers each call under a sequence number instead of its id: no outcome reaches its call',
    flaw: /own call id|hung|own result/,
    checks: '03.3 routes every outcome',
  },
  {
    name: 'threads-acks-early',
    lab,
    file: 'thread.ts',
    find: RUN_LINE,
    // Results posted before the task finishes: a success goes out first, then the task runs.
    replace:
      "  const { parentPort } = await import('node:worker_threads');\n" +
      "  parentPort?.postMessage({ type: 'done', id: call.id, outcome: { ok: true, value: null, lane, startedAt: Date.now(), finishedAt: Date.now() } });\n" +
      RUN_LINE,
    description:
      'posts a success before running the task: a task whose thread dies is reported done, and values are null',
    flaw: /must fail, not succeed|before the task ran/,
    checks: '03.4 a thread that crashes',
  },
  {
    name: 'threads-no-replace',
    lab,
    file: 'pool.ts',
    find: '    this.replace();',
    replace: '',
    description:
      'never starts a thread in place of a dead one: every crash shrinks the pool, down to nothing',
    flaw: /replaced|must be replaced|PoolBroken|no lane left/,
    checks: '03.4 a thread that crashes',
  },
  {
    name: 'threads-replace-twice',
    lab,
    file: 'pool.ts',
    find: FAIL_LINE,
    // A replacement where the task failed, and the one below as well: two threads for each one that died.
    replace: `    if (lane.job) {\n      ${FAIL_CALL}\n      this.replace();\n    }`,
    description: 'starts two threads for every thread that dies under a task: the pool grows past its size',
    flaw: /exactly one|no more|never more than 2/,
    checks: '03.4 a thread that crashes',
  },
  {
    name: 'threads-idle-death-not-replaced',
    lab,
    file: 'pool.ts',
    find: `${FAIL_LINE}\n    // (03.4) Keep the pool at its size: the next call needs a thread (onExit is not called while stopping).\n    this.replace();`,
    // Replaces a thread only when it died holding a task: one that dies between tasks is gone for good.
    replace: `    if (lane.job) {\n      ${FAIL_CALL}\n      this.replace();\n    }`,
    description:
      'replaces a dead thread only if it held a task: an idle thread that dies leaves the pool short',
    flaw: /replaced too|must be replaced/,
    checks: '03.4 a thread that dies while idle',
    slow: true,
  },
  {
    name: 'threads-dead-call-success',
    lab,
    file: 'pool.ts',
    find: FAIL_LINE,
    // "The thread is gone, so its task is over": the call resolves as a success with no value.
    replace:
      '    const job = lane.job;\n' +
      '    if (job) {\n' +
      '      lane.job = undefined;\n' +
      '      job.resolve({ ok: true, value: null, lane: lane.name, startedAt: Date.now(), finishedAt: Date.now() });\n' +
      '    }',
    description: "settles a dead thread's call as a success: a crash reads as a task done",
    flaw: /must fail, not succeed/,
    checks: '03.4 a thread that crashes',
  },
  {
    name: 'threads-retry-dead-call',
    lab,
    file: 'pool.ts',
    find: FAIL_LINE,
    // "Run it again on another thread": a task that kills its thread then kills every thread, forever.
    replace: '    if (lane.job) this.requeue(lane);',
    description:
      "gives a dead thread's call back to the line every time: a task that kills its thread loops forever",
    flaw: /never hang|hung|must fail/,
    checks: '03.4 a thread that crashes',
  },
  {
    name: 'threads-late-terminate',
    lab,
    file: 'pool.ts',
    find: '    return worker.terminate();',
    // "Give it a second to finish on its own": the call has failed, yet its thread spins on at 100%.
    replace: '    return new Promise((resolve) => setTimeout(resolve, 1000)).then(() => worker.terminate());',
    description:
      'terminates the runaway a second after its time limit: the thread spins on after the call failed',
    flaw: /spun on/,
    checks: '03.5 a runaway task',
  },
  {
    name: 'threads-halt-unref',
    lab,
    file: 'pool.ts',
    find: '    return worker.terminate();',
    // unref() only lets the process exit without the thread; the thread itself runs on.
    replace: '    worker.unref();\n    return Promise.resolve();',
    description: 'unrefs the thread instead of terminating it: the runaway spins on for good',
    flaw: /spun on|terminated and replaced/,
    checks: '03.5 a runaway task',
  },
  {
    name: 'threads-halt-no-wait',
    lab,
    file: 'pool.ts',
    find: '    return worker.terminate();',
    // Asks for the stop but says "stopped" at once: close() and terminate() resolve with threads still running.
    replace: '    void worker.terminate();\n    return Promise.resolve();',
    description: 'halt() resolves before the thread has stopped: close() and terminate() return too early',
    flaw: /still running/,
    checks: '03.5 terminate|03.6 close',
  },
  {
    name: 'threads-close-cold',
    lab,
    file: 'pool.ts',
    find: '    await this.drained();\n',
    // Stops the threads at once: the tasks they were running die with them.
    replace: '',
    description: 'close() terminates the threads without waiting: tasks already given fail',
    flaw: /warm close/,
    checks: '03.6 close',
  },
  {
    name: 'threads-close-no-wait',
    lab,
    file: 'pool.ts',
    find: '    await Promise.all([...this.lanes].map((lane) => this.halt(lane.handle)));',
    replace: '    void Promise.all([...this.lanes].map((lane) => this.halt(lane.handle)));',
    description: 'close() does not wait for its threads to stop: it resolves while they still run',
    flaw: /still running/,
    checks: '03.6 close',
  },
  {
    name: 'threads-close-not-stopped',
    lab,
    file: 'pool.ts',
    find: '    this.stopped = true;\n',
    // Without `stopped`, each thread close() halts looks like a crash: onExit starts a new one in its place.
    replace: '',
    description:
      'close() halts the threads without setting `stopped`: each is replaced, and the pool lives on',
    flaw: /must not be replaced|still running/,
    checks: '03.6 close',
  },
  {
    name: 'threads-counter-plain',
    lab,
    file: 'counter.ts',
    find: '    Atomics.add(counter, 0, 1);',
    replace: '    counter[0] += 1;',
    description: 'the "atomic" bump is a plain += (read, add, write): concurrent bumps are lost',
    flaw: /updates lost|indivisible/,
    checks: '03.7',
  },
  {
    name: 'threads-counter-load-store',
    lab,
    file: 'counter.ts',
    find: '    Atomics.add(counter, 0, 1);',
    // Each step is atomic, the three together are not: another thread's bump lands between load and store.
    replace: '    Atomics.store(counter, 0, Atomics.load(counter, 0) + 1);',
    description: 'Atomics.load then Atomics.store: two atomic steps are not one, so bumps are lost',
    flaw: /updates lost|indivisible/,
    checks: '03.7',
  },
];

export default variants;
