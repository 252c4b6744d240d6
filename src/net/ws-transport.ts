/**
 * The production Transport over WebSockets (`ws`), plain or over TLS 1.3. Peers are
 * admitted in the HTTP upgrade (token, acceptPeer, connection limits), so a refused
 * peer never gets a socket; frames are binary and bounded by maxFrameBytes on both
 * sides; WebSocket's permessage-deflate is off (a zlib context per connection, and every
 * small frame compressed): sessions deflate their large frames themselves, bounded, for
 * peers that accept it (sync/frame-deflate.ts). Dialing lives in ws-dial.ts, the hardened HTTP server
 * and the half-open socket guard in ws-server.ts.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { CrmsyncError } from '../errors.js';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import { silentLogger, type Logger } from '../log.js';
import { linkLocalBlockList, systemResolver, type Resolver } from './address-policy.js';
import { normalizeAddress, type Slot } from './admission.js';
import { commonLimits } from './connection-support.js';
import { InboundBudget } from './flow-control.js';
import { PeerGate, transportStats } from './peer-gate.js';
import { tlsIdentityOf, type TlsIdentity } from './tls-identity.js';
import { CloseCode, type Connection, type Transport, type TransportOptions, type TransportStats } from './transport.js';
import { WsConnection } from './ws-connection.js';
import { dialWebSocket, parsePeerUrl, type DialContext } from './ws-dial.js';
import { UpgradeGuard, closeServer, createPeerServer, refuseUpgrade } from './ws-server.js';

/** Default time (ms) a dial may take to open the TCP connection and finish the upgrade. */
export const DEFAULT_CONNECT_TIMEOUT_MS = DEFAULT_LIMITS.connectTimeoutMs;

/** Default time (ms) a closing handshake may take before the socket is destroyed. */
export const DEFAULT_CLOSE_TIMEOUT_MS = DEFAULT_LIMITS.closeTimeoutMs;

/** Options of the WebSocket transport. */
export interface WsTransportOptions extends TransportOptions {
  /** Logger; a child with component 'net.ws' is used. Default: silent. */
  logger?: Logger | undefined;
  /** Time (ms) a dial may take before it rejects with ERR_TIMEOUT. */
  connectTimeoutMs?: number | undefined;
  /** Time (ms) a closing handshake may take before the socket is destroyed. */
  closeTimeoutMs?: number | undefined;
  /** Time (ms) an accepted TCP socket may take to complete TLS and the upgrade. */
  upgradeTimeoutMs?: number | undefined;
  /** TCP sockets that may wait for their upgrade at once; a new one evicts the oldest. */
  maxPendingUpgrades?: number | undefined;
  /** Resolves peer hostnames (default: the system resolver); tests inject one. */
  resolve?: Resolver | undefined;
  /** Prefix of connection ids (default: 'ws-' and 6 random hex digits, unique per process). */
  idPrefix?: string | undefined;
}

/** The limits a node passes to its WebSocket transport (every transport limit is overridable). */
export const WS_LIMIT_NAMES = [
  'maxFrameBytes', 'sendHighWaterBytes', 'heartbeatMs', 'connectTimeoutMs', 'closeTimeoutMs', 'upgradeTimeoutMs',
  'maxPendingUpgrades', 'maxConnections', 'maxConnectionsPerAddress', 'maxUnauthenticatedConnections',
  'maxInboundBytesPerConnection', 'maxInboundBytesTotal', 'refusedLogIntervalMs',
] as const satisfies ReadonlyArray<keyof Limits & keyof WsTransportOptions>;

/** Picks the WS_LIMIT_NAMES out of a node's limits. */
export function wsLimitsOf(limits: Limits): Pick<Limits, (typeof WS_LIMIT_NAMES)[number]> {
  return Object.fromEntries(WS_LIMIT_NAMES.map((name) => [name, limits[name]])) as Pick<Limits, (typeof WS_LIMIT_NAMES)[number]>;
}

// `closeTimeout` exists in ws 8.23 but not in @types/ws 8.18.
type WsOptions = ClientOptions & { closeTimeout?: number };

/** Creates a WebSocket transport; nothing listens until listen() is called. */
export function createWsTransport(options: WsTransportOptions): Transport {
  return new WsTransport(options);
}

/**
 * The WebSocket Transport behind createWsTransport().
 *
 * Invariants:
 * 1. Every live connection (inbound and outbound) is in #connections until its socket closed.
 * 2. After close() started, no upgrade is accepted and no dial starts; pending dials are aborted.
 * 3. Connection ids come from this instance's counter, never from module state.
 * 4. Every connection, and every dial in progress, holds an admission slot until its
 *    socket closed (or the dial failed); an upgrade is admitted before ws sees it.
 */
