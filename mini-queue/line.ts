/**
 * A waiting line: first in, first out, and a way back to the front. A plain array's shift() copies what is left
 * once it is long (a batch of 100,000 calls handed to a pool at once: V8 moves the array down one slot per call,
 * a second of the main thread for 50,000), so this is a ring: both ends move, nothing is copied but on growth.
 *
 *   items: [ . . c3 c4 c5 . . . ]      push(c6) writes after c5; shift() takes c3; unshift(c2) writes before c3
 *                ▲ head   ▲ head + length (mod capacity)
 */
export class Line<T> {
  private items: Array<T | undefined> = new Array(16);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  /** To the back of the line. */
  push(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & (this.items.length - 1)] = item;
    this.count++;
  }

  /** To the front of the line: first to be taken. */
  unshift(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.head = (this.head - 1) & (this.items.length - 1);
    this.items[this.head] = item;
    this.count++;
  }

  /** The first in line, taken out; undefined when the line is empty. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    // Let go of it, or the ring would keep a settled call (and what it resolved with) alive until overwritten.
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count--;
    return item;
  }

  /** Everything in line, first first, and the line emptied. */
  takeAll(): T[] {
    const all: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) all.push(item);
    return all;
  }

  /** Twice the room (a power of two, so an index wraps with a mask), the items moved down to start at 0. */
  private grow(): void {
    const items: Array<T | undefined> = new Array(this.items.length * 2);
    for (let i = 0; i < this.count; i++) items[i] = this.items[(this.head + i) & (this.items.length - 1)];
    this.items = items;
    this.head = 0;
  }
}
