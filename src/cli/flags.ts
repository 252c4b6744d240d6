/**
 * The one place that maps the API's field names back to the flags and arguments they
 * came from: the API validates `updatedSince`, the user typed `--since`. A validation
 * error from the API is rewritten to name what the user typed, so `--since yesterday`
 * is answered with what `--since` accepts.
 */
import { CrmsyncError, hasCode, type FieldIssue } from '../errors.js';
import { summaryOf } from './error-output.js';

/** API field → flag or argument, for each kind of request the commands send. */
export const FLAGS_OF_FIELDS = {
  /** GET /v1/customers (records list). */
  list: {
    territory: '--territory', owner: '--owner', stage: '--stage', updatedSince: '--since', q: '--q',
    limit: '--limit', cursor: '--cursor', includeDeleted: '--include-deleted',
  },
  /** GET /v1/conflicts (conflicts list). */
  conflicts: { territory: '--territory', owner: '--owner', limit: '--limit', cursor: '--cursor' },
  /** POST /v1/customers/:id/conflicts/:field/resolve (conflicts resolve). */
  resolve: { id: '<id>', field: '<field>', keep: '--keep', keepNode: '--keep-node' },
  /** GET /v1/customers/:id/history. */
  history: { id: '<id>', limit: '--limit' },
  /** Routes with the record id in the path (get, put, patch, delete, restore, conflicts show). */
  record: { id: '<id>' },
  /** POST and DELETE /v1/peers. */
  peers: { url: '<url>', node: '--node', confirm: '--confirm' },
  /** The /v1/trust routes. */
  trust: {
    key: '<fingerprint>', node: '--node', role: '--role', admin: '--admin', 'scope.territories': '--territory', 'scope.owners': '--owner',
    ttlSeconds: '--expires', urls: '--url', member: '<node or fingerprint>',
  },
} as const satisfies Record<string, Record<string, string>>;

/** A table of FLAGS_OF_FIELDS. */
export type FieldFlags = Readonly<Record<string, string>>;

/** The error with API field names replaced by flags; other errors unchanged. */
export function namingFlags(err: unknown, fields: FieldFlags): unknown {
  if (!hasCode(err, 'ERR_VALIDATION') || !err.details?.some((d) => Object.hasOwn(fields, d.field))) return err;
  const details: FieldIssue[] = err.details.map((d) => ({ field: Object.hasOwn(fields, d.field) ? fields[d.field]! : d.field, message: d.message }));
  // A message that only lists the details ("invalid query: limit: …") is rebuilt with the
  // flags; one that says more (an invalid record id and its syntax) is kept.
  const message = err.message.endsWith(summaryOf(err.details))
    ? `invalid ${[...new Set(details.map((d) => d.field))].join(', ')}: ${summaryOf(details)}`
    : err.message;
  return new CrmsyncError('ERR_VALIDATION', message, { details, cause: err });
}
