/**
 * The kit's example tasks: the heavy work the talk says a web framework should hand to a queue.
 *
 * I/O-bound (waiting on a socket): sendEmail, scrapePage — against a loopback server with real latency.
 * CPU-bound (computing):           fib, thumbnail, predict — sizes are arguments, so tests stay fast.
 * Helpers for labs and tests:      sleep, noop, fail, sum (a chord's callback: it adds up the members' results).
 *
 * Start a worker on them: `npx tsx mini-queue worker --pool threads --concurrency 4`.
 */

import { random } from '../random.ts';
import { defineTasks } from '../tasks.ts';
import { httpRequest } from './http-client.ts';
import { boxBlur, checksum, downscale, generateImage } from './image.ts';
import { buildModel, forward } from './model.ts';
import { exampleServerUrl } from './server.ts';

/** Naive recursive Fibonacci: exponential, pure CPU. fib(25) is a few ms, fib(30) tens of ms, fib(35) ~1 s. */
export function fib(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 45)
    throw new RangeError(`fib(n) needs an integer 0..45, got ${n}`);
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

async function sendEmail(this: { signal: AbortSignal }, to: string, subject = 'Hello') {
  if (typeof to !== 'string')
    throw new TypeError(`sendEmail(to, subject) needs an address string, got ${typeof to}`);
  const reply = await httpRequest(`${await exampleServerUrl()}/mail`, {
    json: { to, subject },
    signal: this.signal,
  });
  const body = JSON.parse(reply.body) as { messageId?: string; error?: string };
  if (reply.status < 200 || reply.status > 299) throw new Error(`mail server refused ${to}: ${body.error}`);
  return { to, messageId: body.messageId };
}

async function scrapePage(this: { signal: AbortSignal }, page: number | string) {
  const url = typeof page === 'number' ? `${await exampleServerUrl()}/page/${page}` : String(page);
  const reply = await httpRequest(url, { signal: this.signal });
  if (reply.status < 200 || reply.status > 299) throw new Error(`GET ${url}: HTTP ${reply.status}`);
  const html = reply.body;
  const title = /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? '';
  const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);
  return { url, title, links: links.length };
}

/** Generates a size x size image, blurs it and makes a 64 x 64 thumbnail. size 256 is a few ms, 1024 ~100 ms. */
function thumbnail(size = 512, radius = 4) {
  if (!Number.isInteger(size) || size < 8 || size > 8192)
    throw new RangeError(`thumbnail size must be 8..8192`);
  const image = generateImage(size, size);
  const thumb = downscale(boxBlur(image, size, size, radius), size, size, 64);
  return { size, thumbnail: 64, checksum: checksum(thumb) };
}

/** A forward pass of a deterministic MLP over `samples` random inputs; returns the predicted classes. */
function predict(samples = 8, width = 256, seed = 7) {
  const model = buildModel([width, width, width, 10]);
  const next = random(seed);
  const classes: number[] = [];
  for (let s = 0; s < samples; s++) {
    const probabilities = forward(
      model,
      Array.from({ length: width }, () => next()),
    );
    classes.push(probabilities.indexOf(Math.max(...probabilities)));
  }
  return { samples, classes };
}

/** Waits ms without using the CPU (a timer): the simplest "I/O" for lab tests. */
async function sleep(this: { signal: AbortSignal }, ms: number) {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    this.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(this.signal.reason);
    });
  });
  return ms;
}

function noop() {
  return null;
}

/**
 * Adds numbers, and arrays of numbers: sum([1, 2], 3) is 6. A chord's callback gets its members' results as its
 * first argument (`chord fib '[20]' fib '[21]' --callback sum`), a chain's link the result before it.
 */
function sum(...values: unknown[]) {
  let total = 0;
  for (const value of values.flat()) {
    if (typeof value !== 'number') throw new TypeError(`sum adds numbers, got ${JSON.stringify(value)}`);
    total += value;
  }
  return total;
}

function fail(message = 'this task always fails') {
  throw new Error(String(message));
}

export default defineTasks({ sendEmail, scrapePage, fib, thumbnail, predict, sleep, noop, fail, sum });
