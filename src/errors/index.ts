/**
 * Errors classified by stable codes. Callers test `code`, never class identity, and the
 * code is mapped to an HTTP status in exactly one place (toHttpStatus) so the API, the
 * plugin SDK and the clients of both agree.
 */

export const ErrorCode = {
  INVALID_INPUT: 'INVALID_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  TOO_LARGE: 'TOO_LARGE',
  UNAVAILABLE: 'UNAVAILABLE',
  TIMEOUT: 'TIMEOUT',
  BACKEND: 'BACKEND',
  NOT_SUPPORTED: 'NOT_SUPPORTED',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const STATUS: Record<ErrorCode, number> = {
  INVALID_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  TOO_LARGE: 413,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  BACKEND: 502,
  NOT_SUPPORTED: 501,
  INTERNAL: 500,
};

export class InterlinkError extends Error {
  readonly code: ErrorCode;
  /** The input field at fault, as a dotted path (`pod.metadata.name`), when there is one. */
  readonly field: string | undefined;
  constructor(code: ErrorCode, message: string, opts: { field?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'InterlinkError';
    this.code = code;
    this.field = opts.field;
  }
}

export const invalidInput = (message: string, field?: string) =>
  new InterlinkError(ErrorCode.INVALID_INPUT, message, field === undefined ? {} : { field });
export const notFound = (message: string) => new InterlinkError(ErrorCode.NOT_FOUND, message);
export const unavailable = (message: string, cause?: unknown) =>
  new InterlinkError(ErrorCode.UNAVAILABLE, message, { cause });
export const backendError = (message: string, cause?: unknown) =>
  new InterlinkError(ErrorCode.BACKEND, message, { cause });
export const notSupported = (message: string) => new InterlinkError(ErrorCode.NOT_SUPPORTED, message);

export function codeOf(err: unknown): ErrorCode {
  if (err && typeof err === 'object' && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string' && code in STATUS) return code as ErrorCode;
  }
  return ErrorCode.INTERNAL;
}

export const isNotFound = (err: unknown) => codeOf(err) === ErrorCode.NOT_FOUND;

/** Worth another attempt later: the other side was down, slow or failing, not refusing. */
export function isRetryable(err: unknown): boolean {
  const code = codeOf(err);
  return (
    code === ErrorCode.UNAVAILABLE ||
    code === ErrorCode.TIMEOUT ||
    code === ErrorCode.BACKEND ||
    code === ErrorCode.INTERNAL
  );
}

export function toHttpStatus(code: ErrorCode): number {
  return STATUS[code];
}

/** The inverse, for clients reading an answer whose body did not say. */
export function fromHttpStatus(status: number): ErrorCode {
  if (status === 400 || status === 422) return ErrorCode.INVALID_INPUT;
  if (status === 401) return ErrorCode.UNAUTHENTICATED;
  if (status === 403) return ErrorCode.FORBIDDEN;
  if (status === 404) return ErrorCode.NOT_FOUND;
  if (status === 409) return ErrorCode.CONFLICT;
  if (status === 413) return ErrorCode.TOO_LARGE;
  if (status === 501) return ErrorCode.NOT_SUPPORTED;
  if (status === 502) return ErrorCode.BACKEND;
  if (status === 503) return ErrorCode.UNAVAILABLE;
  if (status === 504) return ErrorCode.TIMEOUT;
  return status >= 500 ? ErrorCode.BACKEND : ErrorCode.INVALID_INPUT;
}
