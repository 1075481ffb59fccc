/**
 * A failed check, in the learner's terms: what went wrong in plain words (the assertion's first line with its
 * custom message, a time-out with what usually hangs there, a compile or Lua error as `file:line:col: message`),
 * where in the learner's files (the first stack frame inside the track's lab folder, else the marker of the TODO
 * the check belongs to), and the TODO of a stub, when a stub is why it failed. Never a stack trace.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseErrorIn, problemLine, repoPath } from '../kit/source-errors.ts';
import { listFiles } from '../kit/todos.ts';
import { todoIn } from '../mini-queue/errors.ts';
import type { RawError } from './stream-events.ts';
import { usualHangs } from './time-limits.ts';

export interface Failure {
  /** One line, no stack. */
  message: string;
  /** Repo-relative `file:line` in the learner's files, when it can be located. */
  where?: string;
  /** The stub that threw, when a TODO not done is why the check failed. */
  todo?: { todo: string; hint: string };
  /** The check ran past its time limit. */
  hung?: boolean;
}

export interface FailureContext {
  /** The kit root, where the track folder is. */
  root: string;
  /** `labs`, `solutions`, `.variant-x`. */
  track: string;
  /** `00-broker` */
  lab: string;
  /** The check's title, `00.2 moves ...`: its TODO locates a failure that has no frame in the learner's files. */
  title: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes are control characters.
const ANSI = /\u001b\[[0-9;]*m/g;

/** The TODO id a check's title starts with (`00.2 moves ...` → `00.2`), if any. */
export function todoOfTitle(title: string): string | undefined {
  return /^(\d\d\.\d+)\b/.exec(title)?.[1];
}

export function describeFailure(error: RawError, context: FailureContext): Failure {
  const text = error.message.replace(ANSI, '');
  const stub = error.todo ? { todo: error.todo, hint: error.hint ?? '' } : todoIn(text);
  if (stub) {
    const where = frameIn(error.stack, context) ?? markerOf(stub.todo, context);
    return { message: `TODO(${stub.todo}) is not done yet: ${stub.hint}`, todo: stub, ...at(where) };
  }
  const timedOut = /^Test timed out in (\d+)ms/.exec(text) ?? /^Hook timed out in (\d+)ms/.exec(text);
  if (timedOut) {
    const seconds = Math.round(Number(timedOut[1]) / 1000);
    return {
      message: `no answer within ${seconds} s: it hung. What usually hangs here: ${usualHangs(context.lab)}.`,
      hung: true,
      ...at(markerOf(todoOfTitle(context.title), context)),
    };
  }
  const parse = parseErrorIn(text, context.root);
  if (parse) return { message: problemLine(parse), where: parse.where };
  const lua = /^(\S+\.lua):(\d+): /.exec(text);
  const where = lua
    ? `${lua[1]}:${lua[2]}`
    : (frameIn(error.stack, context) ?? markerOf(todoOfTitle(context.title), context));
  return { message: firstLine(plain(error.name, text)), ...at(where) };
}

function at(where: string | undefined): { where?: string } {
  return where ? { where } : {};
}

/** `AssertionError: x` reads as `x` (vitest puts the custom message first); other errors keep their name. */
function plain(name: string, message: string): string {
  const bare = ['AssertionError', 'Error', 'LuaScriptError', ''];
  if (bare.includes(name) || message.startsWith(`${name}:`)) return message;
  return `${name}: ${message}`;
}

export function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line !== '') ?? ''
  );
}

/** The first stack frame inside the track's lab folder, as `track/lab/file:line`. */
export function frameIn(stack: string | undefined, context: FailureContext): string | undefined {
  if (!stack) return undefined;
  const folder = join(context.root, context.track, context.lab) + sep;
  for (const line of stack.split('\n')) {
    const frame = /\(?((?:file:\/\/)?\/[^():]+):(\d+):\d+\)?\s*$/.exec(line.trim());
    if (!frame) continue;
    const file = frame[1]!.startsWith('file://') ? fileURLToPath(frame[1]!) : frame[1]!;
    if (file.startsWith(folder)) return `${repoPath(file, context.root)}:${frame[2]}`;
  }
  return undefined;
}

/**
 * Where a TODO is in the track's lab folder: its `TODO(NN.k)` marker, else the `(NN.k)` comment a solution keeps
 * at the filled line. The place to look when a check fails with no frame in the learner's files (an assertion on
 * what Redis holds, a hang).
 */
export function markerOf(todo: string | undefined, context: FailureContext): string | undefined {
  if (!todo) return undefined;
  const folder = join(context.root, context.track, context.lab);
  if (!existsSync(folder)) return undefined;
  const files = listFiles(folder).filter((f) => !f.endsWith(`${sep}index.ts`));
  for (const pattern of [`TODO(${todo})`, `(${todo})`]) {
    for (const file of files) {
      const lines = readFileSync(file, 'utf8').split('\n');
      const index = lines.findIndex((line) => line.includes(pattern));
      if (index >= 0) return `${repoPath(file, context.root)}:${index + 1}`;
    }
  }
  return undefined;
}
