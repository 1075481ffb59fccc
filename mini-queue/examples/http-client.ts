import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';

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

/** Idle sockets kept per origin; more are closed. */
const MAX_FREE = 1024;
/** A reply's status line and headers may take this many bytes. */
const MAX_HEAD = 64 * 1024;
/** Origins remembered (a scraper that visits many hosts must not grow the map for ever). */
const MAX_ORIGINS = 256;
/** A path as a URL leaves it: anything else (spaces, dot segments, non-ASCII) goes through node:http. */
const PLAIN_PATH = /^\/[A-Za-z0-9\-_~!$&'()*+,;=:@/?%.]*$/;
const HEAD_END = Buffer.from('\r\n\r\n');
const LINE_END = Buffer.from('\r\n');

/** A host and port, its free sockets, and the bytes every request to it starts with. */
interface Origin {
  host: string;
  port: number;
  /** `Host: ...\r\nConnection: keep-alive\r\n`, what follows the request line. */
  headers: string;
  free: Connection[];
}

interface Call {
  origin: Origin;
  path: string;
  method: string;
  payload: string | undefined;
  signal: AbortSignal | undefined;
  resolve: (reply: Reply) => void;
  reject: (error: unknown) => void;
}

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

enum Body {
  /** Reading the status line and headers. */
  Head,
  /** Content-Length bytes. */
  Length,
  /** Until the server closes the socket. */
  Close,
  ChunkSize,
  ChunkData,
  /** The CRLF after a chunk's data. */
  ChunkEnd,
  /** After the last chunk: trailer headers, then an empty line. */
  Trailer,
}

/** One keep-alive socket and the exchange on it, if any: one request at a time, never pipelined. */
class Connection {
  private readonly socket: Socket;
  private call: Call | undefined;
  /** The call came on a socket that had served before: a close before any reply may be the keep-alive race. */
  private reused = false;
  private received = false;
  private state = Body.Head;
  /** Bytes not parsed yet (a head or a chunk size split between reads). */
  private pending: Buffer | undefined;
  private status = 0;
  private contentType = '';
  private keepAlive = true;
  /** Content-Length bytes still to come, or the bytes left of the current chunk. */
  private left = 0;
  /** The body so far, as the socket's own buffers (decoded once, at the end: a character may span two). */
  private readonly parts: Buffer[] = [];
  private size = 0;
  private readonly onAbort = () => {
    const call = this.call;
    if (call) this.fail(call.signal?.reason);
  };

  constructor(private readonly origin: Origin) {
    this.socket = connect({ host: origin.host, port: origin.port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.socket.on('error', (error) => this.lost(error));
    this.socket.on('end', () => this.lost(undefined));
    this.socket.on('close', () => this.lost(undefined));
  }

  /** Sends `call` on this socket: the request line, headers and body in one write. */
  send(call: Call, reused: boolean): void {
    this.call = call;
    this.reused = reused;
    this.received = false;
    this.state = Body.Head;
    this.status = 0;
    this.contentType = '';
    this.keepAlive = true;
    this.size = 0;
    this.parts.length = 0;
    call.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (reused) this.socket.ref();
    const head = `${call.method} ${call.path} HTTP/1.1\r\n${this.origin.headers}`;
    if (call.payload === undefined) this.socket.write(`${head}\r\n`, 'latin1');
    else {
      const body = Buffer.from(call.payload);
      const headers = `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
      this.socket.write(Buffer.concat([Buffer.from(head + headers, 'latin1'), body]));
    }
  }

  private read(chunk: Buffer): void {
    if (!this.call) {
      // Bytes nobody asked for: this socket cannot be trusted to frame the next reply.
      this.close();
      return;
    }
    this.received = true;
    let data = chunk;
    if (this.pending) {
      data = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    // Each step consumes the front of `data`; false: the rest must wait for more bytes, or the call is settled.
    while (this.call && this.step(data)) data = this.rest;
  }

  /** What a step left of the bytes it was given. */
  private rest: Buffer = Buffer.alloc(0);

  private step(data: Buffer): boolean {
    switch (this.state) {
      case Body.Head: {
        const end = data.indexOf(HEAD_END);
        if (end < 0) return this.wait(data, 'its headers');
        const error = this.parseHead(data.toString('latin1', 0, end));
        if (error) return this.fail(error);
        // After a 1xx reply the state is still Head: the real reply follows.
        this.rest = data.subarray(end + 4);
        return true;
      }
      case Body.Length: {
        const take = Math.min(this.left, data.length);
        this.take(data, take);
        this.left -= take;
        if (this.left === 0) this.done(data.length > take);
        return false;
      }
      case Body.Close:
        this.take(data, data.length);
        return false;
      case Body.ChunkSize: {
        const eol = data.indexOf(LINE_END);
        if (eol < 0) return this.wait(data, 'a chunk size line');
        const size = Number.parseInt(data.toString('latin1', 0, eol), 16);
        if (!Number.isFinite(size) || size < 0) return this.fail(new Error('a bad chunk size in the reply'));
        this.left = size;
        this.state = size === 0 ? Body.Trailer : Body.ChunkData;
        this.rest = data.subarray(eol + 2);
        return true;
      }
      case Body.ChunkData: {
        const take = Math.min(this.left, data.length);
        this.take(data, take);
        this.left -= take;
        if (this.left > 0) return false;
        this.state = Body.ChunkEnd;
        this.rest = data.subarray(take);
        return true;
      }
      case Body.ChunkEnd:
        if (data.length < 2) return this.wait(data, 'a chunk end');
        if (data[0] !== 13 || data[1] !== 10)
          return this.fail(new Error('a chunk without its CRLF in the reply'));
        this.state = Body.ChunkSize;
        this.rest = data.subarray(2);
        return true;
      case Body.Trailer: {
        if (data.length >= 2 && data[0] === 13 && data[1] === 10) {
          this.done(data.length > 2);
          return false;
        }
        const end = data.indexOf(HEAD_END);
        if (end < 0) return this.wait(data, 'its trailers');
        this.done(data.length > end + 4);
        return false;
      }
    }
  }

  /** Reads the status line and headers; sets how the body is framed. Returns an error for a reply it cannot read. */
  private parseHead(head: string): Error | undefined {
    const lines = head.split('\r\n');
    const match = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
    if (!match) return new Error(`not an HTTP/1.x reply: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
    const status = Number(match[2]);
    // 1xx (100 Continue, 103 Early Hints): informational, another head follows.
    if (status < 200) return undefined;
    this.status = status;
    this.keepAlive = match[1] === '1';
    let length = -1;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
        if (Number.isNaN(n) || (length >= 0 && n !== length))
          return new Error('a bad Content-Length in the reply');
        length = n;
      } else if (name === 'transfer-encoding') chunked = /(^|,)\s*chunked\s*$/i.test(value);
      else if (name === 'connection') {
        const tokens = value.toLowerCase();
        if (tokens.includes('close')) this.keepAlive = false;
        else if (tokens.includes('keep-alive')) this.keepAlive = true;
      } else if (name === 'content-type' && this.contentType === '') this.contentType = value;
    }
    // No body: as a Content-Length of 0 (HEAD, 204 and 304 replies say how long a body would be, and send none).
    if (this.call?.method === 'HEAD' || status === 204 || status === 304) length = 0;
    else if (chunked) {
      this.state = Body.ChunkSize;
      return undefined;
    }
    if (length >= 0) {
      this.left = length;
      this.state = Body.Length;
    } else {
      this.state = Body.Close;
      this.keepAlive = false;
    }
    return undefined;
  }

  private take(data: Buffer, n: number): void {
    if (n === 0) return;
    this.parts.push(n === data.length ? data : data.subarray(0, n));
    this.size += n;
  }

  /** Keeps what cannot be read yet for the next bytes; fails a reply that would make it grow without end. */
  private wait(data: Buffer, what: string): false {
    if (data.length > MAX_HEAD)
      return this.fail(new Error(`the reply is too large to read: ${what} over ${MAX_HEAD} bytes`));
    this.pending = data;
    return false;
  }

  /** The reply is complete: the socket goes back to the free list (unless it cannot), then the caller hears. */
  private done(extra: boolean): void {
    const call = this.call!;
    this.call = undefined;
    this.pending = undefined;
    call.signal?.removeEventListener('abort', this.onAbort);
    const body =
      this.size === 0
        ? ''
        : this.parts.length === 1
          ? this.parts[0]!.toString()
          : Buffer.concat(this.parts, this.size).toString();
    this.parts.length = 0;
    // More bytes than the reply said: the server does not frame as we read, so this socket serves no more.
    if (this.keepAlive && !extra && this.origin.free.length < MAX_FREE && !this.socket.destroyed) {
      this.socket.unref();
      this.origin.free.push(this);
    } else this.close();
    call.resolve({ status: this.status, body, contentType: this.contentType });
  }

  private fail(error: unknown): false {
    const call = this.call;
    this.call = undefined;
    this.close();
    if (call) {
      call.signal?.removeEventListener('abort', this.onAbort);
      call.reject(error);
    }
    return false;
  }

  /** The socket ended, failed or closed: the reply ends here (if it runs to the close) or never comes. */
  private lost(error: Error | undefined): void {
    const call = this.call;
    if (!call) {
      this.close();
      return;
    }
    if (this.state === Body.Close && error === undefined) {
      this.done(false);
      return;
    }
    // The keep-alive race: the server closed this idle socket as we sent. A request that cannot have had an
    // effect (no reply byte, a method that changes nothing) goes again, on a new socket.
    if (this.reused && !this.received && (call.method === 'GET' || call.method === 'HEAD')) {
      this.call = undefined;
      this.close();
      call.signal?.removeEventListener('abort', this.onAbort);
      new Connection(call.origin).send(call, false);
      return;
    }
    this.fail(error ?? Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
  }

  private close(): void {
    const free = this.origin.free;
    const at = free.lastIndexOf(this);
    if (at >= 0) free.splice(at, 1);
    if (!this.socket.destroyed) this.socket.destroy();
  }
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
