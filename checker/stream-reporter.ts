/**
 * A vitest reporter that writes one JSON line per event to the file in MQ_CHECK_STREAM, as it happens: the checks
 * collected, each check starting, each check's result. The grader tails that file, so a check shows ✓ or ✗ the
 * moment it finishes, and a run cut short (a hang past the spec's limit) still says which check was running and
 * how every earlier one went. The line format is StreamEvent (checker/stream-events.ts).
 */
import { appendFileSync } from 'node:fs';
import type { Reporter, SerializedError, TestCase, TestModule } from 'vitest/node';
import type { RawError, StreamEvent } from './stream-events.ts';

function write(event: StreamEvent): void {
  // Read at each line: a runner of several specs (checker/spec-runner.ts) gives each spec's run a file of its own.
  const file = process.env.MQ_CHECK_STREAM;
  if (file) appendFileSync(file, `${JSON.stringify(event)}\n`);
}

/** What the grader needs of an error: vitest's serialised copy keeps a NotImplemented's `todo` and `hint`. */
function raw(error: SerializedError): RawError {
  const { name, message, stack } = error;
  const todo = typeof error.todo === 'string' ? error.todo : undefined;
  const hint = typeof error.hint === 'string' ? error.hint : undefined;
  return {
    name: name ?? 'Error',
    message: message ?? '',
    ...(stack ? { stack } : {}),
    ...(todo ? { todo } : {}),
    ...(hint ? { hint } : {}),
  };
}

export default class StreamReporter implements Reporter {
  private readonly reported = new Set<string>();

  onTestRunStart(): void {
    // A runner runs the same spec again for the next track: its checks have the same ids.
    this.reported.clear();
  }

  onTestModuleCollected(module: TestModule): void {
    const tests = [...module.children.allTests()].map((t) => ({
      title: t.name,
      skip: t.options.mode !== 'run',
    }));
    write({ type: 'collected', tests });
  }

  onTestCaseReady(test: TestCase): void {
    write({ type: 'start', title: test.name });
  }

  onTestCaseResult(test: TestCase): void {
    this.reported.add(test.id);
    const result = test.result();
    write({
      type: 'end',
      title: test.name,
      state: result.state === 'passed' ? 'passed' : result.state === 'failed' ? 'failed' : 'skipped',
      errors: (result.errors ?? []).map(raw),
      // Less the time it waited for the lab beside it (checker/schedule.ts): that was not its own.
      seconds: Math.max(0, (test.diagnostic()?.duration ?? 0) - (test.meta().heldMs ?? 0)) / 1000,
    });
  }

  onTestModuleEnd(module: TestModule): void {
    // Checks left out by -t get no result event: report them skipped, in order, so every check is accounted for.
    for (const test of module.children.allTests()) {
      if (this.reported.has(test.id)) continue;
      this.reported.add(test.id);
      write({ type: 'end', title: test.name, state: 'skipped', errors: [], seconds: 0 });
    }
    const errors = module.errors();
    if (errors.length > 0) write({ type: 'module-error', errors: errors.map(raw) });
  }

  onTestRunEnd(_modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>): void {
    write({ type: 'run-end', errors: unhandled.map(raw) });
  }
}
