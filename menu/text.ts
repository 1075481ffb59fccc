/** Small text helpers for an 80-column terminal. */
import { columns } from '../kit/ui/style.ts';

/** Where the CLI writes a line. Injected so tests can read what a person would see. */
export type Out = (line?: string) => void;

/** The width to wrap prose at: the terminal's, but never past 100 (long lines are hard to read). */
export function textWidth(): number {
  return Math.min(columns(), 100);
}

/**
 * Word-wraps `text` to `width`, with `first` in front of the first line and `indent` spaces before the others.
 * Code in backticks is never split, because a hint's code must stay copy-pasteable.
 */
export function wrap(text: string, first = '', indent = first.length, width = textWidth()): string {
  const words = text.match(/(?:`[^`]*`|[^\s`]|`)+/g) ?? [];
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of words) {
    if (!empty && visible(line).length + 1 + word.length > width) {
      lines.push(line);
      line = ' '.repeat(indent);
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines.join('\n');
}

/** Text without colour codes, to measure it. */
export function visible(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI colour codes is the point
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

/** `2026-11-24T10:42:03.123Z` as `10:42` today, or `24 Nov 10:42` another day: short enough for a menu line. */
export function when(iso: string, now = new Date()): string {
  const date = new Date(iso);
  const hm = `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
  if (date.toDateString() === now.toDateString()) return hm;
  return `${date.getDate()} ${date.toLocaleString('en', { month: 'short' })} ${hm}`;
}
