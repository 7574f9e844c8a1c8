/** Prefixing an error with where it happened without losing its FT_ code. */
import { errorCode, FairtuneError, type ErrorCode, type ErrorSubject } from '@fairtune/core/plugin';

/**
 * `message` (which names `cause` and where it happened) as an error with `cause`'s code and
 * subject when it has one, else with `fallback` (and `about`); without a fallback an uncoded
 * cause stays a plain Error: it is a bug, and re-wrapping it must not make it look like one the
 * user can fix.
 */
export function prefixedError(cause: unknown, message: string, fallback?: ErrorCode, about: ErrorSubject = {}): Error {
  // errorCode trusts only our errors' shape (a code beside an `about` object), not Node's ERR_… codes.
  const inner = errorCode(cause);
  const code = inner ?? fallback;
  if (code === undefined) return new Error(message, { cause });
  const subject = inner !== undefined ? { ...about, ...(cause as { about: ErrorSubject }).about } : about;
  return new FairtuneError(code, message, subject, { cause });
}
