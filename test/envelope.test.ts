import { describe, expect, it } from 'vitest';
import {
  createEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  MAX_ENVELOPE_BYTES,
  MAX_TIMEOUT_MS,
} from '../mini-queue/envelope.ts';
import { UserError } from '../mini-queue/errors.ts';

describe('envelope', () => {
  it('round-trips a task with its options', () => {
    const envelope = createEnvelope('fib', [30], { maxRetries: 3, timeout: 1000, countdown: 500 });
    const decoded = decodeEnvelope(encodeEnvelope(envelope));
    expect(decoded).toEqual({ ok: true, envelope });
    expect(envelope.attempt).toBe(0);
    expect(envelope.eta! - envelope.enqueuedAt).toBe(500);
    expect(envelope.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("round-trips a chord member's and a chain link's canvas fields", () => {
    const envelope = createEnvelope('fib', [30]);
    envelope.chord = { id: 'c', index: 3 };
    envelope.chain = [{ id: 'n', task: 'sum', args: [1], maxRetries: 2 }];
    expect(decodeEnvelope(encodeEnvelope(envelope))).toEqual({ ok: true, envelope });
  });

  it.each([
    ['not json', 'not valid JSON'],
    ['[1,2]', 'expected a JSON object'],
    ['{"task":"fib","args":[],"attempt":0,"enqueuedAt":1}', '`id`'],
    ['{"id":"a","args":[],"attempt":0,"enqueuedAt":1}', '`task`'],
    ['{"id":"a","task":"fib","args":"30","attempt":0,"enqueuedAt":1}', '`args`'],
    ['{"id":"a","task":"fib","args":[],"attempt":-1,"enqueuedAt":1}', '`attempt`'],
    ['{"id":"a","task":"fib","args":[],"attempt":0}', '`enqueuedAt`'],
    ['{"id":"a","task":"fib","args":[],"attempt":0,"enqueuedAt":1,"timeout":0}', '`timeout`'],
    ['{"id":"a","task":"fib","args":[],"attempt":0,"enqueuedAt":1,"maxRetries":1.5}', '`maxRetries`'],
    // Past Node's longest timer, setTimeout fires after 1 ms: a foreign producer's message is buried, not run.
    [
      '{"id":"a","task":"fib","args":[],"attempt":0,"enqueuedAt":1,"timeout":3000000000}',
      '`timeout` must be at most 2147483647 ms',
    ],
    ['{"id":"a","task":"fib","args":[],"attempt":0,"enqueuedAt":1,"timeout":1.5}', 'an integer number of ms'],
    ['{"id":"a","task":"fib","args":[],"attempt":0,"enqueuedAt":1,"timeout":"1000"}', '`timeout`'],
    [
      `{"id":"a","task":"fib","args":["${'x'.repeat(MAX_ENVELOPE_BYTES)}"],"attempt":0,"enqueuedAt":1}`,
      `over the ${MAX_ENVELOPE_BYTES}-byte limit`,
    ],
    [
      '{"id":"a","task":"fib","args":[],"attempt":0,"enqueuedAt":1,"chord":{"id":"c","index":-1}}',
      '`chord` must be',
    ],
    ['{"id":"a","task":"fib","args":[],"attempt":0,"enqueuedAt":1,"chord":"c"}', '`chord` must be'],
    [
      '{"id":"a","task":"fib","args":[],"attempt":0,"enqueuedAt":1,"chain":[]}',
      '`chain` must be an array of 1',
    ],
    [
      '{"id":"a","task":"fib","args":[],"attempt":0,"enqueuedAt":1,"chain":[{"id":"b","task":"fib","args":5}]}',
      '`chain[0]`: `args` must be an array',
    ],
    [
      '{"id":"a","task":"fib","args":[],"attempt":0,"enqueuedAt":1,"chain":[{"task":"fib","args":[]}]}',
      '`chain[0]`: `id` must be',
    ],
    [
      '{"id":"a","task":"fib","args":[],"attempt":0,"enqueuedAt":1,"chain":[{"id":"b","task":"fib","args":[],"timeout":0}]}',
      '`chain[0]`: `timeout` must be an integer',
    ],
  ])('rejects %s with a reason', (raw, reason) => {
    const decoded = decodeEnvelope(raw);
    expect(decoded.ok).toBe(false);
    expect(decoded.ok ? '' : decoded.reason).toContain(reason);
  });

  it.each([
    [3_000_000_000, 'at most 2147483647 ms'],
    [0, 'an integer number of ms >= 1, got 0'],
    [-5, 'got -5'],
    [1.5, 'got 1.5'],
    [Number.NaN, 'got NaN'],
    [Number.POSITIVE_INFINITY, 'got Infinity'],
  ])('refuses a task timeout of %s ms where it enters, the producer', (timeout, message) => {
    expect(() => createEnvelope('fib', [1], { timeout })).toThrow(UserError);
    expect(() => createEnvelope('fib', [1], { timeout })).toThrow(message);
  });

  it('takes the longest timeout Node can arm', () => {
    expect(createEnvelope('fib', [1], { timeout: MAX_TIMEOUT_MS }).timeout).toBe(2 ** 31 - 1);
  });

  it('refuses arguments that are not an array, and says what to write', () => {
    expect(() => createEnvelope('fib', 30 as unknown as unknown[])).toThrow(/JSON array like \[30\]/);
  });

  it('refuses an oversized payload at enqueue, with what to do instead', () => {
    const envelope = createEnvelope('thumbnail', ['x'.repeat(MAX_ENVELOPE_BYTES)]);
    expect(() => encodeEnvelope(envelope)).toThrow(UserError);
    expect(() => encodeEnvelope(envelope)).toThrow(/over the .*-byte limit.*reference/);
  });

  it('refuses arguments that cannot be JSON', () => {
    expect(() => encodeEnvelope(createEnvelope('fib', [10n]))).toThrow(/not JSON/);
  });
});
