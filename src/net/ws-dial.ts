/**
 * The dialing half of the WebSocket transport: resolve and vet the address, open the
 * TCP (or TLS) connection to exactly that address, ask acceptServer about the server's
 * certificate key before a byte of ours is sent, then run the WebSocket upgrade over
 * that socket. Every step obeys one AbortSignal (timeout, caller abort, transport close).
 */
import { connect as netConnect, isIP, type BlockList, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { WebSocket, type ClientOptions } from 'ws';
import { CrmsyncError } from '../errors.js';
import type { Logger } from '../log.js';
import { bareHostname, isLoopback, vetDialTargets, type ResolvedAddress, type Resolver } from './address-policy.js';
import { tlsIdentityOf, type TlsIdentity } from './tls-identity.js';
import { trustsServer, type TlsOptions } from './transport.js';

/** What a dial needs from its transport. */
export interface DialContext {
  tls: TlsOptions | undefined;
  peerToken: string | undefined;
  acceptServer: ((peerKey: Uint8Array | undefined) => boolean) | undefined;
  /** See TransportOptions.trustServer. */
  trustServer: ((peerKey: Uint8Array | undefined) => boolean) | undefined;
  /** Link-local and metadata ranges to refuse; undefined when allowLinkLocal is set. */
  blockList: BlockList | undefined;
  resolve: Resolver;
  /** ws options (maxPayload, compression, close timeout). */
  wsOptions: ClientOptions;
  log: Logger;
}

/**
 * Wraps the client WebSocket the moment it opens: synchronously, because frames the
 * server sent right after the upgrade are emitted before a promise continuation runs.
 */
export type AdoptSocket<T> = (ws: WebSocket, identity: TlsIdentity) => T;

/** Parses a peer URL; only ws:// and wss:// are accepted (ERR_VALIDATION otherwise). */
export function parsePeerUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new CrmsyncError('ERR_VALIDATION', 'invalid peer URL', { cause: err, details: [{ field: 'url', message: 'not a URL' }] });
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new CrmsyncError('ERR_VALIDATION', 'peer URLs are ws:// or wss://', { details: [{ field: 'url', message: `unsupported scheme ${parsed.protocol}` }] });
  }
  return parsed;
}

/** Dials `url` (already parsed) and resolves with what `adopt` made of the open WebSocket; rejects with the signal's reason on abort. */
export async function dialWebSocket<T>(url: URL, context: DialContext, signal: AbortSignal, adopt: AdoptSocket<T>): Promise<T> {
  const secure = url.protocol === 'wss:';
  const hostname = bareHostname(url);
  const addresses = await abortable(vetDialTargets(hostname, { resolve: context.resolve, blockList: context.blockList }), signal);
  const port = Number(url.port || (secure ? 443 : 80));
  const { socket, address } = await connectFirst(addresses, { secure, hostname, port, tls: context.tls }, signal);
  const identity = tlsIdentityOf(socket);
  try {
    if (context.acceptServer && !context.acceptServer(identity.peerKey)) {
      throw new CrmsyncError('ERR_UNAUTHORIZED', 'the server was refused by acceptServer');
    }
  } catch (err) {
    socket.destroy();
    throw err;
  }
  const headers: Record<string, string> = {};
  if (context.peerToken !== undefined) {
    if (tokenAllowed(secure, trustsServer(context, identity.peerKey), address.address)) headers.Authorization = `Bearer ${context.peerToken}`;
    else context.log.warn({ secure }, 'peer token withheld: not a TLS server we trust, nor loopback');
  }
  return upgrade(url, socket, { ...context.wsOptions, headers, followRedirects: false }, signal, (ws) => adopt(ws, identity));
}

/**
 * Whether the bearer token may go to a server: a token is a reusable secret, so it goes
 * only where nobody can read it on the way (loopback, in clear) or over TLS to a server
 * whose identity acceptServer accepted (`serverAccepted`).
 */
export function tokenAllowed(secure: boolean, serverAccepted: boolean, address: string): boolean {
  return secure ? serverAccepted : isLoopback(address);
}

