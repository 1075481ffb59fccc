import { readdirSync, readFileSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { NotImplemented, todoIn, UserError } from '../errors.ts';

/**
 * Lua scripts, one file per operation, named `<name>-<number of keys>.lua` (BullMQ's convention): the count in
 * the name is checked against every call, so a missing key fails loudly instead of touching the wrong slot.
 * Registered with ioredis's defineCommand, which sends EVALSHA and falls back to EVAL after a Redis restart.
 */
export class Scripts {
  private readonly keyCounts = new Map<string, number>();
  private readonly files = new Map<string, string>();

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
        this.files.set(name, fileURLToPath(new URL(file, directory)));
        redis.defineCommand(commandName(name), {
          numberOfKeys: Number(keys),
          lua: readFileSync(new URL(file, directory), 'utf8'),
        });
      }
    }
  }

  async run(name: string, keys: string[], args: Array<string | number | Buffer>): Promise<unknown> {
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
      throw luaError(error, this.files.get(name)!) ?? error;
    }
  }
}

function commandName(name: string): string {
  return `mq_${name.replaceAll('-', '_')}`;
}

/**
 * A script that does not compile, or fails as it runs, answers `ERR ... user_script:LINE: message`: Redis names
 * no file. Said as `lua/FILE.lua:LINE: message`, one line, and as a UserError: retrying a broken script cannot
 * help, so a worker stops on it instead of retrying in silence. Transient replies (OOM, BUSY, LOADING, READONLY,
 * ...) carry no `user_script` and stay as they are.
 */
export class LuaScriptError extends UserError {
  override name = 'LuaScriptError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${shown(file)}:${line}: ${reason}`);
    // The script's line is where to look, not this file's: the stack says so, for tools that read frames.
    this.stack = `${this.name}: ${this.message}\n    at ${file}:${line}:1`;
  }
}

/** `error` as a LuaScriptError of `file` when Redis blamed the script, else undefined. */
export function luaError(error: unknown, file: string): LuaScriptError | undefined {
  const message = error instanceof Error ? error.message : String(error);
  if (/^(OOM|BUSY|LOADING|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOSCRIPT)\b/.test(message))
    return undefined;
  const line = /@?user_script:(\d+)/.exec(message)?.[1];
  if (!line) return undefined;
  const reason = message
    .replace(/^ERR\s+/, '')
    .replace(/^Error compiling script \(new function\):\s*/, '')
    .replace(/^Error running script[^:]*:\s*/, '')
    .replace(/^@?user_script:\d+:\s*/, '')
    .replace(/\s*script: [0-9a-f]+, on @user_script:\d+\.?$/, '')
    .trim();
  return new LuaScriptError(file, Number(line), reason);
}

/** A script's path as a person in the kit would type it: relative to where the command runs. */
function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel.split(sep).join('/');
}
