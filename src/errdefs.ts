/**
 * Typed errors shared by every module. Each class has a stable `code`; callers
 * wrap with context (`wrap(err, "create c1")`) and keep the class, so the API
 * layer can map the class to an HTTP status in one place (api/ httpStatus) and
 * the CLIs can print one clear line.
 */
export class BerthError extends Error {
  readonly code: string = "ERR_BERTH";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFound extends BerthError { override readonly code = "ERR_NOT_FOUND"; }
export class AlreadyExists extends BerthError { override readonly code = "ERR_ALREADY_EXISTS"; }
export class Conflict extends BerthError { override readonly code = "ERR_CONFLICT"; }
export class InvalidArgument extends BerthError { override readonly code = "ERR_INVALID_ARGUMENT"; }
export class FailedPrecondition extends BerthError { override readonly code = "ERR_FAILED_PRECONDITION"; }
export class PermissionDenied extends BerthError { override readonly code = "ERR_PERMISSION_DENIED"; }
/** Credentials missing or refused (HTTP 401). */
export class Unauthenticated extends BerthError { override readonly code = "ERR_UNAUTHENTICATED"; }
export class Unavailable extends BerthError { override readonly code = "ERR_UNAVAILABLE"; }
export class NotImplemented extends BerthError { override readonly code = "ERR_NOT_IMPLEMENTED"; }

/**
 * Adds context in front of the message and keeps the error's class (and its fields: a berth
 * error is prefixed in place, since subclasses may take other constructor arguments).
 */
export function wrap(err: unknown, context: string): BerthError {
  if (err instanceof BerthError) {
    err.message = `${context}: ${err.message}`;
    return err;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new BerthError(`${context}: ${msg}`, { cause: err });
}

/** Node's fs errors carry `code` like "ENOENT"; this turns them into our classes. */
export function fromErrno(err: unknown, context: string): BerthError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const msg = `${context}: ${err instanceof Error ? err.message : String(err)}`;
  switch (code) {
    case "ENOENT": return new NotFound(msg, { cause: err });
    case "EEXIST": return new AlreadyExists(msg, { cause: err });
    case "EACCES": case "EPERM": return new PermissionDenied(msg, { cause: err });
    case "EINVAL": return new InvalidArgument(msg, { cause: err });
    case "EBUSY": return new Conflict(msg, { cause: err });
    default: return new BerthError(msg, { cause: err });
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof NotFound;
export const isAlreadyExists = (e: unknown): boolean => e instanceof AlreadyExists;
export const isConflict = (e: unknown): boolean => e instanceof Conflict;
export const isInvalidArgument = (e: unknown): boolean => e instanceof InvalidArgument;
