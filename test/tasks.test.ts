import { describe, expect, it } from 'vitest';
import { UserError } from '../mini-queue/errors.ts';
import { defineTasks, invokeTask, loadTasks, lookupTask, unknownTaskMessage } from '../mini-queue/tasks.ts';

describe('task registry', () => {
  const registry = defineTasks({
    add: (a: number, b: number) => a + b,
    whoAmI(this: { id: string; attempt: number }) {
      return `${this.id}#${this.attempt}`;
    },
  });

  it('looks tasks up by own name only', () => {
    expect(lookupTask(registry, 'add')).toBeTypeOf('function');
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(lookupTask(registry, name), name).toBeUndefined();
    }
  });

  it('names the known tasks for an unknown one', () => {
    expect(unknownTaskMessage('nope', registry)).toBe("unknown task 'nope' (known: add, whoAmI)");
  });

  it('runs a task with its context as `this`', async () => {
    const signal = new AbortController().signal;
    expect(await invokeTask(registry, { id: 'x', task: 'add', args: [2, 3], attempt: 0 }, signal)).toBe(5);
    expect(await invokeTask(registry, { id: 'x', task: 'whoAmI', args: [], attempt: 2 }, signal)).toBe('x#2');
    await expect(
      invokeTask(registry, { id: 'x', task: 'nope', args: [], attempt: 0 }, signal),
    ).rejects.toThrow("unknown task 'nope'");
  });

  it('refuses a non-function', () => {
    expect(() => defineTasks({ x: 3 as unknown as () => void })).toThrow(UserError);
  });

  it('loads the example tasks module and explains a bad path', async () => {
    const examples = await loadTasks();
    expect(Object.keys(examples).sort()).toEqual(
      ['fail', 'fib', 'noop', 'predict', 'scrapePage', 'sendEmail', 'sleep', 'sum', 'thumbnail'].sort(),
    );
    await expect(loadTasks('nowhere/tasks.ts')).rejects.toThrow(/No tasks module at nowhere\/tasks.ts/);
    await expect(loadTasks('mini-queue/keys.ts')).rejects.toThrow(/must `export default defineTasks/);
  });
});
