/**
 * Runs before every spec file (checker/vitest.config.ts `setupFiles`), in the spec's own module graph, so what it
 * installs on the chassis is what the spec's brokers and workers use. Under `--repeat N --seed S` it turns on the
 * Redis chaos (checker/redis-chaos.ts) and records how many commands it held back, so a report shows the delays
 * happened. A spec started ahead of its turn (MQ_CHECK_GATE, see run-spec.ts) waits for it before its first hook.
 */
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { installRedisChaos } from './redis-chaos.ts';
import { checkDone, scheduleOfRun, untilMayRun } from './schedule.ts';
import { chaosSeedGiven, record } from './spec-kit.ts';

const gate = process.env.MQ_CHECK_GATE;
if (gate) {
  // The first hook of the file (setup files register theirs before the spec's), after its checks are collected:
  // no hook or check of the spec runs before its turn. No time limit: the turn comes when the lab before is done.
  beforeAll(() => untilTurn(gate, Number(process.env.MQ_CHECK_PARENT)), 0);
}

const run = scheduleOfRun();
if (run) {
  // Graded beside another lab (checker/schedule.ts): each check waits for its turn to run, before the spec's own
  // hooks, without a time limit (the other lab's check is what it waits for); the wait is not the check's time.
  // After hooks run in reverse: this one after the spec's own clean-up.
  beforeEach(async ({ task }) => {
    task.meta.heldMs = await untilMayRun(run.schedule, run.lab, task.meta.measures === true);
  }, 0);
  afterEach(() => checkDone(run.schedule, run.lab), 0);
}

const seed = chaosSeedGiven();
if (seed !== undefined) {
  const chaos = installRedisChaos(seed);
  afterAll(() => {
    chaos.uninstall();
    // A spec that never talks to Redis (the pools of labs 03 to 05) has nothing to report.
    if (chaos.commands > 0) {
      record('Redis commands delayed by chaos', chaos.delayed, ` of ${chaos.commands}`);
    }
  });
}

/**
 * Resolves once the grader writes the gate file. A few stat calls a second, no CPU to speak of beside the lab
 * being graded. Should the grader die without a word (kill -9), this process ends rather than wait for ever.
 */
async function untilTurn(file: string, grader: number): Promise<void> {
  while (!existsSync(file)) {
    if (grader > 0 && !alive(grader)) process.exit(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
