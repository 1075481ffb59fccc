import { expect } from 'vitest';
import { runBatch } from '../kit/parallel.ts';
import type { Pool, TaskCall, TaskOutcome } from '../mini-queue/pool.ts';
import { call, chaosRandom, chaosSeedOfRun, show, within } from './spec-kit.ts';

/**
 * Chaos for the parallel labs (`npm run check -- NN --repeat N --seed S`): a batch of naps of random lengths in
 * which one or two tasks kill their own lane at a random moment (a thread exits, a child is SIGKILLed), so the
 * kill lands while other tasks are running, queued or being handed out, at a different moment each seed. A
 * pool must settle every call, fail exactly the killed ones, and still run `lanes` tasks side by side after.
 * The seed is in every message: `--repeat 1 --seed S` reproduces the run.
 */
export async function expectSurvivesKills(
  pool: Pool,
  lanes: number,
  hangMs = 20_000,
): Promise<TaskOutcome[]> {
  const next = chaosRandom();
  const seed = chaosSeedOfRun();
  const size = 3 * lanes + 2;
  const doomed = new Set<number>();
  const kills = 1 + Math.floor(next() * 2);
  while (doomed.size < kills) doomed.add(Math.floor(next() * size));
  const batch: TaskCall[] = Array.from({ length: size }, (_, i) =>
    doomed.has(i)
      ? call('dieAfter', [Math.round(20 + next() * 200), process.pid])
      : call('nap', [Math.round(20 + next() * 250)]),
  );
  const outcomes = await within(
    runBatch(pool, batch),
    hangMs,
    `every task to settle while ${kills} lane(s) died mid-task (seed ${seed}): a task held by a dead lane must fail, never hang`,
  );
  outcomes.forEach((o, i) => {
    if (doomed.has(i)) {
      expect(
        o.ok,
        `task ${i} killed its lane mid-task: it must fail, not succeed (seed ${seed}; ${show(o)})`,
      ).toBe(false);
      if (!o.ok)
        expect(o.error.message, `task ${i}: a lane's death, not the guard (seed ${seed})`).not.toMatch(
          /checker process itself/,
        );
    } else {
      expect(
        o.ok,
        `task ${i} shared the pool with a dying lane: it must succeed (seed ${seed}; ${show(o)})`,
      ).toBe(true);
    }
  });
  await expectLanesAgain(pool, lanes, `after the kills (seed ${seed})`);
  return outcomes;
}

/**
 * After lanes died: `lanes` tasks run side by side again, on replacements. A replacement may still be starting
 * (a child process takes a second on a busy laptop) while the living lanes take the work, so it gets a few
 * rounds to join. Resolves the last round's outcomes.
 */
export async function expectLanesAgain(pool: Pool, lanes: number, when: string): Promise<TaskOutcome[]> {
  let after: TaskOutcome[] = [];
  for (let round = 0; round < 4; round++) {
    after = await within(
      runBatch(
        pool,
        Array.from({ length: lanes }, () => call('nap', [300])),
      ),
      10_000,
      `${lanes} tasks ${when}: dead lanes must be replaced`,
    );
    for (const o of after) expect(o.ok, show(o)).toBe(true);
    if (new Set(after.map((o) => o.lane)).size === lanes) return after;
  }
  expect(new Set(after.map((o) => o.lane)).size, `${when}, ${lanes} lanes run side by side again`).toBe(
    lanes,
  );
  return after;
}
