/** The lines checker/stream-reporter.ts writes and checker/run-spec.ts reads: one JSON object each. */

/** An error as vitest serialised it, cut to what a verdict uses. */
export interface RawError {
  name: string;
  message: string;
  stack?: string;
  /** Set on a NotImplemented thrown by a lab's stub. */
  todo?: string;
  hint?: string;
}

export type StreamEvent =
  /** The spec's checks, in order; `skip` for those left out by -t. */
  | { type: 'collected'; tests: Array<{ title: string; skip: boolean }> }
  | { type: 'start'; title: string }
  | {
      type: 'end';
      title: string;
      state: 'passed' | 'failed' | 'skipped';
      errors: RawError[];
      seconds: number;
    }
  /** The spec file itself failed (an import threw, a hook outside any check failed). */
  | { type: 'module-error'; errors: RawError[] }
  | { type: 'run-end'; errors: RawError[] };
