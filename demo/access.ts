/**
 * Who may do what on the dashboard server (pure checks, used by server.ts):
 *  - anything that changes state (POST/PUT/PATCH/DELETE, proxied or a demo control)
 *    needs the demo's own token as `Authorization: Bearer …`, and is refused (403)
 *    when the browser says it comes from another origin;
 *  - while bound to loopback, the Host header must name loopback, so a web page whose
 *    DNS name is re-pointed at 127.0.0.1 (DNS rebinding) cannot read the dashboard;
 *  - only the node routes the page uses are proxied (an allow-list), never the full API.
 * The token reaches the page in the URL fragment (`#token=`), which browsers never send
 * to servers, so it stays out of request lines and Referer headers.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** Methods that change state. */
const STATE_CHANGING: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const RECORD_ID = '[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}';
const FIELD = '[A-Za-z][A-Za-z0-9_.]{0,63}';

/** The node API routes the page calls through `/api/nodes/:name/…`: editing a record, resolving a conflict. */
export const PROXY_ALLOW_LIST: readonly [method: string, path: RegExp][] = [
  ['PATCH', new RegExp(`^/v1/customers/${RECORD_ID}$`)],
  ['POST', new RegExp(`^/v1/customers/${RECORD_ID}/conflicts/${FIELD}/resolve$`)],
];

/** A refused request: the HTTP status and the error body. */
export interface Refusal {
  status: 401 | 403;
  code: 'ERR_UNAUTHORIZED' | 'ERR_FORBIDDEN';
  message: string;
}

/** Whether `method` changes state. */
export function changesState(method: string | undefined): boolean {
  return STATE_CHANGING.has((method ?? 'GET').toUpperCase());
}

/** Whether a listen address is loopback only. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** The warning to print when the dashboard listens beyond loopback (undefined on loopback). */
export function exposureWarning(host: string): string | undefined {
  if (isLoopback(host)) return undefined;
  return `WARNING: the dashboard listens on ${host}, beyond this machine. Anyone who can reach it can read every node's `
    + 'records through it; changing anything still needs the token in the printed URL. Use --host 127.0.0.1 to keep it local.';
}

/** Whether a node API call may go through the proxy. */
export function proxyAllowed(method: string | undefined, path: string): boolean {
  return PROXY_ALLOW_LIST.some(([m, pattern]) => m === method && pattern.test(path));
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Checks one request; returns why it is refused, or undefined when it may proceed. */
export function refusal(method: string | undefined, headers: IncomingHttpHeaders, token: string, bindHost: string): Refusal | undefined {
  const host = headers.host ?? '';
  if (isLoopback(bindHost) && !isLoopback(host.replace(/:\d+$/, ''))) {
    return { status: 403, code: 'ERR_FORBIDDEN', message: `this dashboard answers only to loopback host names, not ${JSON.stringify(host)}` };
  }
  if (!changesState(method)) return undefined;
  // Browsers send Origin (and Sec-Fetch-Site) with every state-changing request; tools may omit both.
  const origin = headers.origin;
  if ((origin !== undefined && origin !== `http://${host}`) || headers['sec-fetch-site'] === 'cross-site') {
    return { status: 403, code: 'ERR_FORBIDDEN', message: `cross-origin request refused (Origin ${origin ?? 'absent'})` };
  }
  const given = /^Bearer (\S+)$/i.exec(headers.authorization ?? '')?.[1];
  // Compare digests: equal lengths, and the time taken says nothing about the token.
  if (given === undefined || !timingSafeEqual(digest(given), digest(token))) {
    return { status: 401, code: 'ERR_UNAUTHORIZED', message: 'changing state needs the demo token: open the dashboard through the link the demo printed' };
  }
  return undefined;
}
