import type { Broker } from './broker.ts';

/**
 * Messages whose bytes are not UTF-8. Redis stores bytes; ioredis hands them to us as strings, decoding what is
 * not UTF-8 to U+FFFD. Such a string is a different message as far as Redis is concerned: an LREM or ZADD XX
 * sent with it matches nothing, so the message could never be acked, buried or renewed, and came back forever.
 * Any producer that is not Node can send such bytes.
 *
 * Why the worker looks the bytes up when it needs them, rather than reading bytes everywhere:
 * - lab 00's Broker contract is strings (the lesson is the queue, not Buffers), and with the fast path off its
 *   reserve() hands out strings and writes their leases with them: *Buffer commands on the chassis's own paths
 *   (reserveReady, renewal) would still leave that path, and every ack a learner writes, matching nothing;
 * - every message mini-queue produces is JSON text, valid UTF-8, and such a message is never run: it is buried.
 *   So nothing needs to flow as bytes; one message needs to be found as bytes, once.
 * The only mark such bytes leave is U+FFFD in the string, so the chassis steps in only then (a rare character in
 * real messages; a message that holds it as a character is found intact and runs as usual). It reads the
 * in-flight list as bytes, takes the entry that is not UTF-8 and decodes to exactly the string it was handed
 * (Node's own decoder does that matching, so it is exact by construction; a Lua check in Redis would have to
 * mirror Node's replacement rules to know which entry is ours), and buries it by its exact bytes, leases
 * included, before anything runs (lua/bury-bytes-3.lua: only if still held, so once). A worker that dies holding
 * such a message leaves it to lab 00's recover(), which gives it back to waiting like any other; the next worker
 * buries it, once. Nothing stays in flight to be given back again.
 */
export interface UndecodableBroker {
  /**
   * Looks up the held message that was read as `seen` (a string holding U+FFFD) by its bytes: buries it when they
   * are not UTF-8. `intact` when its bytes are valid UTF-8 (a U+FFFD character, handle it as usual), `gone` when
   * no such message is held any more (another worker or recover() has it now).
   */
  buryUndecodable(seen: string): Promise<{ buried: string } | 'intact' | 'gone'>;
}

function isUndecodableBroker(broker: Broker): broker is Broker & UndecodableBroker {
  return typeof (broker as Partial<UndecodableBroker>).buryUndecodable === 'function';
}

/**
 * The worker's check of a message read with U+FFFD in it: true when it should be handled as usual, false when it
 * was buried here (`onBuried` gets the reason) or is not held any more.
 */
export async function readable(
  broker: Broker,
  seen: string,
  onBuried: (reason: string) => void,
): Promise<boolean> {
  if (!isUndecodableBroker(broker)) return true;
  const verdict = await broker.buryUndecodable(seen);
  if (verdict === 'intact') return true;
  if (verdict !== 'gone') onBuried(verdict.buried);
  return false;
}

/** Where the first byte that starts no well-formed UTF-8 sequence is (Unicode table 3-7), or -1 for UTF-8. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    // The length of the sequence this lead byte starts, and the range its second byte must fall in (which rules
    // out overlong forms, surrogates and code points past U+10FFFF); later bytes are always 80..BF.
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) low = 0xa0;
      if (b === 0xed) high = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) low = 0x90;
      if (b === 0xf4) high = 0x8f;
    } else return i;
    if (i + length > bytes.length) return i;
    const second = bytes[i + 1]!;
    if (second < low || second > high) return i;
    for (let k = 2; k < length; k++) {
      const next = bytes[i + k]!;
      if (next < 0x80 || next > 0xbf) return i;
    }
    i += length;
  }
  return -1;
}
