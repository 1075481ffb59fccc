/**
 * The dashboard's HTTP side, on node:http alone: the page (three static files read from page/ on each request,
 * so a reader can edit and reload), one server-sent-events stream of the model's ticks, and one POST that
 * enqueues a sample batch.
 *
 *   GET  /               page/index.html   (and /app.js, /style.css)
 *   GET  /events         text/event-stream: a full message first, then one every TICK_MS with what changed
 *   POST /enqueue        {"task":"fib","queue":"default"}: the sample batch of that example task (samples.ts)
 *
 * Why SSE and not a WebSocket: the page only listens, EventSource reconnects by itself, and it is plain HTTP,
 * so node:http serves it without a dependency.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../errors.ts';
import { validateQueueName } from '../keys.ts';
import { Queue } from '../queue.ts';
import type { DashboardModel } from './model.ts';
import { SAMPLE_BATCHES, sampleBatch } from './samples.ts';

/** How often the pages get a message: well within the 250 ms a change may take to show. */
export const TICK_MS = 100;

const PAGE_DIR = new URL('./page/', import.meta.url);
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** Nothing from elsewhere: no CDN, no font, no beacon. The page's only connection is back to this server. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || host.startsWith('127.');
}

export interface ServeOptions {
  host: string;
  port: number;
  model: DashboardModel;
  /** The queue a sample batch goes to when the page names none. */
  defaultQueue: string;
}

export interface Served {
  url: string;
  close(): Promise<void>;
}

interface Client {
  response: ServerResponse;
  /** Its socket's buffer is full: skip ticks until it drains, then send it everything again. */
  draining: boolean;
  needsReset: boolean;
}

export async function serve(options: ServeOptions): Promise<Served> {
  const { model } = options;
  const clients = new Set<Client>();
  const producers = new Map<string, Queue>();
  let port = options.port;

  // DNS rebinding: a page on evil.example whose name is made to resolve to 127.0.0.1 reaches a loopback server,
  // but its requests still say `Host: evil.example`. Bound to loopback, only loopback names are served.
  const hostAllowed = (request: IncomingMessage) => {
    if (!isLoopback(options.host)) return true;
    const host = request.headers.host ?? '';
    const name = host.replace(/:\d+$/, '');
    return LOOPBACK_NAMES.has(name) && host.endsWith(`:${port}`);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) reply(response, 500, `${(error as Error).message}\n`);
      else response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse) {
    if (!hostAllowed(request)) return reply(response, 403, 'unknown Host header\n');
    const path = (request.url ?? '/').split('?')[0]!;
    if (request.method === 'POST' && path === '/enqueue') return enqueue(request, response);
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply(response, 405, 'GET or POST\n');
    if (path === '/events') return subscribe(response);
    if (path === '/samples') {
      const samples = SAMPLE_BATCHES.map(({ task, count, describe }) => ({ task, count, describe }));
      return reply(
        response,
        200,
        JSON.stringify({ samples, queue: options.defaultQueue }),
        'application/json',
      );
    }
    const entry = FILES[path];
    if (!entry) return reply(response, 404, 'not found\n');
    const body = await readFile(new URL(entry.file, PAGE_DIR));
    response.writeHead(200, {
      'content-type': entry.type,
      'cache-control': 'no-store',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  }

  function subscribe(response: ServerResponse) {
    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.socket?.setNoDelay(true);
    // `retry`: a page whose server restarts is back within a second.
    response.write('retry: 1000\n\n');
    const client: Client = { response, draining: false, needsReset: true };
    clients.add(client);
    response.on('drain', () => {
      client.draining = false;
    });
    response.on('close', () => clients.delete(client));
  }

  /**
   * It changes state, so only the page itself may ask: a cross-site form or fetch carries another Origin (or,
   * from a plain form, Sec-Fetch-Site: cross-site), and JSON as the body's type makes a browser ask first
   * (a CORS preflight, which is refused here) before any other site's script could send it.
   */
  async function enqueue(request: IncomingMessage, response: ServerResponse) {
    const origin = request.headers.origin;
    const site = request.headers['sec-fetch-site'];
    if (origin !== `http://${request.headers.host}` || (site !== undefined && site !== 'same-origin')) {
      return reply(response, 403, 'refused: only the dashboard page itself may enqueue (same origin)\n');
    }
    if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
      return reply(response, 415, 'send JSON: {"task":"fib"}\n');
    }
    let body: { task?: unknown; queue?: unknown };
    try {
      body = JSON.parse(await readBody(request, 4096)) as typeof body;
    } catch (error) {
      return reply(response, 400, `not JSON: ${(error as Error).message}\n`);
    }
    const sample = typeof body.task === 'string' ? sampleBatch(body.task) : undefined;
    if (!sample) {
      return reply(
        response,
        400,
        `no sample batch for ${JSON.stringify(body.task)}: one of ${SAMPLE_BATCHES.map((s) => s.task).join(', ')}\n`,
      );
    }
    let name: string;
    try {
      name = validateQueueName(typeof body.queue === 'string' ? body.queue : options.defaultQueue);
    } catch (error) {
      return reply(response, 400, `${(error as UserError).message}\n`);
    }
    let queue = producers.get(name);
    if (!queue) {
      queue = new Queue({ name });
      producers.set(name, queue);
    }
    const args = Array.from({ length: sample.count }, (_, i) => sample.args(i));
    const handles = await queue.enqueueMany(sample.task, args);
    reply(
      response,
      200,
      JSON.stringify({ task: sample.task, queue: name, count: handles.length }),
      'application/json',
    );
  }

  const timer = setInterval(() => {
    if (clients.size === 0) {
      model.tick(); // still consumed: the changes of an unwatched tick are in the next page's snapshot
      return;
    }
    const frame = `data: ${JSON.stringify(model.tick())}\n\n`;
    let snapshot: string | undefined;
    for (const client of clients) {
      if (client.draining) {
        client.needsReset = true;
        continue;
      }
      let data = frame;
      if (client.needsReset) {
        snapshot ??= `data: ${JSON.stringify(model.snapshot())}\n\n`;
        data = snapshot;
        client.needsReset = false;
      }
      if (!client.response.write(data)) client.draining = true;
    }
  }, TICK_MS);

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      clearInterval(timer);
      reject(listenError(error, options.host, options.port));
    });
    server.listen(options.port, options.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const shown = isLoopback(options.host)
    ? '127.0.0.1'
    : options.host === '0.0.0.0' || options.host === '::'
      ? 'localhost'
      : options.host;
  const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/`;

  return {
    url,
    async close() {
      clearInterval(timer);
      for (const client of clients) client.response.end();
      clients.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.all([...producers.values()].map((queue) => queue.close()));
    },
  };
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  if (error.code === 'EADDRINUSE') {
    return new UserError(
      `port ${port} on ${host} is in use (another dashboard?): pick another with --port N, e.g. --port ${port + 1}, or --port 0 for any free one`,
    );
  }
  if (error.code === 'EACCES') {
    return new UserError(`port ${port} needs privileges here: pick one above 1023 with --port N`);
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    return new UserError(
      `--host ${host} is not an address of this machine: use 127.0.0.1 (the default) or 0.0.0.0`,
    );
  }
  return error;
}

function reply(response: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8') {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(body);
}

function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > limit) {
        reject(new Error(`body over ${limit} bytes`));
        request.destroy();
      }
    });
    request.on('end', () => resolve(body));
    request.on('error', reject);
  });
}
