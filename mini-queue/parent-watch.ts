import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

/**
 * Notices when the command that started this process is gone, so a worker does not serve on as an orphan.
 *
 * `npx tsx mini-queue worker …` is four processes, and a signal to the first does not reach the last:
 *
 *   npm exec tsx mini-queue worker …   ◀── kill -TERM (a script's `kill $!`, a process manager, a container stop)
 *    └─ sh -c 'tsx' mini-queue worker …    npm forwards the signal here, and sh dies of it
 *        └─ node …/tsx mini-queue worker …     not signalled: reparented to init, it waits on
 *            └─ node … mini-queue worker …     the worker, whose own parent (tsx) is still there
 *
 * So watching process.ppid is not enough. The *launchers* are the parent plus every ancestor above it whose
 * command line holds this process's own arguments (`worker --queue q …`): npm exec, sh -c and tsx do, the shell or
 * supervisor that ran the command does not. Each link below the top launcher is watched: when a process in the
 * chain exits, its child is reparented at once (even if nobody reaps it), so a changed ppid anywhere in the chain
 * means a launcher is gone. The top launcher's own parent, the shell or supervisor that ran the command, is not
 * watched: it is not part of the command, and whether the worker outlives it is its own business.
 */

export interface GoneLauncher {
  pid: number;
  /** Its command line, as it was when the watch started. */
  command: string;
}

interface Proc {
  pid: number;
  ppid: number;
  args: string[];
}

/**
 * Calls `onGone` once, the first time a launcher of this process is found gone (checked every `intervalMs`).
 * Returns the function that stops watching. Does not keep the process alive.
 */
export function watchLaunchers(onGone: (gone: GoneLauncher) => void, intervalMs = 1000): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
  };
  void launcherChain().then((chain) => {
    const tick = async () => {
      if (stopped) return;
      const gone = await findGone(chain).catch(() => undefined);
      if (stopped) return;
      if (gone) {
        stop();
        onGone(gone);
        return;
      }
      timer = setTimeout(() => void tick(), intervalMs);
      timer.unref();
    };
    void tick();
  });
  return stop;
}

/** This process, its parent, then each ancestor above that while it is a launcher (see the top of this file). */
export async function launcherChain(): Promise<Proc[]> {
  const chain: Proc[] = [{ pid: process.pid, ppid: process.ppid, args: process.argv }];
  const own = tokens(process.argv.slice(2));
  const isLauncher = (proc: Proc) => own.length > 0 && containsRun(tokens(proc.args), own);
  // pid 1 is init or a container's entry: it never goes away, so there is nothing to watch from there up.
  for (let pid = process.ppid; pid > 1; ) {
    // The parent is watched even where it cannot be read (Windows): process.ppid alone says when it goes.
    const proc = (await readProc(pid)) ?? (chain.length === 1 ? { pid, ppid: 0, args: [] } : undefined);
    if (!proc || (chain.length > 1 && !isLauncher(proc))) break;
    chain.push(proc);
    if (!isLauncher(proc)) break;
    pid = proc.ppid;
  }
  return chain;
}

/** The first launcher in `chain` that is gone: its child in the chain has a new parent, or is gone itself. */
async function findGone(chain: Proc[]): Promise<GoneLauncher | undefined> {
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i]!;
    const parent = chain[i + 1]!;
    const ppid = child.pid === process.pid ? process.ppid : (await readProc(child.pid))?.ppid;
    if (ppid === undefined) return describe(child);
    if (ppid !== parent.pid) return describe(parent);
  }
  return undefined;
}

function describe(proc: Proc): GoneLauncher {
  return { pid: proc.pid, command: proc.args.join(' ') };
}

const run = promisify(execFile);

/** A process's parent and command line: /proc on Linux, `ps` on other Unixes, nothing on Windows. */
async function readProc(pid: number): Promise<Proc | undefined> {
  if (process.platform === 'win32') return undefined;
  try {
    if (process.platform === 'linux') {
      const [stat, cmdline] = await Promise.all([
        readFile(`/proc/${pid}/stat`, 'utf8'),
        readFile(`/proc/${pid}/cmdline`, 'utf8'),
      ]);
      // `pid (comm) state ppid …`, where comm may hold spaces and parentheses: parse after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return { pid, ppid, args: cmdline.split('\0').filter(Boolean) };
    }
    const { stdout } = await run('ps', ['-o', 'ppid=', '-o', 'args=', '-p', String(pid)]);
    const match = /^\s*(\d+)\s+(.*)$/.exec(stdout.trim());
    return match ? { pid, ppid: Number(match[1]), args: match[2]!.split(/\s+/) } : undefined;
  } catch {
    return undefined;
  }
}

/** Words of a command line, shell quotes stripped: `sh -c "tsx mini-queue worker -Q 'a b'"` → …, a, b. */
function tokens(args: string[]): string[] {
  return args
    .flatMap((arg) => arg.split(/\s+/))
    .map((word) => word.replace(/^['"]+|['"]+$/g, ''))
    .filter(Boolean);
}

/** Whether `needle` appears in `haystack` as a contiguous run. */
function containsRun(haystack: string[], needle: string[]): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
