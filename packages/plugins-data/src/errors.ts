/** Prefixing an error with where it happened without losing its FT_ code. */
import { errorCode, FairtuneError, type ErrorCode, type ErrorSubject } from '@fairtune/core/plugin';

/**
 * The code of a FairtuneError (from any copy of core: an `about` object beside the code), else
 * undefined. Node's own errors carry codes of the same shape (`ERR_STREAM_PREMATURE_CLOSE`,
 * zlib's `Z_DATA_ERROR`) that are no FT_ code and have no fix in docs/errors.md.
 */
export function fairtuneCode(err: unknown): string | undefined {
  const about = (err as { about?: unknown } | null)?.about;
  return about !== null && typeof about === 'object' ? errorCode(err) : undefined;
}

/**
 * `message` (which names `cause` and where it happened) as an error with `cause`'s code and
 * subject when it has one, else with `fallback` (and `about`); without a fallback an uncoded
 * cause stays a plain Error: it is a bug, and re-wrapping it must not make it look like one the
 * user can fix.
 */
export function prefixedError(cause: unknown, message: string, fallback?: ErrorCode, about: ErrorSubject = {}): Error {
  const inner = fairtuneCode(cause);
  const code = inner ?? fallback;
  if (code === undefined) return new Error(message, { cause });
  const subject = inner !== undefined ? { ...about, ...(cause as { about: ErrorSubject }).about } : about;
  return new FairtuneError(code, message, subject, { cause });
}
