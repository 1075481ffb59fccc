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
        const lua = readFileSync(new URL(file, directory), 'utf8');
        redis.defineCommand(commandName(name), { numberOfKeys: Number(keys), lua });
        // Defined now, with the rest: a command defined later is missing from an auto-pipeline already open.
        redis.defineCommand(commandName(`${name}-each`), { lua: batchedLua(lua) });
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

  /**
   * Runs script `name` once per item, all in one EVALSHA: the script's own file, unchanged, is the body of a Lua
   * function called for each item in turn (see batchedLua). The first `shared` keys are the same for every item;
   * each item brings the rest of its keys and all of its arguments. Resolves with one reply per item, in order.
   * Atomic as a whole, and each item exactly as atomic as one run of the script.
   */
  async runEach(
    name: string,
    shared: string[],
    items: Array<{ keys: string[]; args: Array<string | number> }>,
  ): Promise<unknown[]> {
    const expected = this.keyCounts.get(name);
    if (expected === undefined) throw new Error(`no Lua script named '${name}'`);
    const perKeys = expected - shared.length;
    const perArgs = items[0]?.args.length ?? 0;
    if (items.some((item) => item.keys.length !== perKeys || item.args.length !== perArgs))
      throw new Error(
        `${name}-${expected}.lua: every item takes ${perKeys} keys and the same number of args`,
      );
    const command = commandName(`${name}-each`);
    const keys = [...shared, ...items.flatMap((item) => item.keys)];
    const args = [shared.length, perKeys, perArgs, ...items.flatMap((item) => item.args)];
    const run = (this.redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown[]>>)[command]!;
    try {
      return await run.call(this.redis, keys.length, ...keys, ...args);
    } catch (error) {
      const todo = todoIn((error as Error).message ?? '');
      if (todo) throw new NotImplemented(todo.todo, todo.hint);
      throw luaError(error, this.files.get(name)!) ?? error;
    }
  }
}

/**
 * A script that runs `source` once per item. The file becomes the body of a function whose parameters are named
 * KEYS and ARGV, so the body reads its own item's keys and arguments through the names it always uses, and its
 * `return` returns from that item only. The header sits on the file's first line: every line number Redis reports
 * is the file's own. An error reply (a TODO stub's, say) stops the batch and is the batch's reply.
 */
export function batchedLua(source: string): string {
  return `local function one(KEYS, ARGV) ${source}
end
local shared, perKeys, perArgs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local replies = {}
-- One KEYS and one ARGV table for all items, refilled for each: the body reads them and keeps nothing.
local keys, args = {}, {}
for k = 1, shared do keys[k] = KEYS[k] end
for i = 0, (#KEYS - shared) / perKeys - 1 do
  for k = 1, perKeys do keys[shared + k] = KEYS[shared + i * perKeys + k] end
  for a = 1, perArgs do args[a] = ARGV[3 + i * perArgs + a] end
  local reply = one(keys, args)
  if type(reply) == 'table' and reply.err then return reply end
  -- A nil would end the reply array early (Lua tables stop at the first nil): say false, Redis's nil.
  if reply == nil then reply = false end
  replies[i + 1] = reply
end
return replies
`;
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
