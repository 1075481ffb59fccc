import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Running the kit's TypeScript in other threads and processes, the same way from `npx tsx`, vitest and plain
 * node. Shared by the threads, processes and prefork pools, the piscina comparison and the benchmarks.
 */

/**
 * The entry file for a worker thread (or piscina's `filename`) that runs a .ts module: see ts-entry.mjs for why
 * the entry cannot be the .ts file itself.
 */
export const TS_THREAD_ENTRY = fileURLToPath(new URL('./ts-entry.mjs', import.meta.url));

/** `workerData` for TS_THREAD_ENTRY: which .ts module to import, plus whatever that module reads. */
export function tsThreadData<T extends Record<string, unknown>>(
  module: URL | string,
  data: T = {} as T,
): T & { tsEntry: string } {
  return { ...data, tsEntry: typeof module === 'string' ? module : module.href };
}

// tsx's own loader, by absolute URL: `--import tsx` would be resolved from the child's cwd, which may be anywhere.
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * `execArgv` for `child_process.fork` of a .ts file. Under `npx tsx` the parent's own flags already load tsx and
 * the child inherits them; under vitest or plain node they do not, so tsx is added.
 */
export function tsChildExecArgv(): string[] {
  const inherited = process.execArgv.filter((arg) => !arg.startsWith('--inspect'));
  return inherited.some((arg) => arg.includes('tsx')) ? inherited : [...inherited, '--import', TSX_LOADER];
}
