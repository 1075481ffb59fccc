/**
 * `npm run bench [-- --json [FILE]]`: mini-queue against what people would use instead, on the same Redis, in
 * the same run. Work in progress (issue 8): queue throughput against BullMQ and Bee-Queue so far.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineFacts } from '../checker/machine.ts';
import { median, spread } from '../checker/speedup.ts';
import { runMain } from '../mini-queue/errors.ts';
import { resolveRedisUrl } from '../mini-queue/redis/resolve.ts';
import { table } from '../mini-queue/ui/table.ts';
import { SYSTEMS, type System, type ThroughputRun } from './throughput.ts';

const CHILD = fileURLToPath(new URL('./throughput.ts', import.meta.url));

function runChild(system: System, total: number, concurrency: number): Promise<ThroughputRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CHILD, system, String(total), String(concurrency)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('close', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as ThroughputRun);
      else reject(new Error(`${system} run failed (exit ${code}): ${out}`));
    });
  });
}

await runMain(async () => {
  const argv = process.argv.slice(2);
  const jsonAt = argv.indexOf('--json');
  const jsonFile =
    jsonAt >= 0 && argv[jsonAt + 1] && !argv[jsonAt + 1]!.startsWith('--') ? argv[jsonAt + 1] : undefined;
  await resolveRedisUrl();
  const machine = machineFacts();
  const total = 20_000;
  const concurrency = 50;
  const runs = 3;
  console.log(
    `Machine: ${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}, load ${machine.loadAverage}`,
  );
  console.log(
    `Queue throughput: ${total} no-op tasks, bulk enqueue, one worker process at concurrency ${concurrency}, median of ${runs}.`,
  );
  const results: Record<string, { enqueuePerSec: number; processedPerSec: number; spread: number }> = {};
  for (const system of SYSTEMS) {
    await runChild(system, 2000, concurrency); // warm-up: disk cache, Redis memory
    const samples: ThroughputRun[] = [];
    for (let i = 0; i < runs; i++) samples.push(await runChild(system, total, concurrency));
    const processed = samples.map((s) => total / s.processSeconds);
    results[system] = {
      enqueuePerSec: median(samples.map((s) => total / s.enqueueSeconds)),
      processedPerSec: median(processed),
      spread: spread(processed),
    };
  }
  const ours = results['mini-queue']!;
  console.log(
    table(
      ['system', 'enqueue/s', 'processed/s', 'spread', 'ours / theirs'],
      SYSTEMS.map((s) => [
        s,
        results[s]!.enqueuePerSec.toFixed(0),
        results[s]!.processedPerSec.toFixed(0),
        `${(results[s]!.spread * 100).toFixed(0)}%`,
        s === 'mini-queue' ? '' : (ours.processedPerSec / results[s]!.processedPerSec).toFixed(2),
      ]),
    ),
  );
  const report = { machine, throughput: { total, concurrency, runs, results } };
  if (jsonAt >= 0) {
    if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
    else console.log(JSON.stringify(report, null, 2));
  }
  return 0;
});