interface SocketTarget {
  secure: boolean;
  hostname: string;
  address: ResolvedAddress;
  port: number;
  tls: TlsOptions | undefined;
}

/** Errors after which the next address of a name is worth trying (e.g. `localhost`: ::1 refused, 127.0.0.1 listening). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT']);

/** Connects to the vetted addresses in order until one accepts; the last error otherwise. */
async function connectFirst(
  addresses: ResolvedAddress[], target: Omit<SocketTarget, 'address'>, signal: AbortSignal,
): Promise<{ socket: Socket; address: ResolvedAddress }> {
  let lastError: unknown;
  for (const address of addresses) {
    try {
      return { socket: await connectSocket({ ...target, address }, signal), address };
    } catch (err) {
      if (signal.aborted || !UNREACHABLE.has(String((err as { code?: unknown }).code))) throw err;
      lastError = err;
    }
  }
  throw lastError;
}

/** Opens TCP (and TLS) to the vetted address; with TLS, resolves after the handshake. */
function connectSocket(target: SocketTarget, signal: AbortSignal): Promise<Socket> {
  const { secure, hostname, address, port, tls } = target;
  const socket: Socket = secure
    ? tlsConnect({
      host: address.address,
      port,
      // SNI and hostname verification use the name from the URL, not the address.
      ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
      key: tls?.key,
      cert: tls?.cert,
      ca: tls?.ca,
      minVersion: 'TLSv1.3',
      // Without an operator CA, node certificates are self-signed: the key is checked by acceptServer.
      rejectUnauthorized: tls?.ca !== undefined,
    })
    : netConnect({ host: address.address, port, family: address.family });
  return new Promise<Socket>((resolve, reject) => {
    const onError = (err: Error): void => finish(err);
    const onAbort = (): void => finish(signal.reason as Error);
    const onReady = (): void => finish();
    const finish = (err?: Error): void => {
      socket.off('error', onError).off(secure ? 'secureConnect' : 'connect', onReady);
      signal.removeEventListener('abort', onAbort);
      if (!err) {
        resolve(socket);
        return;
      }
      socket.on('error', () => {}); // destroyed below; a late error must not be unhandled
      socket.destroy();
      reject(err);
    };
    if (signal.aborted) {
      finish(signal.reason as Error);
      return;
    }
    socket.once('error', onError).once(secure ? 'secureConnect' : 'connect', onReady);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs the WebSocket upgrade over an open socket. */
function upgrade<T>(url: URL, socket: Socket, options: ClientOptions, signal: AbortSignal, onOpen: (ws: WebSocket) => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let ws: WebSocket;
    // Until ws and http have their own listeners on it, an error must not be unhandled.
    const swallow = (): void => {};
    socket.on('error', swallow);
    try {
      ws = new WebSocket(url, { ...options, createConnection: () => socket });
    } catch (err) {
      socket.destroy();
      reject(err);
      return;
    }
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      ws.terminate(); // emits 'error' and 'close' later; the listeners below swallow them
      reject(err);
    };
    const onAbort = (): void => fail(signal.reason as Error);
    if (signal.aborted) {
      fail(signal.reason as Error);
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    ws.on('error', (err: Error) => fail(err));
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      fail(statusError(res.statusCode));
    });
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket.off('error', swallow);
      ws.removeAllListeners('error').removeAllListeners('unexpected-response');
      resolve(onOpen(ws));
    });
  });
}

/** The error a refused upgrade becomes. */
function statusError(status: number | undefined): Error {
  if (status === 401 || status === 403) return new CrmsyncError('ERR_UNAUTHORIZED', `the peer refused us (HTTP ${status})`);
  if (status === 429 || status === 503) return new CrmsyncError('ERR_BUSY', `the peer is at capacity (HTTP ${status})`);
  return new Error(`unexpected HTTP status ${String(status)} from peer`);
}

/** `work`, or the signal's reason if it aborts first. */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value); },
      (err: unknown) => { signal.removeEventListener('abort', onAbort); reject(err); },
    );
  });
}
