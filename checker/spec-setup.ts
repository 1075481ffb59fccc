/**
 * Runs before every spec file (checker/vitest.config.ts `setupFiles`), in the spec's own module graph, so what it
 * installs on the chassis is what the spec's brokers and workers use. Under `--repeat N --seed S` it turns on the
 * Redis chaos (checker/redis-chaos.ts) and records how many commands it held back, so a report shows the delays
 * happened.
 */
import { afterAll } from 'vitest';
import { installRedisChaos } from './redis-chaos.ts';
import { chaosSeedGiven, record } from './spec-kit.ts';

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
