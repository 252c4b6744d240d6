/**
 * The one error shape of the HTTP API and the mapping from error codes to statuses.
 * Engine errors keep their stable code; fastify's own errors (bad JSON, body too
 * large, unsupported media type) become ERR_VALIDATION with fastify's 4xx status;
 * anything else is a bug and answers 500 ERR_INTERNAL without detail.
 */
import { CrmsyncError, type ErrorCode, type FieldIssue } from '../index.js';

/** Codes on the wire: the engine's codes plus ERR_INTERNAL for unexpected failures. */
export type ApiErrorCode = ErrorCode | 'ERR_INTERNAL';

/** The JSON body of every error response. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string; details?: FieldIssue[] };
}

const STATUS_BY_CODE: Partial<Record<ApiErrorCode, number>> = {
  ERR_VALIDATION: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_NOT_FOUND: 404,
  ERR_EXISTS: 409,
  ERR_NOT_CONFLICTED: 409,
  ERR_GONE: 410,
  ERR_CLOSED: 503,
  ERR_BUSY: 503,
  ERR_TIMEOUT: 504,
};

/** HTTP status for an error code (500 for every code not listed in the contract). */
export function statusOf(code: ApiErrorCode): number {
  return STATUS_BY_CODE[code] ?? 500;
}

/** A failed request, ready to send. */
export interface HttpError {
  status: number;
  body: ApiErrorBody;
}

/** An error body with the given code and message. */
export function errorBody(code: ApiErrorCode, message: string, details?: FieldIssue[]): ApiErrorBody {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

interface FrameworkError {
  statusCode?: unknown;
  code?: unknown;
}

// Node's JSON.parse messages quote part of the body; a constant message avoids echoing it.
const FRAMEWORK_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'request body is too large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported content type: send application/json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the body is empty but content-type is application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'content-length does not match the body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'the request body is not valid JSON',
};

/** The 415 of a JSON route sent another content type (fastify's own code, so toHttpError maps it). */
export function unsupportedMediaType(): Error {
  return Object.assign(new Error('unsupported content type'), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' });
}

/** The answer to an error of fastify's router (bad percent-encoding, a parameter over the length limit). */
export function frameworkError(err: { code?: unknown }, tooLongParam: string | undefined): HttpError {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    const field = tooLongParam ?? '(path)';
    return { status: 400, body: errorBody('ERR_VALIDATION', `invalid path parameters: ${field}: too long`, [{ field, message: 'too long' }]) };
  }
  if (err.code === 'FST_ERR_BAD_URL') return { status: 400, body: errorBody('ERR_VALIDATION', 'the URL path is not valid (bad percent-encoding)') };
  return toHttpError(err);
}

/** Maps any thrown value to the status and body to send. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof CrmsyncError) {
    return { status: statusOf(err.code), body: errorBody(err.code, err.message, err.details) };
  }
  const { statusCode, code } = (typeof err === 'object' && err !== null ? err : {}) as FrameworkError;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    if (statusCode === 404) return { status: 404, body: errorBody('ERR_NOT_FOUND', 'not found') };
    const known = typeof code === 'string' ? FRAMEWORK_MESSAGES[code] : undefined;
    const message = known ?? (err instanceof SyntaxError ? 'the request body is not valid JSON' : 'bad request');
    return { status: statusCode, body: errorBody('ERR_VALIDATION', message) };
  }
  return { status: 500, body: errorBody('ERR_INTERNAL', 'internal error') };
}
