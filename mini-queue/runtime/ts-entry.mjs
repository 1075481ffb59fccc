/**
 * The entry of a worker thread that runs TypeScript: `new Worker(TS_ENTRY, { workerData: { tsEntry } })`.
 *
 * Why a .mjs at all: a Worker whose entry is a .ts file fails with ERR_UNKNOWN_FILE_EXTENSION on Node 20, even
 * with `execArgv: ['--import', 'tsx']`, because the entry is resolved before any --import runs in the thread.
 * This file needs no loader; it registers tsx's hooks for this thread first, and only then imports the .ts
 * module, so that import (and everything it imports) goes through them. piscina's `filename` uses it too: the
 * module's default export is re-exported, which is where piscina looks for its handler.
 */
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

const entry = workerData?.tsEntry;
if (typeof entry !== 'string') {
  throw new Error(
    'ts-entry.mjs: pass the .ts module to run as workerData.tsEntry (a file URL or an absolute path)',
  );
}
register();
const module = await import(entry.startsWith('file:') ? entry : new URL(`file://${entry}`).href);

export default module.default;
