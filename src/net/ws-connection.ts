/**
 * One WebSocket wrapped as a Connection: binary frames only, a ping/pong heartbeat,
 * bufferedAmount backpressure, inbound flow control (the socket is paused while the
 * owner is behind) and a single onClose carrying the code that explains the close
 * (ours if we closed, the peer's otherwise).
 */
import { WebSocket, type RawData } from 'ws';
import type { Logger } from '../log.js';
import type { Slot } from './admission.js';
import type { InboundBudget, InboundMeter } from './flow-control.js';
import { CloseCode, type Connection, type ConnectionHandlers } from './transport.js';
import {
  DrainWaiters, HandlerSlot, MAX_EARLY_FRAME_FACTOR, asUint8Array, assertCloseCode, truncateReason,
} from './connection-support.js';

/** Settings a WsConnection needs from its transport. */
export interface WsConnectionSettings {
  id: string;
  direction: 'inbound' | 'outbound';
  remoteAddress: string;
  maxFrameBytes: number;
  sendHighWaterBytes: number;
  heartbeatMs: number;
  logger: Logger;
  /** Peer identity from TLS (undefined on plain ws). */
  peerKey: Uint8Array | undefined;
  channelBinding: Uint8Array | undefined;
  /** The transport's inbound byte budget (flow control). */
  budget: InboundBudget;
  /** This connection's admission slot, released when the socket closes. */
  slot: Slot;
}

// ws reports receiver errors with these codes; the close code it sends to the peer is
// on a private symbol, so we map the public error code to the same close code.
const RECEIVER_ERROR_CLOSE_CODES: Record<string, number> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: CloseCode.frameTooLarge,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: CloseCode.frameTooLarge,
  WS_ERR_TOO_MANY_BUFFERED_PARTS: CloseCode.policyViolation,
  WS_ERR_INVALID_UTF8: 1007,
};

/** The close code ws sent for a receiver error, or undefined for socket-level errors. */
function closeCodeForError(err: { code?: unknown }): number | undefined {
  const code = typeof err.code === 'string' ? err.code : '';
  if (!code.startsWith('WS_ERR_')) return undefined;
  return RECEIVER_ERROR_CLOSE_CODES[code] ?? CloseCode.protocolError;
}

/**
 * A Connection over an open `ws` WebSocket.
 *
 * Invariants:
 * 1. Nothing is sent once close() ran, an error closed the socket, or the peer closed.
 * 2. onClose fires exactly once, when the socket is fully closed (HandlerSlot).
 * 3. The reported code is the first local reason (close(), protocol error, heartbeat),
 *    else the code in the peer's close frame.
 * 4. drained() never hangs: waiters are released on every completed write and on close.
 * 5. Only a pong proves the peer alive: a peer that sends data but never answers pings
 *    is terminated at the second heartbeat. While we do not read (flow control), pongs
 *    cannot arrive, so the check waits until reading resumes.
 * 6. The socket is read only while the meter allows it, and always once we close (to
 *    receive the peer's close frame); the meter and the slot are released at close.
 */
export class WsConnection implements Connection {
  readonly id: string;
  readonly direction: 'inbound' | 'outbound';
  readonly remoteAddress: string;
  readonly peerKey: Uint8Array | undefined;
  readonly channelBinding: Uint8Array | undefined;
  /** Resolves when the underlying socket has closed (the transport's close() awaits it). */
  readonly closed: Promise<void>;

  readonly #ws: WebSocket;
  readonly #settings: WsConnectionSettings;
  readonly #log: Logger;
  readonly #slot: HandlerSlot;
  readonly #drain = new DrainWaiters();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #meter: InboundMeter;
  #localClose: { code: number; reason: string } | undefined;
  #awaitingPong = false;
  #socketClosed = false;
  #resolveClosed!: () => void;

