import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface TodoMarker {
  id: string;
  /** Repo-relative path and line, e.g. labs/00-broker/broker.ts:23. */
  where: string;
}

const MARKER = /TODO\((\d\d\.\d+)\)/g;

/** Every `TODO(NN.k)` marker in a folder (source and Lua files), in TODO order (03.1 before 03.7). */
export function findTodos(folder: string): TodoMarker[] {
  const found: TodoMarker[] = [];
  for (const file of listFiles(folder)) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, index) => {
      for (const match of line.matchAll(MARKER)) {
        if (!found.some((t) => t.id === match[1])) {
          found.push({ id: match[1]!, where: `${relative(REPO_ROOT, file)}:${index + 1}` });
        }
      }
    });
  }
  // TODO order, not file order: counter.ts may sort before pool.ts, but 03.1 is where the lab starts.
  return found.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}

/** The source files of a lab folder (.ts, .mjs, .lua), recursively, sorted. */
export function listFiles(folder: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(folder).sort()) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else if (/\.(ts|mjs|lua)$/.test(name)) out.push(path);
  }
  return out;
}
