/**
 * Visitors for a web app under test: a small, bounded load generator on loopback (lab 06's "rush hour").
 *
 * Two kinds of visitor at once, for a fixed time:
 *
 *   heavy visitors  POST /thumbnail ──▶ 200 + the result        (the app computed it in the handler), or
 *                                  ──▶ 202 + { status: URL } ──▶ GET URL every pollMs until SUCCESS | FAILURE
 *   cheap visitors  GET /health, a short think, again             their latency is what the lab is about
 *
 * Every visitor waits for its answer before asking again (a closed loop), so the load is bounded by the number of
 * visitors whatever the app does. One caveat, on the generous side: a visitor whose answer is late also asks less
 * often, so the requests a blocked app would have kept waiting are never sent (coordinated omission). A blocked
 * loop looks *better* here than it is, never worse.
 */
import { Agent } from 'node:http';
import { UserError } from '../errors.ts';
import { httpRequest } from './http-client.ts';

/** How the latencies of one kind of request came out, ms. */
export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface RushHourOptions {
  /** The app's base URL: loopback only (`http://127.0.0.1:port` or `http://localhost:port`). */
  url: string;
  /** The heavy endpoint, its JSON body, and how many visitors use it at once. */
  heavy: { path: string; body: unknown; visitors: number };
  /** The cheap endpoint (GET), how many visitors use it, and their pause between requests, ms. */
  cheap: { path: string; visitors: number; thinkMs: number };
  /** How long visitors keep coming, ms (at most 60 000). */
  durationMs: number;
  /** How often a heavy visitor with a 202 asks its status URL, ms. @default 20 */
  pollMs?: number;
  /** How long after the rush a heavy visitor still waits for a result it was promised, ms. @default 10 000 */
  graceMs?: number;
  /** Told each cheap request's latency as it comes in, ms (a live display: lab 06's app stats). */
  onCheap?: (ms: number) => void;
}

export interface RushHourResult {
  /** The cheap endpoint: latency summary, answers a second, and answers that were not 2xx. */
  cheap: Summary & { perSecond: number; errors: number };
  heavy: {
    /** How long the heavy endpoint took to answer (200 with the result, or 202 with a status URL). */
    answered: Summary;
    /** How long until the result was in hand (the answer itself, or the status URL saying SUCCESS). */
    results: Summary;
    /** Heavy requests sent, answered 202 (offloaded), and finished with SUCCESS or FAILURE. */
    sent: number;
    offloaded: number;
    succeeded: number;
    failed: number;
    /** Answers that were neither 200 nor 202, and the first of them as `status: body`. */
    errors: number;
    firstError?: string;
  };
  seconds: number;
}

/** One HTTP exchange: status, parsed JSON body (or the raw text), and how long it took, ms. */
export interface Exchange {
  status: number;
  body: unknown;
  ms: number;
}

const MAX_VISITORS = 64;
const MAX_DURATION_MS = 60_000;

/** Nearest-rank percentile of values already sorted ascending; 0 for none. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summarise(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? 0,
  };
}

/** A keep-alive HTTP client for one loopback app: the sockets stay open between requests, as a browser's do. */
export class Client {
  private readonly agent: Agent;
  private readonly base: URL;

