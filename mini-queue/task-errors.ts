/** A task's FAILURE, raised by `handle.result()` in the producer. */
export class TaskFailedError extends Error {
  override name = 'TaskFailedError';
  constructor(
    readonly id: string,
    readonly task: string,
    readonly remote: { name: string; message: string },
  ) {
    super(`task ${task} (${id}) failed: ${remote.name}: ${remote.message}`);
  }
}
