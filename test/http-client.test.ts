/**
 * The example tasks' HTTP client (mini-queue/examples/http-client.ts, undici's request()) against real servers on
 * loopback: node:http ones, and raw sockets for the replies node:http would not send (close-delimited bodies,
 * 1xx, a kept-alive socket the server closes while idle). Framing, reuse, aborts, and a caller's own agent.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpRequest } from '../mini-queue/examples/http-client.ts';

const closers: Array<() => void> = [];

afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A node:http server on loopback; counts the connections it accepted. */
async function httpServer(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const server = createHttpServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => handler(req, res, body));
  });
  const stats = { connections: 0 };
  server.on('connection', () => stats.connections++);
  return { url: await listen(server), stats, server };
}

/** A raw TCP server: `onRequest(socket, n)` for the n-th request head (0-based) on any connection. */
async function rawServer(onRequest: (socket: Socket, n: number) => void) {
  let n = 0;
  const stats = { connections: 0 };
  const server = createNetServer((socket) => {
    stats.connections++;
    let seen = '';
    socket.on('data', (chunk) => {
      seen += chunk.toString('latin1');
      while (seen.includes('\r\n\r\n')) {
        seen = seen.slice(seen.indexOf('\r\n\r\n') + 4);
        onRequest(socket, n++);
      }
    });
    socket.on('error', () => {});
  });
  return { url: await listen(server), stats };
}

async function listen(server: Server | ReturnType<typeof createHttpServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    if ('closeAllConnections' in server) server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('the example HTTP client', () => {
  it('reads Content-Length replies and reuses keep-alive sockets for requests in turn', async () => {
    const { url, stats } = await httpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`you asked for ${req.url}: ünïcödé`);
    });
    for (let i = 0; i < 20; i++) {
      expect(await httpRequest(`${url}/page/${i}?q=${i}`)).toEqual({
        status: 200,
        body: `you asked for /page/${i}?q=${i}: ünïcödé`,
        contentType: 'text/plain; charset=utf-8',
      });
    }
    // Kept alive: a socket goes back to the pool a moment after its reply, so the next request may open one more.
    expect(stats.connections).toBeLessThanOrEqual(2);
    const many = await Promise.all(
      Array.from({ length: 30 }, (_, i) => httpRequest(new URL(`/x/${i}`, url))),
    );
    expect(many.map((r) => r.body)).toEqual(
      Array.from({ length: 30 }, (_, i) => `you asked for /x/${i}: ünïcödé`),
    );
  });

  it('reads chunked replies, a character split between two chunks included, then 204 and HEAD without a body', async () => {
    const { url, stats } = await httpServer((req, res) => {
      if (req.url === '/empty') {
        res.writeHead(204);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      const bytes = Buffer.from('chunk one, é, chunk two');
      const split = bytes.indexOf(0xc3) + 1; // between the two bytes of 'é'
      res.write(bytes.subarray(0, split));
      setTimeout(() => res.end(bytes.subarray(split)), 20);
    });
    expect(await httpRequest(`${url}/chunks`)).toMatchObject({
      status: 200,
      body: 'chunk one, é, chunk two',
    });
    expect(await httpRequest(`${url}/empty`)).toEqual({ status: 204, body: '', contentType: '' });
    expect(await httpRequest(`${url}/chunks`, { method: 'HEAD' })).toEqual({
      status: 200,
      body: '',
      contentType: 'text/plain',
    });
    expect(await httpRequest(`${url}/chunks`)).toMatchObject({ body: 'chunk one, é, chunk two' });
    expect(stats.connections, 'every reply framed: the sockets served them all').toBeLessThanOrEqual(2);
  });

  it('POSTs JSON and reads the reply', async () => {
    const { url } = await httpServer((req, res, body) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ type: req.headers['content-type'], length: req.headers['content-length'], body }),
      );
    });
    const reply = await httpRequest(`${url}/mail`, { json: { to: 'ada@example.com', subject: 'Héllo' } });
    expect(reply.status).toBe(201);
    const payload = JSON.stringify({ to: 'ada@example.com', subject: 'Héllo' });
    expect(JSON.parse(reply.body)).toEqual({
      type: 'application/json',
      length: String(Buffer.byteLength(payload)),
      body: payload,
    });
  });

  it('reads a body that ends with the connection, skips a 1xx, and opens a new socket after Connection: close', async () => {
    const { url, stats } = await rawServer((socket, n) => {
      if (n === 0) socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end');
      else if (n === 1) {
        socket.write('HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n');
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
      } else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast');
    });
    expect(await httpRequest(`${url}/a`)).toEqual({
      status: 200,
      body: 'until the end',
      contentType: 'text/plain',
    });
    expect(await httpRequest(`${url}/b`)).toMatchObject({ status: 200, body: 'ok' });
    expect(await httpRequest(`${url}/c`)).toMatchObject({ body: 'last' });
    expect(stats.connections).toBe(3);
  });

  it('does not reuse a kept-alive socket that the server closed while it was idle', async () => {
    const { url, stats } = await rawServer((socket) => {
      // Answers, then closes the idle socket soon after (a server's keep-alive timeout).
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      setTimeout(() => socket.end(), 20);
    });
    for (let i = 0; i < 3; i++) {
      expect((await httpRequest(`${url}/${i}`)).body).toBe('ok');
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    expect(stats.connections).toBe(3);
  });

  it('rejects with the signal reason on abort, and a refused connection with its error', async () => {
    const { url } = await rawServer(() => {}); // never answers
    const controller = new AbortController();
    const pending = httpRequest(`${url}/slow`, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('time limit of 50 ms exceeded')), 50);
    await expect(pending).rejects.toThrow('time limit of 50 ms exceeded');
    await expect(httpRequest(`${url}/x`, { signal: controller.signal })).rejects.toThrow('time limit');
    const { url: closed } = await rawServer(() => {});
    closers.pop()!();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(httpRequest(`${closed}/x`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('sends URLs as a URL parser writes them, as node:http did', async () => {
    const { url } = await httpServer((req, res) => res.end(req.url));
    expect((await httpRequest(`${url}/a b`)).body).toBe('/a%20b');
    expect((await httpRequest(`${url}/a/../b`)).body).toBe('/b');
    expect((await httpRequest(`${url}/ünï`)).body).toBe('/%C3%BCn%C3%AF');
    expect((await httpRequest(`${url}?q=1#frag`)).body).toBe('/?q=1');
  });

  it("goes through a caller's own node:http agent when given one", async () => {
    const { url, stats } = await httpServer((_req, res) => res.end('via node:http'));
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: false });
    let created = 0;
    const createConnection = agent.createConnection.bind(agent);
    agent.createConnection = ((...args: Parameters<typeof createConnection>) => {
      created++;
      return createConnection(...args);
    }) as typeof agent.createConnection;
    expect((await httpRequest(`${url}/x`, { agent })).body).toBe('via node:http');
    expect(created).toBe(1);
    expect(stats.connections).toBe(1);
  });
});
