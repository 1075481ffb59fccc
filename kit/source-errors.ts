/**
 * A learner's file that does not compile, said in one line, `file:line:col: message`, wherever it shows up: the
 * module loader's error for a TypeScript file that does not parse, Redis's for a Lua script that does not compile.
 * The demo harness and the grader both use these, so a syntax error reads the same in both, with no stack.
 */
import { readFileSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { luaError } from '../mini-queue/redis/scripts.ts';

export interface SourceProblem {
  /** Repo-relative `file:line`. */
  where: string;
  column: number;
  message: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes are control characters.
const ANSI = /\u001b\[[0-9;]*m/g;

/** A path as the learner sees it: relative to the kit root, with forward slashes. */
export function repoPath(file: string, root: string): string {
  const path = file.startsWith('file://') ? fileURLToPath(file) : file;
  return (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path) ? relative(root, path) : path)
    .split(sep)
    .join('/');
}

/** `file:line:col: message`. */
export function problemLine(problem: SourceProblem): string {
  return `${problem.where}:${problem.column}: ${problem.message}`;
}

/**
 * The file that does not parse, from a module loader's error text: tsx/esbuild's `FILE:LINE:COL: ERROR: message`,
 * or vite's (oxc, inside vitest) `[PARSE_ERROR] message` with a `╭─[ FILE:LINE:COL ]` frame.
 */
export function parseErrorIn(text: string, root: string): SourceProblem | undefined {
  const plain = text.replace(ANSI, '');
  const esbuild = /^(.+?):(\d+):(\d+): ERROR: (.*)$/m.exec(plain);
  if (esbuild) {
    const [, file, line, column, message] = esbuild as unknown as [string, string, string, string, string];
    return {
      where: `${repoPath(file.trim(), root)}:${line}`,
      column: Number(column),
      message: message.trim(),
    };
  }
  const oxc = /\[PARSE_ERROR\]\s*(.*)[\s\S]*?\[\s*(\S+?):(\d+):(\d+)\s*\]/.exec(plain);
  if (oxc) {
    const [, message, file, line, column] = oxc as unknown as [string, string, string, string, string];
    return { where: `${repoPath(file, root)}:${line}`, column: Number(column), message: message.trim() };
  }
  return undefined;
}

/** Each Lua script through Redis's own compiler (SCRIPT LOAD compiles without running anything). */
export async function compileLua(scripts: string[], root: string): Promise<SourceProblem[]> {
  if (scripts.length === 0) return [];
  const { connectRedis } = await import('../mini-queue/redis/client.ts');
  const redis = await connectRedis({ name: 'mq:compile-lua' });
  try {
    const problems: SourceProblem[] = [];
    for (const file of scripts) {
      try {
        await redis.script('LOAD', readFileSync(file, 'utf8'));
      } catch (error) {
        const lua = luaError(error, file);
        const where = `${repoPath(file, root)}:${lua?.line ?? 1}`;
        problems.push({ where, column: 1, message: lua?.reason ?? (error as Error).message });
      }
    }
    return problems;
  } finally {
    redis.disconnect();
  }
}
