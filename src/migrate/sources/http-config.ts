/**
 * The configuration of an HTTP source, as it appears in a mapping file under
 * `"source": {"http": {…}}` (docs/migration.md): the URL, how pages follow each other,
 * where the rows are in a page, the credentials (named environment variables, never the
 * secret itself: the objects are strict, so a "token" key is refused), retries and limits.
 */
import { z } from 'zod';

/** Most retries of one request a config may ask for. */
export const HTTP_MAX_RETRIES_LIMIT = 20;
/** Default largest response body (bytes). Protects memory: a page is held whole to parse it. */
export const HTTP_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the NAME of an environment variable (the secret itself never goes into the file)');
const param = z.string().min(1).max(100);
const dotted = z.string().min(1).max(200);
const size = z.number().int().min(1).max(100_000);

/** How one page leads to the next. */
export const paginationSchema = z.discriminatedUnion('type', [
  /** ?page=1,2,3… until a page has fewer than `size` rows (or none). */
  z.strictObject({ type: z.literal('page'), param: param.default('page'), start: z.number().int().min(0).default(1), sizeParam: param.optional(), size: size.optional() }),
  /** ?offset=0,n,2n… (n = rows received) until a page has fewer than `size` rows (or none). */
  z.strictObject({ type: z.literal('offset'), param: param.default('offset'), sizeParam: param.optional(), size: size.optional() }),
  /** ?cursor=<the value at `next` in the previous page> until it is missing, null or "". */
  z.strictObject({ type: z.literal('cursor'), param: param.default('cursor'), next: dotted }),
  /** The URL in the response's `Link: <…>; rel="next"` header (RFC 8288) until there is none. */
  z.strictObject({ type: z.literal('link') }),
  /** One request. */
  z.strictObject({ type: z.literal('none') }),
]);

/** Credentials, read from environment variables at run time. */
export const authSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('bearer'), tokenEnv: envName }),
  z.strictObject({ type: z.literal('basic'), userEnv: envName, passwordEnv: envName }),
]);

/** Retries of a request that failed with 408, 429, 5xx or a network error. */
export const retrySchema = z.strictObject({
  maxRetries: z.number().int().min(0).max(HTTP_MAX_RETRIES_LIMIT).default(5),
  /** First backoff (ms); doubles per retry, capped at maxDelayMs, with full jitter. */
  baseDelayMs: z.number().int().min(0).max(60_000).default(500),
  maxDelayMs: z.number().int().min(0).max(600_000).default(30_000),
  /** Longest Retry-After the source waits for; a server asking more fails the run. */
  maxRetryAfterMs: z.number().int().min(0).max(3_600_000).default(300_000),
});

/** An HTTP source. */
export const httpSourceSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  /** Extra query parameters of every request. */
  query: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  /** Extra request headers (not for credentials: see auth). */
  headers: z.record(z.string(), z.string()).default({}),
  pagination: paginationSchema.default({ type: 'none' }),
  /** Dotted path of the rows array in a page; without it the page must be the array. */
  records: dotted.optional(),
  auth: authSchema.optional(),
  retry: retrySchema.default({ maxRetries: 5, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 300_000 }),
  timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  maxResponseBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(HTTP_MAX_RESPONSE_BYTES),
  /** With --incremental: send the stored watermark as this query parameter, so the server filters. */
  since: z.strictObject({ param, format: z.enum(['iso', 'ms', 'unix']).default('iso') }).optional(),
});
/** A validated HTTP source configuration. */
export type HttpSourceConfig = z.output<typeof httpSourceSchema>;
