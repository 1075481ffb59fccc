import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { NotImplemented, todoIn } from '../errors.ts';

/**
 * Lua scripts, one file per operation, named `<name>-<number of keys>.lua` (BullMQ's convention): the count in
 * the name is checked against every call, so a missing key fails loudly instead of touching the wrong slot.
 * Registered with ioredis's defineCommand, which sends EVALSHA and falls back to EVAL after a Redis restart.
 */
export class Scripts {
  private readonly keyCounts = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    directories: URL[],
  ) {
    for (const directory of directories) {
      const path = fileURLToPath(directory);
      for (const file of readdirSync(path)) {
        const match = /^([a-z][a-z-]*)-(\d+)\.lua$/.exec(file);
        if (!match) continue;
        const [, name, keys] = match as unknown as [string, string, string];
        this.keyCounts.set(name, Number(keys));
        redis.defineCommand(commandName(name), {
          numberOfKeys: Number(keys),
          lua: readFileSync(new URL(file, directory), 'utf8'),
        });
      }
    }
  }

  async run(name: string, keys: string[], args: Array<string | number>): Promise<unknown> {
    const expected = this.keyCounts.get(name);
    if (expected === undefined) throw new Error(`no Lua script named '${name}'`);
    if (expected !== keys.length)
      throw new Error(`${name}-${expected}.lua takes ${expected} keys, got ${keys.length}`);
    const command = (this.redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[
      commandName(name)
    ]!;
    try {
      return await command.call(this.redis, ...keys, ...args);
    } catch (error) {
      // A lab's Lua stub answers `redis.error_reply('TODO(00.3): ...')`: turn it into guidance.
      const todo = todoIn((error as Error).message ?? '');
      if (todo) throw new NotImplemented(todo.todo, todo.hint);
      throw error;
    }
  }
}

function commandName(name: string): string {
  return `mq_${name.replaceAll('-', '_')}`;
}
