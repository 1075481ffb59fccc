/**
 * `npm run watch [-- NN]`: re-checks a lab when one of its files is saved, like rustlings' watch mode.
 *
 * Two ways to notice a save, because one is not enough: fs.watch is instant but misses events on WSL's /mnt
 * drives, network shares and some editors' atomic saves; a poll of every file's mtime and size once a second
 * always works. Both only *ask for a scan*; the scan compares against a snapshot taken when the last check
 * started, so one save seen by both triggers one check, and a save made during a check triggers one more.
 * Enter re-checks by hand, the last resort when neither works (and says so on screen).
 */
import { type FSWatcher, watch as fsWatch, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { listFiles } from '../kit/todos.ts';
import { style } from '../kit/ui/style.ts';
import { checkOne } from './actions.ts';
import type { Kit } from './kit.ts';
import { discoverLabs, type Lab } from './labs.ts';
import { wrap } from './text.ts';

export interface WatchOptions {
  /** Watch only this lab; by default every lab, and the saved file says which to check. */
  lab?: Lab;
  /** Lines typed here: Enter re-checks, `q` stops. Default: stdin. */
  input?: NodeJS.ReadableStream;
  /** How often to poll mtimes. @default 1000 */
  pollMs?: number;
  /** How long to wait for a burst of saves (editors write a file in several steps) to settle. @default 150 */
  debounceMs?: number;
  /** Use fs.watch besides the poll. Tests turn it off to prove the poll alone is enough. @default true */
  fsEvents?: boolean;
}

export interface Watcher {
  stop(): void;
  /** Resolves when stopped (by `q` or stop()). */
  stopped: Promise<void>;
}

type Snapshot = Map<string, string>;

export function watchLabs(kit: Kit, options: WatchOptions = {}): Watcher {
  const pollMs = options.pollMs ?? 1000;
  const debounceMs = options.debounceMs ?? 150;
  const labsDir = join(kit.root, 'labs');
  // Re-read each scan: a lab that appears while we watch (another helper finished it) is picked up.
  const labs = () => (options.lab ? [options.lab] : discoverLabs(kit.root));
  const snapshots = new Map<string, Snapshot>();
  for (const lab of labs()) snapshots.set(lab.name, snapshot(lab));

  const dirty = new Map<string, string>(); // lab name -> why
  let last = options.lab?.name ?? kit.store.load().lastLab;
  let running = false;
  let stopped = false;
  let scanTimer: NodeJS.Timeout | undefined;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });

  const footer = () =>
    kit.out(
      style.dim(
        wrap(
          `Watching ${options.lab ? `${options.lab.path}/` : 'labs/'} for saves. ` +
            'File events not arriving? Press Enter to re-check. q + Enter or Ctrl-C stops.',
        ),
      ),
    );

  function scan(): void {
    for (const lab of labs()) {
      const before = snapshots.get(lab.name);
      const now = snapshot(lab);
      if (!before) {
        snapshots.set(lab.name, now);
        continue;
      }
      const changed = [...now.keys(), ...before.keys()].find((file) => now.get(file) !== before.get(file));
      if (changed) dirty.set(lab.name, `${relative(kit.root, changed).split(sep).join('/')} saved`);
    }
    void flush();
  }

  async function flush(): Promise<void> {
    if (running || stopped) return;
    running = true;
    try {
      for (let next = dirty.entries().next(); !next.done && !stopped; next = dirty.entries().next()) {
        const [name, why] = next.value;
        dirty.delete(name);
        const lab = labs().find((l) => l.name === name);
        if (!lab) continue;
        // Snapshot before the check reads the files: a save during the check shows up as a change next scan.
        snapshots.set(name, snapshot(lab));
        last = name;
        kit.out(style.bold(`── ${clock(kit.now())} ${why}: checking ${name}`));
        await checkOne(kit, lab);
        footer();
      }
    } finally {
      running = false;
    }
  }

  const poll = setInterval(scan, pollMs);

  let watcher: FSWatcher | undefined;
  if (options.fsEvents !== false) {
    try {
      watcher = fsWatch(options.lab?.folder ?? labsDir, { recursive: true }, () => {
        clearTimeout(scanTimer);
        scanTimer = setTimeout(scan, debounceMs);
      });
      watcher.on('error', () => watcher?.close()); // the poll carries on alone
    } catch {
      watcher = undefined; // no recursive watch on this platform or filesystem: the poll is enough
    }
  }

  const lines = createInterface({ input: options.input ?? process.stdin, terminal: false });
  lines.on('line', (line) => {
    if (line.trim().toLowerCase() === 'q') {
      stop();
      return;
    }
    if (!last) {
      kit.out('Nothing to re-check yet: save a file in a lab, or start with `npm run watch -- NN`.');
      return;
    }
    dirty.set(last, 'Enter pressed');
    void flush();
  });

  function stop(): void {
    if (stopped) return;
    stopped = true;
    clearInterval(poll);
    clearTimeout(scanTimer);
    watcher?.close();
    lines.close();
    finish();
  }

  footer();
  if (options.lab) {
    dirty.set(options.lab.name, 'first check');
    void flush();
  }
  return { stop, stopped: done };
}

/** mtime and size of each source file of a lab: what changes when a file is saved, even on coarse clocks. */
function snapshot(lab: Lab): Snapshot {
  const out: Snapshot = new Map();
  let files: string[] = [];
  try {
    files = listFiles(lab.folder);
  } catch {
    return out; // the folder is being renamed or removed: nothing to compare this time
  }
  for (const file of files) {
    try {
      const s = statSync(file);
      out.set(file, `${s.mtimeMs}:${s.size}`);
    } catch {
      // deleted between listing and stat: counts as a change through its absence
    }
  }
  return out;
}

function clock(date: Date): string {
  return date.toTimeString().slice(0, 8);
}
