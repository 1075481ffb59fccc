/**
 * A small HTTP/1.1 client for the example I/O tasks: keep-alive sockets per thread, reused newest first.
 *
 * Why not node:http: an I/O-bound pool runs as many requests a second as one core can make, so the client's CPU
 * per request is the ceiling of every I/O figure in the kit. `fetch` (undici) cost ~300 µs a request here;
 * node:http with a keep-alive agent ~85-150 µs (a ClientRequest, an IncomingMessage and their streams, a parser
 * from a pool, an agent's bookkeeping, a URL parse, per request); this client, which writes the request as one
 * string and reads the reply straight from the socket's buffers, about half that. Plain `http:` URLs go this way;
 * anything else (https, credentials in the URL, characters a URL would rewrite, a caller's own Agent) goes
 * through node:http, as before.
 *
 * What it reads: a status line and headers, then a body delimited by Content-Length, by chunked transfer
 * encoding, or by the server closing the socket; 1xx replies are skipped, HEAD, 204 and 304 have none. A socket
 * goes back to the free list after a reply unless either side said `Connection: close`. A GET or HEAD sent on a
 * reused socket that the server closed before answering (it timed out while idle, the classic keep-alive race)
 * is sent once more on a new one.
 */
import { Agent, request } from 'node:http';
import { type Call, Connection, MAX_FREE, type Origin, type Reply } from './http-connection.ts';

export type { Reply } from './http-connection.ts';

export interface RequestOptions {
  method?: string;
  json?: unknown;
  signal?: AbortSignal;
  /** A caller's own node:http agent (one that bounds or closes its sockets): the request goes through node:http. */
  agent?: Agent;
}

export function httpRequest(url: string | URL, options: RequestOptions = {}): Promise<Reply> {
  const payload = options.json === undefined ? undefined : JSON.stringify(options.json);
  const method = options.method ?? (payload === undefined ? 'GET' : 'POST');
  const target = options.agent ? undefined : plainTarget(url);
  if (!target) return nodeRequest(url, method, payload, options);
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const connection = target.origin.free.pop();
    const call: Call = { origin: target.origin, path: target.path, method, payload, signal, resolve, reject };
    if (connection) connection.send(call, true);
    else new Connection(target.origin).send(call, false);
  });
}

/** Origins remembered (a scraper that visits many hosts must not grow the map for ever). */
const MAX_ORIGINS = 256;
/** A path as a URL leaves it: anything else (spaces, dot segments, non-ASCII) goes through node:http. */
const PLAIN_PATH = /^\/[A-Za-z0-9\-_~!$&'()*+,;=:@/?%.]*$/;

const origins = new Map<string, Origin>();

/** Where a plain `http:` URL goes, or undefined for what node:http should handle. */
function plainTarget(url: string | URL): { origin: Origin; path: string } | undefined {
  let authority: string;
  let path: string;
  if (typeof url === 'string') {
    if (!url.startsWith('http://')) return undefined;
    let end = 7;
    while (end < url.length) {
      const c = url.charCodeAt(end);
      if (c === 47 || c === 63 || c === 35) break; // '/', '?', '#'
      end++;
    }
    authority = url.slice(7, end);
    const hash = url.indexOf('#', end);
    path = hash < 0 ? url.slice(end) : url.slice(end, hash);
    if (path === '') path = '/';
    else if (path.charCodeAt(0) === 63) path = `/${path}`;
    if (path.includes('/.')) return undefined;
  } else {
    if (url.protocol !== 'http:' || url.username !== '' || url.password !== '') return undefined;
    authority = url.host;
    path = `${url.pathname}${url.search}`;
  }
  if (!PLAIN_PATH.test(path)) return undefined;
  let origin = origins.get(authority);
  if (!origin) {
    origin = originOf(authority);
    if (!origin) return undefined;
    if (origins.size >= MAX_ORIGINS) origins.clear();
    origins.set(authority, origin);
  }
  return { origin, path };
}

function originOf(authority: string): Origin | undefined {
  if (authority === '' || authority.includes('@')) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(`http://${authority}/`);
  } catch {
    return undefined;
  }
  // The Host header as node:http writes it: the port only when it is not 80, an IPv6 address in brackets.
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  return {
    host,
    port: parsed.port === '' ? 80 : Number(parsed.port),
    headers: `Host: ${parsed.host}\r\nConnection: keep-alive\r\n`,
    free: [],
  };
}

/** The same request through node:http, for what the client above does not take. */
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, maxFreeSockets: MAX_FREE });

function nodeRequest(
  url: string | URL,
  method: string,
  payload: string | undefined,
  options: RequestOptions,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        agent: options.agent ?? agent,
        method,
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
