import { describe, expect, it } from 'vitest';
import {
  createEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  MAX_ENVELOPE_BYTES,
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
  ])('rejects %s with a reason', (raw, reason) => {
    const decoded = decodeEnvelope(raw);
    expect(decoded.ok).toBe(false);
    expect(decoded.ok ? '' : decoded.reason).toContain(reason);
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
