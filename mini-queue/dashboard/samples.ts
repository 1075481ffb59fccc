/**
 * The dashboard's "enqueue a sample batch" buttons: one per example task (mini-queue/examples/tasks.ts), each a
 * batch sized so it is seen on the page for a few seconds on a laptop's worker, not minutes.
 */
export interface SampleBatch {
  task: string;
  count: number;
  /** The arguments of the i-th task of the batch. */
  args: (i: number) => unknown[];
  /** What the button's tooltip says it sends. */
  describe: string;
}

export const SAMPLE_BATCHES: readonly SampleBatch[] = [
  {
    task: 'sendEmail',
    count: 50,
    args: (i) => [`user${i}@example.com`, 'Your receipt'],
    describe: '50 mails (I/O)',
  },
  { task: 'scrapePage', count: 50, args: (i) => [i], describe: '50 pages (I/O)' },
  { task: 'fib', count: 20, args: () => [27], describe: '20 × fib(27) (CPU)' },
  { task: 'thumbnail', count: 10, args: () => [512], describe: '10 thumbnails of 512² (CPU)' },
  { task: 'predict', count: 10, args: () => [32], describe: '10 × predict(32 samples) (CPU)' },
  { task: 'sleep', count: 20, args: () => [800], describe: '20 × sleep 800 ms' },
  { task: 'noop', count: 500, args: () => [], describe: '500 no-ops' },
  { task: 'fail', count: 3, args: (i) => [`sample failure ${i + 1} of 3`], describe: '3 failures' },
  { task: 'sum', count: 20, args: (i) => [[i, 1], 2], describe: '20 sums' },
];

export function sampleBatch(task: string): SampleBatch | undefined {
  return SAMPLE_BATCHES.find((sample) => sample.task === task);
}
