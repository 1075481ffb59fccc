import { describe, expect, it } from 'vitest';
import { Line } from '../mini-queue/line.ts';

describe('Line (a lane pool waiting line)', () => {
  it('keeps first in, first out across growth and wrap-around, with unshift at the front', () => {
    const line = new Line<number>();
    const model: number[] = [];
    // Mixed pushes, shifts and unshifts move the head around the ring and make it grow while wrapped.
    for (let i = 0; i < 1000; i++) {
      if (i % 7 === 3) {
        line.unshift(-i);
        model.unshift(-i);
      } else if (i % 3 === 0) {
        expect(line.shift()).toBe(model.shift());
      } else {
        line.push(i);
        model.push(i);
      }
      expect(line.length).toBe(model.length);
    }
    expect(line.takeAll()).toEqual(model);
    expect(line.length).toBe(0);
    expect(line.shift()).toBeUndefined();
  });

  it('gives back a batch of 100,000 in the order it came, then nothing', () => {
    const line = new Line<{ n: number }>();
    for (let n = 0; n < 100_000; n++) line.push({ n });
    let expected = 0;
    for (let item = line.shift(); item; item = line.shift()) {
      if (item.n !== expected) expect(item.n).toBe(expected);
      expected++;
    }
    expect(expected).toBe(100_000);
  });
});
