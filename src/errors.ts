import type { z } from 'zod';

/**
 * Runtime errors carry a stable upper-case `code` (tests and callers branch on it,
 * never on the message) and an optional `cause`. Programmer errors stay TypeErrors.
 * Every code is listed in the README.
 */
export const ERROR_CODES = [
  /** Input (record, patch, option, query) failed validation; see `details`. */
  'ERR_VALIDATION',
  /** The record does not exist (or is deleted, for operations that need it live). */
  'ERR_NOT_FOUND',
  /** A record with that id already exists (create). */
  'ERR_EXISTS',
  /** The field of a conflict resolve holds no concurrent values (never did, or was resolved meanwhile). */
  'ERR_NOT_CONFLICTED',
  /** The record id was erased, or its deleted record collected: the id never comes back. */
  'ERR_GONE',
  /** A peer sent bytes that are not a valid protocol message. */
  'ERR_PROTOCOL',
  /** A frame exceeded the maximum frame size. */
  'ERR_FRAME_TOO_LARGE',
  /** The peer speaks an incompatible protocol version. */
  'ERR_PROTOCOL_VERSION',
  /** Two different histories were written under one origin (a copied data directory). */
  'ERR_ORIGIN_FORKED',
  /** LevelDB failed to read or write. */
  'ERR_STORAGE',
  /** The data directory is in use by another process. */
  'ERR_LOCKED',
  /** Stored data failed an integrity check (hash or heads mismatch). */
  'ERR_CORRUPT',
  /** The node (or a component) is closed or not yet open. */
  'ERR_CLOSED',
  /** A peer failed authentication, or is not allowed to do what it asked. */
  'ERR_UNAUTHORIZED',
  /** A signature does not match its claimed signer (altered, forged or replayed data). */
  'ERR_SIGNATURE',
  /** An operation was aborted or timed out. */
  'ERR_TIMEOUT',
  /** A connection was refused for capacity (ours or the peer's: HTTP 429/503); retry later. */
  'ERR_BUSY',
  /** An import source failed: unreachable, refused the request, or sent what cannot be read. */
  'ERR_SOURCE',
] as const;

/** One of the stable error codes. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** A field-level validation problem. */
export interface FieldIssue {
  field: string;
  message: string;
}

/** The one error type for expected runtime failures. */
export class CrmsyncError extends Error {
  readonly code: ErrorCode;
  readonly details: FieldIssue[] | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: FieldIssue[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CrmsyncError';
    this.code = code;
    this.details = options.details;
  }
}

/**
 * How unknown keys are listed: `each` gives one entry per key at its own path
 * (`colour: unknown field`, the HTTP API's documented contract); `together` gives one
 * entry for the object holding them (`(root): unknown field(s) colour, size`, what the
 * engine has always reported to library callers).
 */
export type UnknownKeys = 'each' | 'together';

/** Turns a failed schema parse into one ERR_VALIDATION with a field-level detail per problem. */
export function validationError(what: string, error: z.ZodError, unknownKeys: UnknownKeys = 'each'): CrmsyncError {
  const field = (path: readonly PropertyKey[]) => path.map(String).join('.') || '(root)';
  const details: FieldIssue[] = error.issues.flatMap((issue) => {
    if (issue.code !== 'unrecognized_keys') return [{ field: field(issue.path), message: issue.message }];
    if (unknownKeys === 'together') return [{ field: field(issue.path), message: `unknown field(s) ${issue.keys.join(', ')}` }];
    return issue.keys.map((key) => ({ field: field([...issue.path, key]), message: 'unknown field' }));
  });
  const summary = details.map((d) => `${d.field}: ${d.message}`).join('; ');
  return new CrmsyncError('ERR_VALIDATION', `invalid ${what}: ${summary}`, { details });
}

/** True when `err` is a CrmsyncError with the given code. */
export function hasCode(err: unknown, code: ErrorCode): err is CrmsyncError {
  return err instanceof CrmsyncError && err.code === code;
}

/** Wraps a LevelDB failure so it is never mistaken for success or swallowed. */
export function storageError(action: string, cause: unknown): CrmsyncError {
  // classic-level reports a held lock as LEVEL_DATABASE_NOT_OPEN caused by LEVEL_LOCKED.
  const codes = [cause, (cause as { cause?: unknown } | null)?.cause].map((e) => (e as { code?: unknown } | null)?.code);
  if (codes.includes('LEVEL_LOCKED')) {
    return new CrmsyncError('ERR_LOCKED', `${action}: the data directory is in use by another process (is a node already running on it?)`, { cause });
  }
  // The cause (kept for the node's own log) names files; an error a client sees must not.
  return new CrmsyncError('ERR_STORAGE', `${action} failed: ${withoutPaths((cause as Error)?.message ?? String(cause))}`, { cause });
}

/** `text` with absolute file paths (POSIX or Windows) replaced by `<path>`. */
export function withoutPaths(text: string): string {
  return text.replace(/(?<=^|[\s'"(=])(?:[A-Za-z]:\\|\/)[^\s'"`,;)]*/g, '<path>');
}
