// Assertions detect programmer errors, never bad input (that gets an ApiError).
export class BugError extends Error {
  override readonly name = 'BugError';
}

export function assert(cond: unknown, message = 'assertion failed'): asserts cond {
  if (!cond) throw new BugError(message);
}

export function unreachable(x: never): never {
  throw new BugError(`unreachable: ${String(x)}`);
}
