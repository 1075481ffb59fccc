import { Agent, request } from 'node:http';

/**
 * A small HTTP client for the example I/O tasks, on node:http with one keep-alive agent per thread. `fetch`
 * (undici) costs ~300 µs of CPU a request here, which on one event loop caps I/O tasks near 3,000 a second
 * whatever the concurrency; a plain request on a reused socket costs a fraction of it, so Little's law, not the
 * client, is what an I/O-bound pool meets.
 */
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, maxFreeSockets: 1024 });

export interface Reply {
  status: number;
  body: string;
  /** The content-type header, '' when there is none. */
  contentType: string;
}

export interface RequestOptions {
  method?: string;
  json?: unknown;
  signal?: AbortSignal;
  /** The thread's keep-alive agent unless given: a client that bounds or closes its sockets brings its own. */
  agent?: Agent;
}

export function httpRequest(url: string | URL, options: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = options.json === undefined ? undefined : JSON.stringify(options.json);
    const req = request(
      url,
      {
        agent: options.agent ?? agent,
        method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
        ...(options.signal ? { signal: options.signal } : {}),
        headers:
          payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, contentType: res.headers['content-type'] ?? '' }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
