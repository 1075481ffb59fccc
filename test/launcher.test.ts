/**
 * SIGTERM to the command a person started: `npx tsx mini-queue worker`, exactly as the README shows, is npm exec
 * ─▶ sh ─▶ tsx ─▶ node. A SIGTERM to npx (a script's `kill $!`, a process manager, a container stop) must stop the
 * worker warm: the task it runs finishes, its leases are released, and no process of the tree is left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { POOL_KINDS } from '../mini-queue/pool.ts';
import { Queue } from '../mini-queue/queue.ts';
import { alive, ROOT } from './helpers/cli.ts';
import { loadNow, loadStretch } from './helpers/load.ts';
import { until, useQueues } from './helpers/queues.ts';

const queues = useQueues('launcher');
const started: ChildProcess[] = [];
/** Every process of the trees seen: a worker left behind has lost its way up to npx. */
const seen: Proc[] = [];

afterEach(() => {
  for (const child of started.splice(0)) if (child.pid) seen.push(...tree(child.pid));
  for (const proc of seen.splice(0).reverse()) {
    if (!stillRuns(proc)) continue;
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {}
  }
});

interface Proc {
  pid: number;
  ppid: number;
  /** With the pid, which process it is: pids are reused here within seconds. */
  startTime: string;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(fields[1]), startTime: fields[19]! };
  } catch {
    return undefined;
  }
}

/** `root` and every process below it, now. */
function tree(root: number): Proc[] {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => readProc(Number(name)) ?? []);
  const found = all.filter((proc) => proc.pid === root);
  for (let i = 0; i < found.length; i++) found.push(...all.filter((proc) => proc.ppid === found[i]!.pid));
  return found;
}

function stillRuns(proc: Proc): boolean {
  return alive(proc.pid) && readProc(proc.pid)?.startTime === proc.startTime;
}

describe.skipIf(process.platform !== 'linux')('SIGTERM to `npx tsx mini-queue worker`', () => {
  it.each(POOL_KINDS)(
    '%s: the worker stops warm and no process of it is left 10 s later',
    async (pool) => {
      const name = queues.name();
      // The bounds hold with a core to spare; a busy machine stretches them (helpers/load.ts).
      const loadAtStart = loadNow();
      const npx = spawn('npx', ['tsx', 'mini-queue', 'worker', '--pool', pool, '-c', '2', '--queue', name], {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      started.push(npx);
      let output = '';
      npx.stdout.on('data', (c: Buffer) => {
        output += c.toString();
      });
      npx.stderr.on('data', (c: Buffer) => {
        output += c.toString();
      });
      await until(() => /^worker \d+:/m.test(output), 30_000 * loadStretch(loadAtStart));
      const queue = new Queue({ name });
      try {
        const running = await queue.enqueue('sleep', [1500]);
        await until(async () => (await running.state()) === 'STARTED', 10_000 * loadStretch(loadAtStart));
        const processes = tree(npx.pid!);
        seen.push(...processes);
        // npm exec, sh, tsx, the worker, and for threads or prefork what the pool started.
        expect(processes.length, output).toBeGreaterThanOrEqual(4);

        npx.kill('SIGTERM');
        const killedAt = Date.now();
        const bound = 10_000 * loadStretch(loadAtStart);
        await until(() => !processes.some(stillRuns), bound);
        expect(Date.now() - killedAt).toBeLessThan(bound);

        expect(output).toMatch(
          /a process that started this worker is gone .*: warm shutdown, finishing 1 task/,
        );
        expect(output).toMatch(/worker \d+ stopped: 1 succeeded, 0 failed/);
        expect(await running.state(), 'the task it ran finished').toBe('SUCCESS');
        expect(await queue.stats()).toMatchObject({ active: 0, succeeded: 1 });
      } finally {
        await queue.close();
      }
    },
    240_000,
  );
});
