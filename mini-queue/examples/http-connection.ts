import { connect, type Socket } from 'node:net';

/**
 * One keep-alive socket of the example HTTP client (http-client.ts) and the exchange on it: the request written
 * as one string, the reply read straight from the socket's buffers, framed as HTTP/1.1 says.
 *
 *   send(call) ─▶ Head ─headers─▶ Length ──────────────────────────────▶ done: back to origin.free
 *                    │ (1xx: Head again)  Close ─── the socket ends ───▶ done: closed
 *                    └─ chunked ─▶ ChunkSize ─▶ ChunkData ─▶ ChunkEnd ─┐ (size 0) ─▶ Trailer ─▶ done
 *                                      ▲───────────────────────────────┘
 */

export interface Reply {
  status: number;
  body: string;
  /** The content-type header, '' when there is none. */
  contentType: string;
}

/** Idle sockets kept per origin; more are closed. */
export const MAX_FREE = 1024;
/** A reply's status line and headers may take this many bytes. */
const MAX_HEAD = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
const LINE_END = Buffer.from('\r\n');

/** A host and port, its free sockets, and the bytes every request to it starts with. */
export interface Origin {
  host: string;
  port: number;
  /** `Host: ...\r\nConnection: keep-alive\r\n`, what follows the request line. */
  headers: string;
  free: Connection[];
}

/** One request: where it goes, what it sends, who waits for its reply. */
export interface Call {
  origin: Origin;
  path: string;
  method: string;
  payload: string | undefined;
  signal: AbortSignal | undefined;
  resolve: (reply: Reply) => void;
  reject: (error: unknown) => void;
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
export class Connection {
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
