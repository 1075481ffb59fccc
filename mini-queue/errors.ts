/**
 * Errors a person can act on. They print as one line (no stack trace): every command catches them at the top and
 * shows `message`; anything else is a bug and keeps its stack.
 */
export class UserError extends Error {
  override name = 'UserError';
}

/**
 * Thrown by a lab stub that is not written yet. Carries the TODO id (`00.1`) so whatever runs the stub can point at
 * the exact line and show the matching hint instead of a stack trace.
 */
export class NotImplemented extends UserError {
  override name = 'NotImplemented';
  constructor(
    readonly todo: string,
    readonly hint: string,
  ) {
    super(`TODO(${todo}) is not done yet: ${hint}`);
  }
}

const TODO_IN_TEXT = /TODO\((\d\d\.\d+)\)[:\s]*([^\n]*)/;

/** Finds a `TODO(NN.k)` marker in any error text, e.g. a Redis reply from a Lua stub or a message from a thread. */
export function todoIn(text: string): { todo: string; hint: string } | undefined {
  const match = TODO_IN_TEXT.exec(text);
  if (!match) return undefined;
  return { todo: match[1]!, hint: match[2]!.replace(/^is not done yet:\s*/, '').trim() };
}

/** The error as a person should see it: one line for a UserError, the stack for a bug. */
export function describeError(error: unknown): string {
  if (error instanceof UserError) return error.message;
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

/** Turns any thrown value (an Error, a string, undefined) into a readable one-line message. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (error === undefined) return 'rejected with undefined';
  if (typeof error === 'string') return error;
  try {
    return `threw a non-Error: ${JSON.stringify(error)}`;
  } catch {
    return `threw a non-Error: ${String(error)}`;
  }
}

/** The entry point of every command: runs `main`, prints a UserError as one line and exits non-zero. */
export async function runMain(main: () => Promise<number | undefined>): Promise<void> {
  try {
    const code = await main();
    process.exitCode = code ?? 0;
  } catch (error) {
    console.error(describeError(error));
    process.exitCode = error instanceof UserError ? 1 : 2;
  }
}