class WsTransport implements Transport {
  readonly #options: WsTransportOptions;
  readonly #log: Logger;
  readonly #idPrefix: string;
  readonly #wss: WebSocketServer;
  readonly #gate: PeerGate;
  readonly #budget: InboundBudget;
  readonly #guard: UpgradeGuard;
  readonly #dialContext: DialContext;
  readonly #connections = new Set<WsConnection>();
  readonly #pendingDials = new Set<AbortController>();
  #server: Server | undefined;
  #abortListen: ((err: Error) => void) | undefined;
  #onConnection: ((connection: Connection) => void) | undefined;
  #nextId = 1;
  #closing: Promise<void> | undefined;

  constructor(options: WsTransportOptions) {
    for (const key of ['maxFrameBytes', 'sendHighWaterBytes', 'heartbeatMs'] as const) {
      if (!(options[key] > 0)) throw new TypeError(`${key} must be a positive number`);
    }
    const limits = commonLimits(options);
    this.#options = options;
    this.#log = (options.logger ?? silentLogger()).child({ component: 'net.ws' });
    this.#idPrefix = options.idPrefix ?? `ws-${randomBytes(3).toString('hex')}`;
    this.#wss = new WebSocketServer({ noServer: true, clientTracking: false, ...this.#wsOptions() });
    this.#gate = new PeerGate(options, limits, this.#log);
    this.#budget = new InboundBudget(limits);
    this.#guard = new UpgradeGuard({
      maxPending: options.maxPendingUpgrades ?? DEFAULT_LIMITS.maxPendingUpgrades,
      timeoutMs: options.upgradeTimeoutMs ?? DEFAULT_LIMITS.upgradeTimeoutMs,
      onDestroyed: (reason, remoteAddress) => this.#gate.refusals.refused(reason, { remoteAddress }),
    });
    this.#dialContext = {
      tls: options.tls, peerToken: options.peerToken, acceptServer: options.acceptServer, trustServer: options.trustServer,
      blockList: options.allowLinkLocal ? undefined : linkLocalBlockList(),
      resolve: options.resolve ?? systemResolver, wsOptions: this.#wsOptions(), log: this.#log,
    };
  }

  /** Starts the HTTP(S) server that accepts upgrades; resolves with `ws://` or `wss://host:port`. */
  async listen(address: { host: string; port: number }): Promise<{ url: string }> {
    if (this.#closing) throw new CrmsyncError('ERR_CLOSED', 'transport is closed');
    if (this.#server) throw new TypeError('listen() was already called');
    const server = createPeerServer({
      tls: this.#options.tls,
      upgradeTimeoutMs: this.#options.upgradeTimeoutMs ?? DEFAULT_LIMITS.upgradeTimeoutMs,
      // Upgraded sockets stay counted by the server: the ceiling is both kinds together.
      maxSockets: (this.#options.maxConnections ?? DEFAULT_LIMITS.maxConnections) + (this.#options.maxPendingUpgrades ?? DEFAULT_LIMITS.maxPendingUpgrades),
    });
    this.#server = server;
    server.on('connection', (socket: Socket) => this.#guard.accepted(socket));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(req, socket, head));
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      // A socket the guard destroyed also fails its handshake; it was counted there.
      if (this.#guard.isPending(socket)) this.#gate.refusals.refused('tls', { remoteAddress: socket.remoteAddress, code: err.code });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const settle = (err?: Error): void => {
          server.off('error', settle).off('listening', settle);
          this.#abortListen = undefined;
          if (err) reject(err);
          else resolve();
        };
        this.#abortListen = settle;
        server.once('error', settle).once('listening', settle);
        server.listen(address.port, address.host);
      });
    } catch (err) {
      if (!this.#closing) this.#server = undefined; // e.g. EADDRINUSE: the caller may retry on another port
      throw err;
    }
    if (this.#closing) throw new CrmsyncError('ERR_CLOSED', 'transport closed while listening');
    server.on('error', (err: NodeJS.ErrnoException) => this.#log.warn({ code: err.code }, 'listener error'));
    const bound = server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    this.#log.info({ port, tls: this.#options.tls !== undefined }, 'listening');
    return { url: `${this.#options.tls ? 'wss' : 'ws'}://${host}:${port}` };
  }

  /** Registers the handler for accepted connections (the last one registered wins). */
  onConnection(handler: (connection: Connection) => void): void {
    this.#onConnection = handler;
  }

  /** Dials `url`; rejects with ERR_UNAUTHORIZED, ERR_BUSY, ERR_VALIDATION, ERR_TIMEOUT (timeout or abort), ERR_CLOSED or a network error. */
  async dial(url: string, options: { signal?: AbortSignal } = {}): Promise<Connection> {
    if (this.#closing) throw new CrmsyncError('ERR_CLOSED', 'transport is closed');
    const { signal } = options;
    if (signal?.aborted) throw new CrmsyncError('ERR_TIMEOUT', 'dial aborted', { cause: signal.reason });
    const target = parsePeerUrl(url);
    const slot = this.#gate.admitOutbound();
    if (!slot) throw new CrmsyncError('ERR_BUSY', 'at maxConnections; not dialing');
    const attempt = new AbortController();
    const timeoutMs = this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const timer = setTimeout(() => attempt.abort(new CrmsyncError('ERR_TIMEOUT', `dial timed out after ${timeoutMs} ms`)), timeoutMs);
    const onAbort = (): void => attempt.abort(new CrmsyncError('ERR_TIMEOUT', 'dial aborted', { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#pendingDials.add(attempt);
    try {
      return await dialWebSocket(target, this.#dialContext, attempt.signal, (ws, identity) => this.#adopt(ws, 'outbound', target.host, identity, slot));
    } catch (err) {
      slot.release();
      this.#log.debug({ code: (err as { code?: unknown }).code }, 'dial failed');
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.#pendingDials.delete(attempt);
    }
  }

  /** Current counters. */
  stats(): TransportStats {
    return transportStats({ connections: this.#connections.size, gate: this.#gate, budget: this.#budget, pendingUpgrades: this.#guard.pending });
  }

  /** Closes the listener and every connection (code goingAway); resolves when all are closed. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    for (const attempt of [...this.#pendingDials]) attempt.abort(new CrmsyncError('ERR_CLOSED', 'transport closed during dial'));
    this.#abortListen?.(new CrmsyncError('ERR_CLOSED', 'transport closed while listening'));
    const server = this.#server;
    const serverClosed = server ? closeServer(server) : Promise.resolve();
    this.#guard.destroyAll();
    for (const connection of this.#connections) connection.close(CloseCode.goingAway, 'transport closing');
    await Promise.all([...this.#connections].map((c) => c.closed));
    // Sockets that never reached the guard (still in TLS) would hold server.close() open.
    server?.closeAllConnections();
    await serverClosed;
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    this.#log.info('transport closed');
  }

  #wsOptions(): WsOptions {
    return {
      maxPayload: this.#options.maxFrameBytes,
      perMessageDeflate: false,
      closeTimeout: this.#options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
    };
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#guard.upgraded(req.socket);
    // Until ws takes the socket over, a reset here would be an unhandled 'error'.
    const onSocketError = (err: NodeJS.ErrnoException): void => this.#log.debug({ code: err.code }, 'upgrade socket error');
    socket.on('error', onSocketError);
    const remoteAddress = normalizeAddress(req.socket.remoteAddress ?? '?');
    const identity = tlsIdentityOf(req.socket);
    const header = req.headers.authorization;
    const verdict = this.#gate.admitInbound({
      remoteAddress, peerKey: identity.peerKey, closing: this.#closing !== undefined,
      token: header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined,
    });
    if (!verdict.ok) {
      refuseUpgrade(socket, verdict.status, verdict.reason === 'token');
      return;
    }
    const { slot } = verdict;
    // handleUpgrade may drop a socket that died meanwhile without calling back.
    const releaseIfDropped = (): void => slot.release();
    socket.once('close', releaseIfDropped);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('error', onSocketError).off('close', releaseIfDropped);
      const remote = `${remoteAddress}:${req.socket.remotePort ?? '?'}`;
      const connection = this.#adopt(ws, 'inbound', remote, identity, slot);
      if (!this.#onConnection) {
        this.#log.warn('no connection handler registered; closing inbound connection');
        connection.close(CloseCode.internalError, 'not ready');
        return;
      }
      try {
        this.#onConnection(connection);
      } catch (err) {
        // Thrown inside a socket event, this would crash the process.
        this.#log.error({ err }, 'connection handler threw');
        connection.close(CloseCode.internalError, 'internal error');
      }
    });
  }

  #adopt(ws: WebSocket, direction: 'inbound' | 'outbound', remoteAddress: string, identity: TlsIdentity, slot: Slot): WsConnection {
    const connection = new WsConnection(ws, {
      id: `${this.#idPrefix}#${this.#nextId++}`,
      direction,
      remoteAddress,
      maxFrameBytes: this.#options.maxFrameBytes,
      sendHighWaterBytes: this.#options.sendHighWaterBytes,
      heartbeatMs: this.#options.heartbeatMs,
      logger: this.#log,
      peerKey: identity.peerKey,
      channelBinding: identity.channelBinding,
      budget: this.#budget,
      slot,
    });
    this.#connections.add(connection);
    void connection.closed.then(() => this.#connections.delete(connection));
    // A connection accepted while close() runs would otherwise outlive the transport.
    if (this.#closing) connection.close(CloseCode.goingAway, 'transport closing');
    return connection;
  }
}