  constructor(url: string, sockets = 16) {
    this.base = loopback(url);
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  get(path: string): Promise<Exchange> {
    return this.send('GET', path);
  }

  post(path: string, json: unknown): Promise<Exchange> {
    return this.send('POST', path, json);
  }

  close(): void {
    this.agent.destroy();
  }

  /** Timed from before the request is made until its body is in and parsed, as a visitor waits for it. */
  private async send(method: string, path: string, json?: unknown): Promise<Exchange> {
    const started = performance.now();
    const reply = await httpRequest(new URL(path, this.base), { method, json, agent: this.agent });
    let body: unknown = reply.body;
    if (/json/.test(reply.contentType)) {
      try {
        body = JSON.parse(reply.body);
      } catch {}
    }
    return { status: reply.status, body, ms: performance.now() - started };
  }
}

/** Visitors come for `durationMs`, heavy and cheap at once; see the file's header. */
export async function rushHour(options: RushHourOptions): Promise<RushHourResult> {
  const { heavy, cheap, durationMs } = options;
  for (const [name, n] of [
    ['heavy.visitors', heavy.visitors],
    ['cheap.visitors', cheap.visitors],
  ] as const) {
    if (!Number.isInteger(n) || n < 0 || n > MAX_VISITORS) {
      throw new UserError(`rushHour: ${name} must be an integer from 0 to ${MAX_VISITORS}, got ${n}`);
    }
  }
  if (!Number.isFinite(durationMs) || durationMs <= 0 || durationMs > MAX_DURATION_MS) {
    throw new UserError(`rushHour: durationMs must be from 1 to ${MAX_DURATION_MS}, got ${durationMs}`);
  }
  const pollMs = options.pollMs ?? 20;
  const client = new Client(options.url, heavy.visitors + cheap.visitors + 2);
  const started = performance.now();
  const end = started + durationMs;
  const giveUp = end + (options.graceMs ?? 10_000);
  const cheapMs: number[] = [];
  let cheapErrors = 0;
  const answered: number[] = [];
  const results: number[] = [];
  const counts = { sent: 0, offloaded: 0, succeeded: 0, failed: 0, errors: 0 };
  let firstError: string | undefined;
  const error = (exchange: Exchange) => {
    counts.errors++;
    const said = (exchange.body as { error?: unknown } | undefined)?.error;
    const text = typeof exchange.body === 'string' ? exchange.body : JSON.stringify(exchange.body);
    firstError ??= `${exchange.status}: ${typeof said === 'string' ? said : text}`;
  };

  const cheapVisitor = async () => {
    while (performance.now() < end) {
      const exchange = await client.get(cheap.path);
      cheapMs.push(exchange.ms);
      options.onCheap?.(exchange.ms);
      if (exchange.status >= 300) cheapErrors++;
      await pause(cheap.thinkMs);
    }
  };

  const heavyVisitor = async () => {
    while (performance.now() < end) {
      const asked = performance.now();
      counts.sent++;
      const exchange = await client.post(heavy.path, heavy.body);
      answered.push(exchange.ms);
      if (exchange.status === 200) {
        counts.succeeded++;
        results.push(exchange.ms);
        continue;
      }
      const statusUrl = (exchange.body as { status?: unknown } | undefined)?.status;
      if (exchange.status !== 202 || typeof statusUrl !== 'string') {
        error(exchange);
        return; // a broken endpoint is reported once, not hammered for the rest of the rush
      }
      counts.offloaded++;
      // Promised a result: ask for it now and then, like a page polling a progress bar.
      for (;;) {
        await pause(pollMs);
        const poll = await client.get(statusUrl);
        const state = (poll.body as { state?: unknown } | undefined)?.state;
        if (poll.status === 200 && (state === 'SUCCESS' || state === 'FAILURE')) {
          if (state === 'SUCCESS') counts.succeeded++;
          else counts.failed++;
          results.push(performance.now() - asked);
          break;
        }
        if (poll.status !== 200) {
          error(poll);
          return;
        }
        if (performance.now() > giveUp) return;
      }
    }
  };

  try {
    await Promise.all([
      ...Array.from({ length: heavy.visitors }, heavyVisitor),
      ...Array.from({ length: cheap.visitors }, cheapVisitor),
    ]);
  } finally {
    client.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    cheap: {
      ...summarise(cheapMs),
      perSecond: cheapMs.length / Math.max(seconds, 1e-3),
      errors: cheapErrors,
    },
    heavy: {
      answered: summarise(answered),
      results: summarise(results),
      ...counts,
      ...(firstError === undefined ? {} : { firstError }),
    },
    seconds,
  };
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Visitors only ever talk to an app on this machine. */
function loopback(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(`rushHour: '${url}' is not a URL`);
  }
  if (parsed.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) {
    throw new UserError(`rushHour: visitors only go to http on loopback (127.0.0.1), got '${url}'`);
  }
  return parsed;
}
