/**
 * RESP for the few places that talk to Redis on a raw socket (MONITOR, the bench's Redis ceiling), where a client
 * library would get in the way: commands are encoded by hand, and the URL's credentials turned into an AUTH.
 */

/** One command as a RESP array of bulk strings, ready to write to the socket. */
export function encodeCommand(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** The AUTH a Redis URL asks for (ACL user or password only), or undefined when it carries no password. */
export function authCommand(url: URL): string[] | undefined {
  const password = decodeURIComponent(url.password);
  const username = decodeURIComponent(url.username);
  if (!password) return undefined;
  return username ? ['AUTH', username, password] : ['AUTH', password];
}
