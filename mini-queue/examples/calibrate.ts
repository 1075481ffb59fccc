/**
 * Sizes for the CPU-bound example tasks so that one run takes about `targetMs` on this machine: demos and checks
 * then mean the same thing on a fast desktop and a slow laptop. (fib has its own in kit/parallel.ts.)
 */
import exampleTasks from './tasks.ts';

const { thumbnail, predict } = exampleTasks;
const context = { id: 'calibrate', attempt: 0, signal: new AbortController().signal };

/** The best of `runs` timings of `fn`, ms: noise on a shared machine only ever adds time. */
function best(fn: () => unknown, runs = 3): number {
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    fn();
    fastest = Math.min(fastest, performance.now() - started);
  }
  return fastest;
}

/** `thumbnail(size)` of about `targetMs`: its cost grows with the pixels, size². */
export function thumbnailFor(targetMs: number): { size: number; ms: number } {
  best(() => thumbnail.call(context, 128), 2); // warm the JIT
  const probe = 512;
  const ms = best(() => thumbnail.call(context, probe));
  const size = Math.max(64, Math.min(4096, Math.round((probe * Math.sqrt(targetMs / ms)) / 16) * 16));
  return { size, ms: best(() => thumbnail.call(context, size), 2) };
}

/** `predict(samples)` of about `targetMs`: a fixed cost (building the model) plus a cost per sample. */
export function predictFor(targetMs: number): { samples: number; ms: number } {
  best(() => predict.call(context, 4), 2);
  const few = best(() => predict.call(context, 8));
  const many = best(() => predict.call(context, 64));
  const perSample = Math.max(1e-3, (many - few) / 56);
  const fixed = Math.max(0, few - 8 * perSample);
  const samples = Math.max(1, Math.min(4096, Math.round((targetMs - fixed) / perSample)));
  return { samples, ms: best(() => predict.call(context, samples), 2) };
}
