/**
 * The `fetch` the CLI gives its API client, over node:http(s). Node 20's global fetch
 * (undici) compiles its WebAssembly HTTP parser on first use: about 0.3 s of CPU in
 * every `crmsync status`, more than all the rest of the command. This covers what
 * ApiClient uses (method, headers, a string body, an AbortSignal; the status and the
 * body as text) and fails the way fetch does: the signal's reason when it aborts,
 * else a TypeError whose `cause` is the socket or parser error (with its `code`).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** The part of a fetch Response that ApiClient reads; the body is read in full first. */
export interface SmallResponse {
  ok: boolean;
  status: number;
  statusText: string;
  text(): Promise<string>;
}

function failure(err: unknown, signal: AbortSignal | null | undefined): unknown {
  return signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: err });
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', reject);
    // A connection cut mid-body: 'aborted' (no 'end'), then 'close'.
    res.once('close', () => { if (!res.complete) reject(new Error('the response ended before its body was complete')); });
  });
}

/** fetch(url, init) for the CLI's requests: http and https, no connection kept open. */
export const httpFetch = ((input: string | URL, init: RequestInit = {}): Promise<SmallResponse> => {
  const url = new URL(input);
  const body = typeof init.body === 'string' ? init.body : undefined;
  // ApiClient passes headers as a plain object.
  const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const signal = init.signal ?? undefined;
  return new Promise<SmallResponse>((resolve, reject) => {
    // agent: false: one connection per request, closed after it, so nothing keeps the
    // process (or a test worker) alive afterwards.
    const req = request(url, { method: init.method ?? 'GET', headers, agent: false, ...(signal ? { signal } : {}) }, (res) => {
      readBody(res).then((text) => {
        const status = res.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, status, statusText: res.statusMessage ?? '', text: async () => text });
      }, (err: unknown) => reject(failure(err, signal)));
    });
    req.once('error', (err) => reject(failure(err, signal)));
    req.end(body);
  });
  // Typed as fetch for ApiClientOptions.fetch: ApiClient reads only what SmallResponse has.
}) as unknown as typeof fetch;
