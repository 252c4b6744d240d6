/**
 * The `fetch` the CLI gives its API client, over node:http(s). Node 20's global fetch
 * (undici) compiles its WebAssembly HTTP parser on first use: about 0.3 s of CPU in
 * every `crmsync status`, more than all the rest of the command. This covers what
 * ApiClient uses (method, headers, a string body, an AbortSignal; the status and the
 * body as text) and fails the way fetch does: the signal's reason when it aborts,
 * else a TypeError whose `cause` is the socket or parser error (with its `code`).
 */
import { X509Certificate } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';

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

/** A certificate an https:// API must present exactly (a node's self-signed api-cert.pem, or a copy). */
export interface PinnedCertificate {
  pem: string;
  /** Where it came from, for the error when the API presents another one. */
  file: string;
}

/**
 * TLS options that accept exactly the pinned certificate: it is the only trust anchor,
 * and the host name check is replaced by comparing the certificate itself (a node's
 * self-signed certificate names the node, not the host it runs on).
 */
function pinned(pin: PinnedCertificate): RequestOptions {
  let fingerprint: string;
  try {
    fingerprint = new X509Certificate(pin.pem).fingerprint256;
  } catch (cause) {
    throw new TypeError(`${pin.file} does not hold a PEM certificate`, { cause });
  }
  return {
    ca: pin.pem,
    checkServerIdentity: (_host, cert) => (cert.fingerprint256 === fingerprint ? undefined : Object.assign(
      new Error(`the API presented another certificate than ${pin.file}`), { code: 'ERR_CERT_MISMATCH' })),
  };
}

/** fetch(url, init) for the CLI's requests: http and https (with `pin`: accepting only that certificate), no connection kept open. */
export function createHttpFetch(pin?: PinnedCertificate): typeof fetch {
  const tls = pin ? pinned(pin) : {};
  return ((input: string | URL, init: RequestInit = {}) => send(input, init, tls)) as unknown as typeof fetch;
}

function send(input: string | URL, init: RequestInit, tls: RequestOptions): Promise<SmallResponse> {
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
    const req = request(url, { ...(url.protocol === 'https:' ? tls : {}), method: init.method ?? 'GET', headers, agent: false, ...(signal ? { signal } : {}) }, (res) => {
      readBody(res).then((text) => {
        const status = res.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, status, statusText: res.statusMessage ?? '', text: async () => text });
      }, (err: unknown) => reject(failure(err, signal)));
    });
    req.once('error', (err) => reject(failure(err, signal)));
    req.end(body);
  });
}

/** fetch(url, init) for the CLI's requests without a pinned certificate. Typed as fetch for ApiClientOptions.fetch: ApiClient reads only what SmallResponse has. */
export const httpFetch = createHttpFetch();
