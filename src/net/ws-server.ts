/**
 * The HTTP(S) server behind a listening WebSocket transport, hardened for a port that
 * faces the internet: a peer port serves exactly one request per socket (the upgrade),
 * with small header limits and short timeouts, and every TCP socket must complete its
 * upgrade within upgradeTimeoutMs or it is destroyed. Half-open requests therefore hold
 * at most maxPendingUpgrades file descriptors, for at most upgradeTimeoutMs each.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { FIXED } from '../limits.js';
import type { RefusalReason, TlsOptions } from './transport.js';

/** What createPeerServer needs. */
export interface PeerServerOptions {
  tls: TlsOptions | undefined;
  upgradeTimeoutMs: number;
  /** Hard cap on the server's TCP sockets (upgraded ones included): the file descriptor ceiling. */
  maxSockets: number;
}

/** An HTTP server (HTTPS with `tls`) that answers anything but an upgrade with 426. */
export function createPeerServer(options: PeerServerOptions): Server {
  const timeouts = {
    headersTimeout: options.upgradeTimeoutMs,
    requestTimeout: options.upgradeTimeoutMs,
    keepAliveTimeout: options.upgradeTimeoutMs,
    connectionsCheckingInterval: options.upgradeTimeoutMs,
    maxHeaderSize: FIXED.maxUpgradeHeaderBytes,
    noDelay: true,
  };
  const onRequest = (_req: unknown, res: import('node:http').ServerResponse): void => {
    res.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close' }).end('Upgrade Required');
  };
  const { tls } = options;
  const server: Server = tls
    ? createHttpsServer({
      ...timeouts,
      key: tls.key,
      cert: tls.cert,
      ca: tls.ca,
      minVersion: 'TLSv1.3',
      // Peers present their certificate: its key is their identity. Without an operator
      // CA, self-signed certificates are accepted here and the owner checks the key.
      requestCert: true,
      rejectUnauthorized: tls.ca !== undefined,
      // A backstop only: the UpgradeGuard destroys a socket at upgradeTimeoutMs, TLS or not.
      handshakeTimeout: 2 * options.upgradeTimeoutMs,
    }, onRequest)
    : createHttpServer(timeouts, onRequest);
  server.maxHeadersCount = FIXED.maxUpgradeHeaders;
  server.maxRequestsPerSocket = FIXED.maxRequestsPerSocket;
  server.maxConnections = options.maxSockets;
  return server;
}

/** Stops `server`; a bind still in progress (a hostname being resolved) is closed when it completes. */
export function closeServer(server: Server): Promise<void> {
  // Node drops 'listening' for a server closed before it bound, but only when no DNS
  // lookup was pending; after a lookup the bind still happens, so catch it here.
  if (!server.listening) server.once('listening', () => server.close());
  return new Promise((resolve) => server.close(() => resolve()));
}

const STATUS_TEXT = { 401: 'Unauthorized', 403: 'Forbidden', 429: 'Too Many Requests', 503: 'Service Unavailable' } as const;

/** Ends an upgrade request with a bare HTTP status; the socket is destroyed once written. */
export function refuseUpgrade(socket: Duplex, status: keyof typeof STATUS_TEXT, bearer = false): void {
  const extra = bearer ? 'WWW-Authenticate: Bearer\r\n' : '';
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\n${extra}Content-Length: 0\r\n\r\n`);
}

/** Settings of an UpgradeGuard. */
export interface UpgradeGuardOptions {
  maxPending: number;
  timeoutMs: number;
  /** A socket was destroyed by the guard. */
  onDestroyed(reason: Extract<RefusalReason, 'pending-upgrades' | 'upgrade-timeout'>, remoteAddress: string): void;
}

/**
 * The TCP sockets that have not completed an upgrade.
 *
 * Invariants:
 * 1. At most maxPending sockets are pending: a new one evicts the oldest (honest peers
 *    upgrade within milliseconds, so the oldest is the likeliest to be stuck or hostile).
 * 2. A pending socket is destroyed timeoutMs after it was accepted.
 * 3. A socket leaves the set (and its timer is cleared) when it upgrades or closes.
 */
export class UpgradeGuard {
  readonly #options: UpgradeGuardOptions;
  // Keyed by the TCP 4-tuple's remote half: the upgrade event hands us the TLS socket
  // on HTTPS, not the raw socket accepted here, but both report the same remote end.
  readonly #pending = new Map<string, { socket: Socket; timer: NodeJS.Timeout }>();

  constructor(options: UpgradeGuardOptions) {
    for (const key of ['maxPending', 'timeoutMs'] as const) {
      if (!(options[key] > 0)) throw new TypeError(`${key} must be a positive number`);
    }
    this.#options = options;
  }

  /** Sockets waiting to upgrade. */
  get pending(): number {
    return this.#pending.size;
  }

  /** A TCP socket was accepted (the server's 'connection' event). */
  accepted(socket: Socket): void {
    if (socket.remoteAddress === undefined) {
      socket.destroy(); // already reset by the peer: nothing to wait for
      return;
    }
    const key = keyOf(socket);
    const remoteAddress = socket.remoteAddress ?? '?';
    if (this.#pending.size >= this.#options.maxPending) {
      const [oldestKey, oldest] = this.#pending.entries().next().value as [string, { socket: Socket; timer: NodeJS.Timeout }];
      this.#forget(oldestKey);
      oldest.socket.destroy();
      this.#options.onDestroyed('pending-upgrades', oldest.socket.remoteAddress ?? '?');
    }
    const timer = setTimeout(() => {
      this.#forget(key);
      socket.destroy();
      this.#options.onDestroyed('upgrade-timeout', remoteAddress);
    }, this.#options.timeoutMs);
    timer.unref();
    this.#pending.set(key, { socket, timer });
    socket.once('close', () => this.#forget(key, socket));
  }

  /** Whether `socket` (raw, or the TLS socket over it) is still waiting; false once the guard destroyed it. */
  isPending(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): boolean {
    return this.#pending.has(keyOf(socket));
  }

  /** The socket behind an upgrade request reached the upgrade handler: it is no longer half-open. */
  upgraded(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): void {
    this.#forget(keyOf(socket));
  }

  /** Destroys every pending socket (the transport is closing). */
  destroyAll(): void {
    for (const [key, entry] of [...this.#pending]) {
      this.#forget(key);
      entry.socket.destroy();
    }
  }

  #forget(key: string, only?: Socket): void {
    const entry = this.#pending.get(key);
    if (!entry || (only && entry.socket !== only)) return;
    clearTimeout(entry.timer);
    this.#pending.delete(key);
  }
}

function keyOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress ?? '?'}|${String(socket.remotePort ?? '?')}`;
}
