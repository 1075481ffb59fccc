import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the outside world of the talk's examples: web pages to scrape and a mail server to send 5000+
 * mails through. Real HTTP over real loopback sockets; each response is held back `latencyMs`, like a remote
 * server's think time, so I/O-bound tasks spend their time waiting on a socket, as they do in production.
 */
export interface ExampleServer {
  readonly url: string;
  readonly latencyMs: number;
  /** Requests answered so far. */
  readonly served: number;
  close(): Promise<void>;
}

export async function startExampleServer(
  options: { latencyMs?: number; port?: number } = {},
): Promise<ExampleServer> {
  const latencyMs = options.latencyMs ?? 50;
  let served = 0;
  let mails = 0;
  const server: Server = createServer((request, response) => {
    const path = request.url ?? '/';
    const reply = (status: number, type: string, body: string) => {
      setTimeout(() => {
        served++;
        response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
        response.end(body);
      }, latencyMs);
    };
    const page = /^\/page\/(\d+)$/.exec(path);
    if (request.method === 'GET' && page) {
      const n = Number(page[1]);
      const links = Array.from(
        { length: 5 },
        (_, i) => `<a href="/page/${n * 5 + i + 1}">page ${n * 5 + i + 1}</a>`,
      );
      reply(
        200,
        'text/html',
        `<html><head><title>Page ${n}</title></head><body>${links.join('\n')}</body></html>`,
      );
      return;
    }
    if (request.method === 'POST' && path === '/mail') {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        try {
          const mail = JSON.parse(body) as { to?: unknown };
          if (typeof mail.to !== 'string' || !mail.to.includes('@')) throw new Error('bad address');
          reply(
            202,
            'application/json',
            JSON.stringify({ accepted: mail.to, messageId: `<${++mails}@mini-queue>` }),
          );
        } catch (error) {
          reply(400, 'application/json', JSON.stringify({ error: (error as Error).message }));
        }
      });
      return;
    }
    reply(404, 'text/plain', 'not found');
  });
  // Many idle keep-alive sockets from many lanes are expected; do not cut them under load.
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  // The server is scenery: neither it nor its keep-alive connections may keep the process alive.
  server.unref();
  server.on('connection', (socket) => socket.unref());
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    latencyMs,
    get served() {
      return served;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let local: Promise<ExampleServer> | undefined;

/**
 * Where the I/O tasks send their requests: MQ_EXAMPLE_SERVER when a demo started one for everybody, otherwise a
 * server started on first use inside this process (or thread), with MQ_EXAMPLE_LATENCY_MS latency (default 50).
 * So `npx tsx mini-queue worker` runs sendEmail with no set-up at all.
 */
export async function exampleServerUrl(): Promise<string> {
  const shared = process.env.MQ_EXAMPLE_SERVER;
  if (shared) return shared;
  local ??= startExampleServer({ latencyMs: Number(process.env.MQ_EXAMPLE_LATENCY_MS ?? 50) });
  return (await local).url;
}
