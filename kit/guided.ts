/**
 * A demo on a half-done lab ends by naming the next TODO, whatever went wrong on the way. A stub that is not
 * written often fails far from itself: a task promise nobody awaits rejects with ECONNRESET once the demo's
 * server closes, a child that never answers makes a pipe break. Such an error says nothing to a newcomer; the
 * first stub still in the lab's files does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotImplemented, todoIn, UserError } from '../mini-queue/errors.ts';
import type { Track } from '../mini-queue/parts.ts';
import { listFiles, REPO_ROOT } from './todos.ts';

// `NotImplemented('05.1', '...')`, `this.todo('02.6', "...")`, and a Lua stub's `'TODO(00.3): file.lua: ...'`.
const TS_STUB = /(?:NotImplemented|\.todo)\(\s*'(\d\d\.\d+)',\s*(['"])((?:(?!\2).)*)\2/gs;
const LUA_STUB = /'TODO\((\d\d\.\d+)\):\s*(?:[\w.-]+\.lua:\s*)?([^']*)'/g;

/** The stubs still in a lab's files (its demo aside), in TODO order: the first is the next thing to write. */
export function openStubs(labName: string): Array<{ todo: string; hint: string }> {
  const folder = join(REPO_ROOT, 'labs', labName);
  const stubs = new Map<string, string>();
  for (const file of listFiles(folder)) {
    if (file === join(folder, 'index.ts')) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(TS_STUB)) if (!stubs.has(m[1]!)) stubs.set(m[1]!, m[3]!);
    for (const m of text.matchAll(LUA_STUB)) if (!stubs.has(m[1]!)) stubs.set(m[1]!, m[2]!);
  }
  return [...stubs]
    .map(([todo, hint]) => ({ todo, hint }))
    .sort((a, b) => a.todo.localeCompare(b.todo, 'en', { numeric: true }));
}

/**
 * Runs a demo's body. An error that names no TODO (a transport error, a stray rejection from work a stub left
 * running) becomes the first open stub's NotImplemented when the demo runs your files and one is left, with the
 * error in a short note; with every stub written, or on the solution, it stays what it is (a bug to see).
 * Stray errors after the body ended (a socket reset while the demo cleans up) are swallowed: they are echoes of
 * what was already reported.
 */
export async function guided<T>(labName: string, track: Track, body: () => Promise<T>): Promise<T> {
  let settled = false;
  let strayError: (error: unknown) => void = () => {};
  const stray = new Promise<never>((_, reject) => {
    strayError = reject;
  });
  const onStray = (error: unknown) => {
    if (!settled) strayError(error);
  };
  process.on('unhandledRejection', onStray);
  process.on('uncaughtException', onStray);
  const run = body();
  try {
    return await Promise.race([run, stray]);
  } catch (error) {
    // A stray error came first: let the body's own clean-up (queues, children) finish, a moment at most.
    await Promise.race([run.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
    throw asGuidance(labName, track, error);
  } finally {
    settled = true;
  }
}

function asGuidance(labName: string, track: Track, error: unknown): unknown {
  if (error instanceof NotImplemented) return error;
  const text = error instanceof Error ? error.message : String(error);
  if (todoIn(text)) return error;
  // A child or thread that ended before it was ready: a fact about this run, not a bug to show a stack for.
  if (/before it was ready/.test(text)) {
    const why = /killed by SIG/.test(text)
      ? 'Something killed it while it was starting (kill -9, the OOM killer): run the demo again.'
      : 'It crashed while loading its modules: its own error is printed above this line.';
    return new UserError(`${text.replace(/: see its output above$/, '')}. ${why}`);
  }
  if (track !== 'labs') return error;
  const next = openStubs(labName)[0];
  if (!next) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const what = `${code && !text.includes(code) ? `${code}: ` : ''}${text.split('\n')[0]}`;
  return new NotImplemented(next.todo, `${next.hint}\n  (the run broke off with "${what}")`);
}

/** `demo: guide('02-coroutines', async (run) => ...)`: the demo, run through `guided`. */
export function guide<R extends { track: Track }>(
  labName: string,
  demo: (run: R) => Promise<boolean>,
): (run: R) => Promise<boolean> {
  return (run) => guided(labName, run.track, () => demo(run));
}
