/**
 * One GET of an HTTP source, with what a well-behaved client of someone else's API
 * needs: credentials from environment variables, a timeout, a response size limit, and
 * retries of 408/429/5xx and network errors with capped exponential backoff and full
 * jitter, honouring Retry-After (seconds or an HTTP date). Time, randomness and sleeping
 * are injected, so tests run the backoff without waiting.
 */
import { CrmsyncError } from '../../index.js';
import type { HttpSourceConfig } from './http-config.js';

/** What a fetch of a page needs besides the config. */
export interface HttpDeps {
  fetch: typeof fetch;
  /** Waits `ms` (real time in the CLI, nothing in tests). */
  sleep: (ms: number) => Promise<void>;
  /** Uniform in [0, 1): the backoff's jitter. */
  random: () => number;
  /** ms since the epoch: an HTTP-date Retry-After is relative to it. */
  now: () => number;
  env: Record<string, string | undefined>;
}

/** A page as received. */
export interface HttpPage {
  url: string;
  status: number;
  headers: Headers;
  text: string;
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

/** The URL without credentials or query, for messages. */
export function showUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** The Authorization header the config asks for; fails when its variable is not set. */
export function authorization(config: HttpSourceConfig, env: HttpDeps['env']): string | undefined {
  const auth = config.auth;
  if (!auth) return undefined;
  const need = (name: string) => {
    const value = env[name];
    if (value === undefined || value === '') {
      throw new CrmsyncError('ERR_VALIDATION', `the HTTP source's credentials come from the environment variable ${name}, which is not set`, { details: [{ field: `source.http.auth`, message: `${name} is not set` }] });
    }
    return value;
  };
  if (auth.type === 'bearer') return `Bearer ${need(auth.tokenEnv)}`;
  return `Basic ${Buffer.from(`${need(auth.userEnv)}:${need(auth.passwordEnv)}`).toString('base64')}`;
}

/** Retry-After as ms from now (seconds, or an HTTP date), or undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** The backoff before retry number `attempt` (0-based): full jitter under a capped exponential. */
export function backoffMs(attempt: number, retry: HttpSourceConfig['retry'], random: () => number): number {
  return Math.floor(random() * Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** attempt));
}

const sourceError = (message: string, cause?: unknown) => new CrmsyncError('ERR_SOURCE', message, cause === undefined ? {} : { cause });

/** Reads a body up to `max` bytes; more fails (the rest is not read). */
async function readLimited(response: Response, max: number, what: string): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel();
    throw sourceError(`${what}: the response is ${declared} bytes, more than source.http.maxResponseBytes (${max})`);
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of response.body ?? []) {
    bytes += chunk.length;
    if (bytes > max) throw sourceError(`${what}: the response is more than source.http.maxResponseBytes (${max}) bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** GETs `url`, retrying what is worth retrying; a page with status 2xx, or ERR_SOURCE. */
export async function getPage(url: string, config: HttpSourceConfig, deps: HttpDeps): Promise<HttpPage> {
  const headers: Record<string, string> = { accept: 'application/json', ...config.headers };
  const auth = authorization(config, deps.env);
  if (auth) headers.authorization = auth;
  const what = `GET ${showUrl(url)}`;
  for (let attempt = 0; ; attempt++) {
    let failure: string;
    let wait: number | undefined;
    try {
      const response = await deps.fetch(url, { headers, signal: AbortSignal.timeout(config.timeoutMs) });
      if (response.ok) return { url, status: response.status, headers: response.headers, text: await readLimited(response, config.maxResponseBytes, what) };
      const excerpt = (await readLimited(response, config.maxResponseBytes, what).catch(() => '')).slice(0, 200).replace(/\s+/g, ' ');
      failure = `HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''}`;
      if (response.status === 401 || response.status === 403) {
        throw sourceError(`${what} was refused (HTTP ${response.status}): check the credentials${config.auth ? ` in ${config.auth.type === 'bearer' ? config.auth.tokenEnv : `${config.auth.userEnv}/${config.auth.passwordEnv}`}` : ' (source.http.auth)'}`);
      }
      if (!RETRYABLE.has(response.status)) throw sourceError(`${what} failed: ${failure}`);
      wait = retryAfterMs(response.headers.get('retry-after'), deps.now());
    } catch (err) {
      if (err instanceof CrmsyncError) throw err;
      const e = err as Error & { cause?: { code?: string; message?: string } };
      failure = e.name === 'TimeoutError' ? `no answer within ${config.timeoutMs} ms` : `${e.message}${e.cause?.message ? ` (${e.cause.message})` : ''}`;
    }
    if (attempt >= config.retry.maxRetries) {
      throw sourceError(`${what} failed after ${attempt} retr${attempt === 1 ? 'y' : 'ies'}: ${failure}`);
    }
    if (wait !== undefined && wait > config.retry.maxRetryAfterMs) {
      throw sourceError(`${what}: the server asks to wait ${Math.ceil(wait / 1000)} s (Retry-After), more than source.http.retry.maxRetryAfterMs (${config.retry.maxRetryAfterMs} ms)`);
    }
    await deps.sleep(wait ?? backoffMs(attempt, config.retry, deps.random));
  }
}
