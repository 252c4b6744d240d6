/**
 * The production Transport over WebSockets (`ws`). Peers are authenticated in the
 * HTTP upgrade, so a rejected peer never gets a socket; frames are binary and bounded
 * by maxFrameBytes on both sides; compression is off (it costs CPU and opens
 * decompression-bomb attacks for small, already-dense frames).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { CrmsyncError } from '../errors.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { silentLogger, type Logger } from '../log.js';
import { CloseCode, type Connection, type Transport, type TransportOptions } from './transport.js';
import { WsConnection } from './ws-connection.js';

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
  /** Prefix of connection ids (default: 'ws-' and 6 random hex digits, unique per process). */
  idPrefix?: string | undefined;
}

// `closeTimeout` exists in ws 8.23 but not in @types/ws 8.18.
type WsOptions = ClientOptions & { closeTimeout?: number };

/** Creates a WebSocket transport; nothing listens until listen() is called. */
export function createWsTransport(options: WsTransportOptions): Transport {
  return new WsTransport(options);
}

/** Hashes a token so timingSafeEqual always compares equal lengths and leaks no length. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Ends an upgrade request with a bare HTTP status; the socket is destroyed once written. */
function refuseUpgrade(socket: Duplex, status: 401 | 503): void {
  const text = status === 401 ? 'Unauthorized' : 'Service Unavailable';
  const extra = status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '';
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${extra}Content-Length: 0\r\n\r\n`);
}

/** Stops `server`; a bind still in progress (a hostname being resolved) is closed when it completes. */
function closeServer(server: Server): Promise<void> {
  // Node drops 'listening' for a server closed before it bound, but only when no DNS
  // lookup was pending; after a lookup the bind still happens, so catch it here.
  if (!server.listening) server.once('listening', () => server.close());
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * The WebSocket Transport behind createWsTransport().
 *
 * Invariants:
 * 1. Every live connection (inbound and outbound) is in #connections until its socket closed.
 * 2. After close() started, no upgrade is accepted and no dial starts; pending dials are aborted.
 * 3. Connection ids come from this instance's counter, never from module state.
 */
class WsTransport implements Transport {
  readonly #options: WsTransportOptions;
  readonly #log: Logger;
  readonly #tokenDigest: Buffer | undefined;
  readonly #idPrefix: string;
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<WsConnection>();
  readonly #pendingDials = new Set<(err: Error) => void>();
  #server: Server | undefined;
  #abortListen: ((err: Error) => void) | undefined;
  #onConnection: ((connection: Connection) => void) | undefined;
  #nextId = 1;
  #closing: Promise<void> | undefined;

  constructor(options: WsTransportOptions) {
    for (const key of ['maxFrameBytes', 'sendHighWaterBytes', 'heartbeatMs'] as const) {
      if (!(options[key] > 0)) throw new TypeError(`${key} must be a positive number`);
    }
    this.#options = options;
    this.#log = (options.logger ?? silentLogger()).child({ component: 'net.ws' });
    this.#tokenDigest = options.peerToken === undefined ? undefined : digest(options.peerToken);
    this.#idPrefix = options.idPrefix ?? `ws-${randomBytes(3).toString('hex')}`;
    this.#wss = new WebSocketServer({ noServer: true, clientTracking: false, ...this.#wsOptions() });
  }

  /** Starts the HTTP server that accepts upgrades; resolves with `ws://host:port`. */
  async listen(address: { host: string; port: number }): Promise<{ url: string }> {
    if (this.#closing) throw new CrmsyncError('ERR_CLOSED', 'transport is closed');
    if (this.#server) throw new TypeError('listen() was already called');
    const server = createServer((_req, res) => {
      res.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close' }).end('Upgrade Required');
    });
    this.#server = server;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(req, socket, head));
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
    this.#log.info({ port }, 'listening');
    return { url: `ws://${host}:${port}` };
  }

  /** Registers the handler for accepted connections (the last one registered wins). */
  onConnection(handler: (connection: Connection) => void): void {
    this.#onConnection = handler;
  }

  /** Dials `url`; rejects with ERR_UNAUTHORIZED (401), ERR_TIMEOUT (timeout or abort), ERR_CLOSED or a network error. */
  dial(url: string, options: { signal?: AbortSignal } = {}): Promise<Connection> {
    if (this.#closing) return Promise.reject(new CrmsyncError('ERR_CLOSED', 'transport is closed'));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new CrmsyncError('ERR_TIMEOUT', 'dial aborted', { cause: signal.reason }));
    const headers: Record<string, string> = {};
    if (this.#options.peerToken !== undefined) headers.Authorization = `Bearer ${this.#options.peerToken}`;
    return new Promise<Connection>((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(url, { ...this.#wsOptions(), headers, followRedirects: false });
      } catch (err) {
        reject(err); // an invalid URL: ws throws synchronously
        return;
      }
      let settled = false;
      const timeoutMs = this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      const timer = setTimeout(() => fail(new CrmsyncError('ERR_TIMEOUT', `dial timed out after ${timeoutMs} ms`)), timeoutMs);
      const onAbort = (): void => fail(new CrmsyncError('ERR_TIMEOUT', 'dial aborted', { cause: signal?.reason }));
      const finish = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#pendingDials.delete(fail);
        return true;
      };
      const fail = (err: Error): void => {
        if (!finish()) return;
        ws.terminate(); // emits 'error' and 'close' later; the listeners below swallow them
        reject(err);
      };
      this.#pendingDials.add(fail);
      signal?.addEventListener('abort', onAbort, { once: true });
      ws.on('error', (err: NodeJS.ErrnoException) => {
        if (!settled) this.#log.debug({ code: err.code }, 'dial failed');
        fail(err);
      });
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        fail(res.statusCode === 401
          ? new CrmsyncError('ERR_UNAUTHORIZED', 'the peer refused our token')
          : new Error(`unexpected HTTP status ${String(res.statusCode)} from peer`));
      });
      ws.once('open', () => {
        if (!finish()) return;
        ws.removeAllListeners('error').removeAllListeners('unexpected-response');
        resolve(this.#adopt(ws, 'outbound', new URL(url).host));
      });
    });
  }

  /** Closes the listener and every connection (code goingAway); resolves when all are closed. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    for (const fail of [...this.#pendingDials]) fail(new CrmsyncError('ERR_CLOSED', 'transport closed during dial'));
    this.#abortListen?.(new CrmsyncError('ERR_CLOSED', 'transport closed while listening'));
    const server = this.#server;
    const serverClosed = server ? closeServer(server) : Promise.resolve();
    for (const connection of this.#connections) connection.close(CloseCode.goingAway, 'transport closing');
    await Promise.all([...this.#connections].map((c) => c.closed));
    // Sockets that never completed an upgrade (slow or silent clients) would hold
    // server.close() open until Node's request timeouts; peers are closed by now.
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
    // Until ws takes the socket over, a reset here would be an unhandled 'error'.
    const onSocketError = (err: NodeJS.ErrnoException): void => this.#log.debug({ code: err.code }, 'upgrade socket error');
    socket.on('error', onSocketError);
    if (this.#closing) {
      refuseUpgrade(socket, 503);
      return;
    }
    if (!this.#authorized(req.headers.authorization)) {
      this.#log.warn({ remoteAddress: req.socket.remoteAddress }, 'peer refused: bad or missing token');
      refuseUpgrade(socket, 401);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('error', onSocketError);
      const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
      const connection = this.#adopt(ws, 'inbound', remote);
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

  #authorized(header: string | undefined): boolean {
    if (!this.#tokenDigest) return true;
    const presented = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    if (presented === undefined) return false;
    return timingSafeEqual(digest(presented), this.#tokenDigest);
  }

  #adopt(ws: WebSocket, direction: 'inbound' | 'outbound', remoteAddress: string): WsConnection {
    const connection = new WsConnection(ws, {
      id: `${this.#idPrefix}#${this.#nextId++}`,
      direction,
      remoteAddress,
      maxFrameBytes: this.#options.maxFrameBytes,
      sendHighWaterBytes: this.#options.sendHighWaterBytes,
      heartbeatMs: this.#options.heartbeatMs,
      logger: this.#log,
    });
    this.#connections.add(connection);
    void connection.closed.then(() => this.#connections.delete(connection));
    // A connection accepted while close() runs would otherwise outlive the transport.
    if (this.#closing) connection.close(CloseCode.goingAway, 'transport closing');
    return connection;
  }
}
