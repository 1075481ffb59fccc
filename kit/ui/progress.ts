import { colour, columns } from './style.ts';

/**
 * A progress bar: redrawn in place on a terminal; on a pipe or in CI, one plain line per quarter, so logs stay
 * readable.
 */
export class ProgressBar {
  private done = 0;
  private lastQuarter = -1;
  private readonly started = Date.now();

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stdout,
  ) {}

  tick(count = 1): void {
    this.done = Math.min(this.total, this.done + count);
    this.draw();
  }

  private draw(): void {
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
    if (colour && this.stream.isTTY) {
      const width = Math.max(10, Math.min(40, columns() - this.label.length - 30));
      const filled = Math.round((this.done / this.total) * width);
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      this.stream.write(`\r${this.label} ${bar} ${this.done}/${this.total} ${seconds}s`);
      if (this.done === this.total) this.stream.write('\n');
      return;
    }
    const quarter = Math.floor((this.done / this.total) * 4);
    if (quarter > this.lastQuarter) {
      this.lastQuarter = quarter;
      this.stream.write(`${this.label} ${this.done}/${this.total} (${seconds}s)\n`);
    }
  }
}
