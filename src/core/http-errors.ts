/**
 * The one place an error becomes an HTTP answer, for the shared HTTP server (http-server.ts):
 * our error codes, Fastify's validation and body errors, anything else as 500.
 */
import type { FastifyError } from 'fastify';
import { ErrorCode, InterlinkError, toHttpStatus } from '../errors/index.ts';

interface MappedError {
  status: number;
  code: string;
  message: string;
  field?: string | undefined;
}

/** The one place an error becomes an HTTP answer. */
export function errorBody(err: unknown): MappedError {
  if (err instanceof InterlinkError) {
    return { status: toHttpStatus(err.code), code: err.code, message: err.message, field: err.field };
  }
  const fe = err as FastifyError & {
    validation?: Array<{
      instancePath?: string;
      message?: string;
      params?: { issue?: { path?: unknown[] } };
    }>;
  };
  if (Array.isArray(fe.validation) && fe.validation.length > 0) {
    const parts = fe.validation.slice(0, 5).map((v) => {
      const path = v.instancePath?.replace(/^\//, '').replaceAll('/', '.') || '(body)';
      return { path, text: `${path}: ${v.message ?? 'invalid'}` };
    });
    const where = fe.validationContext ?? 'body';
    return {
      status: 400,
      code: ErrorCode.INVALID_INPUT,
      message: `invalid ${where}: ${parts.map((p) => p.text).join('; ')}`,
      field: parts[0]?.path,
    };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: ErrorCode.TOO_LARGE,
        message: `request body is larger than the limit (${fe.message})`,
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: ErrorCode.INVALID_INPUT, message: fe.message };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: ErrorCode.INVALID_INPUT, message: fe.message };
  }
  if (err instanceof SyntaxError) {
    return { status: 400, code: ErrorCode.INVALID_INPUT, message: `malformed JSON body: ${err.message}` };
  }
  const status = typeof fe.statusCode === 'number' && fe.statusCode >= 400 ? fe.statusCode : 500;
  return {
    status,
    code: status < 500 ? ErrorCode.INVALID_INPUT : ErrorCode.INTERNAL,
    message: fe.message || 'internal error',
  };
}