  constructor(ws: WebSocket, settings: WsConnectionSettings) {
    this.id = settings.id;
    this.direction = settings.direction;
    this.remoteAddress = settings.remoteAddress;
    this.peerKey = settings.peerKey;
    this.channelBinding = settings.channelBinding;
    this.#ws = ws;
    this.#settings = settings;
    this.#log = settings.logger.child({ conn: settings.id });
    this.closed = new Promise((resolve) => { this.#resolveClosed = resolve; });
    this.#slot = new HandlerSlot({
      maxEarlyBytes: settings.maxFrameBytes * MAX_EARLY_FRAME_FACTOR,
      onEarlyOverflow: () => this.#closeLocally(CloseCode.policyViolation, 'too many frames before handlers'),
      onHandlerError: (err, phase) => {
        this.#log.error({ err, phase }, 'connection handler threw');
        this.#closeLocally(CloseCode.internalError, 'internal error');
      },
    });
    this.#meter = settings.budget.meter({ pause: () => ws.pause(), resume: () => ws.resume() });
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('pong', () => { this.#awaitingPong = false; });
    ws.on('error', (err) => this.#onError(err));
    ws.on('close', (code, reason) => this.#onSocketClose(code, reason));
    this.#heartbeat = setInterval(() => this.#beat(), settings.heartbeatMs);
    this.#heartbeat.unref(); // the socket, not the timer, decides whether the process stays up
    this.#log.debug({ direction: this.direction }, 'connection open');
  }

  /** True until close() is called or the peer goes away. */
  get isOpen(): boolean {
    return this.#localClose === undefined && !this.#socketClosed && this.#ws.readyState === WebSocket.OPEN;
  }

  /** Bytes queued in ws and the socket but not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /** Installs the handlers and delivers frames that arrived before. Once only. */
  setHandlers(handlers: ConnectionHandlers): void {
    this.#slot.install(handlers);
  }

  /** Queues one binary frame; false when closed or above the high-water mark. */
  send(frame: Uint8Array): boolean {
    if (!this.isOpen) return false;
    this.#ws.send(frame, { binary: true }, this.#onWritten);
    return this.#ws.bufferedAmount <= this.#settings.sendHighWaterBytes;
  }

  /** Resolves once bufferedAmount is at or below the high-water mark, or on close. */
  drained(): Promise<void> {
    if (!this.isOpen || this.#ws.bufferedAmount <= this.#settings.sendHighWaterBytes) return Promise.resolve();
    return this.#drain.wait();
  }

  /** The owner processed `bytes` of received frames; reading resumes once below the limits. */
  processed(bytes: number): void {
    this.#meter.processed(bytes);
  }

  /** The owner authenticated the peer (admission stops counting it as unauthenticated). */
  authenticated(): void {
    this.#settings.slot.authenticated();
  }

  /** Starts the closing handshake with `code`; idempotent. */
  close(code: number, reason: string): void {
    assertCloseCode(code);
    if (!this.isOpen) return;
    this.#closeLocally(code, reason);
  }

  // Every send carries this callback; ws calls it once the frame left the socket
  // buffer, which is exactly when bufferedAmount can have dropped (no polling needed).
  readonly #onWritten = (): void => {
    if (this.#ws.bufferedAmount <= this.#settings.sendHighWaterBytes) this.#drain.release();
  };

  #closeLocally(code: number, reason: string): void {
    if (this.#localClose || this.#socketClosed) return;
    this.#localClose = { code, reason };
    this.#stopReading();
    // If ws is already closing (the peer's close frame or an error came first), its
    // own close() is a no-op that would not send our code anyway.
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(code, truncateReason(reason));
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (!this.isOpen) return;
    // Data does not count as liveness (invariant 5): a peer that keeps sending but
    // never answers pings may be a stuck or hostile peer, not a healthy one.
    if (!isBinary) {
      this.#log.warn({ code: CloseCode.protocolError }, 'text frame from peer; closing');
      this.#closeLocally(CloseCode.protocolError, 'text frames are not allowed');
      return;
    }
    // binaryType 'nodebuffer' always yields a single Buffer.
    const frame = asUint8Array(data as Buffer);
    this.#meter.received(frame.byteLength);
    this.#slot.frame(frame);
  }

  #onError(err: Error & { code?: unknown }): void {
    const closeCode = closeCodeForError(err);
    const code = typeof err.code === 'string' ? err.code : 'UNKNOWN';
    if (closeCode === undefined) {
      this.#log.debug({ code }, 'socket error');
      return; // ws closes the socket itself; 'close' follows
    }
    this.#log.warn({ code, closeCode }, 'invalid frame from peer; closing');
    // ws already sent a close frame with closeCode; record it as our reason.
    if (!this.#localClose && !this.#socketClosed) {
      this.#localClose = { code: closeCode, reason: closeCode === CloseCode.frameTooLarge ? 'frame too large' : 'protocol error' };
      this.#stopReading();
    }
  }

  #beat(): void {
    if (!this.isOpen) return;
    if (this.#meter.paused) {
      this.#awaitingPong = false; // its pong may sit unread behind the frames we are not reading (invariant 5)
      return;
    }
    if (this.#awaitingPong) {
      this.#log.warn({ heartbeatMs: this.#settings.heartbeatMs }, 'peer missed heartbeat; terminating');
      this.#localClose = { code: CloseCode.heartbeatTimeout, reason: 'heartbeat timeout' };
      this.#stopReading();
      this.#ws.terminate(); // a dead peer would never finish a closing handshake
      return;
    }
    this.#awaitingPong = true;
    this.#ws.ping();
  }

  #onSocketClose(code: number, reason: Buffer): void {
    this.#socketClosed = true;
    this.#stopReading();
    this.#settings.slot.release();
    const close = this.#localClose ?? { code, reason: reason.toString('utf8') };
    this.#log.debug({ code: close.code, local: this.#localClose !== undefined }, 'connection closed');
    this.#slot.closed(close.code, close.reason);
    this.#resolveClosed();
  }

  /** Ends the heartbeat, the flow control and the drain waits: the connection is closing (invariant 6). */
  #stopReading(): void {
    clearInterval(this.#heartbeat);
    this.#drain.release();
    const paused = this.#meter.paused;
    this.#meter.release();
    if (paused) this.#ws.resume();
  }
}
