/**
 * Pieces shared by every Connection implementation: the handler slot that buffers
 * early frames and guarantees a single onClose, the drain waiters, and close-code
 * validation. Keeping them here is what makes both transports behave identically.
 */
import { DEFAULT_LIMITS, FIXED } from '../limits.js';
import type { AdmissionLimits } from './admission.js';
import type { InboundLimits } from './flow-control.js';
import type { ConnectionHandlers, TransportOptions } from './transport.js';

/** Most frames buffered before setHandlers(); beyond it the connection is closed. */
export const MAX_EARLY_FRAMES = FIXED.maxEarlyFrames;

/** Factor of maxFrameBytes buffered before setHandlers(); beyond it the connection is closed. */
export const MAX_EARLY_FRAME_FACTOR = FIXED.earlyFrameBytesFactor;

/** Longest close reason in bytes (RFC 6455: a close frame's payload is at most 125 bytes). */
export const MAX_CLOSE_REASON_BYTES = FIXED.maxCloseReasonBytes;

/** The limits both transports enforce, with DEFAULT_LIMITS for those left out. */
export interface CommonLimits extends AdmissionLimits, InboundLimits {
  refusedLogIntervalMs: number;
}

/** Resolves the optional limits of `options` against DEFAULT_LIMITS. */
export function commonLimits(options: TransportOptions): CommonLimits {
  return {
    maxConnections: options.maxConnections ?? DEFAULT_LIMITS.maxConnections,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? DEFAULT_LIMITS.maxConnectionsPerAddress,
    maxUnauthenticatedConnections: options.maxUnauthenticatedConnections ?? DEFAULT_LIMITS.maxUnauthenticatedConnections,
    maxInboundBytesPerConnection: options.maxInboundBytesPerConnection ?? DEFAULT_LIMITS.maxInboundBytesPerConnection,
    maxInboundBytesTotal: options.maxInboundBytesTotal ?? DEFAULT_LIMITS.maxInboundBytesTotal,
    refusedLogIntervalMs: options.refusedLogIntervalMs ?? DEFAULT_LIMITS.refusedLogIntervalMs,
  };
}

/** Throws a TypeError unless `code` may be sent in a close frame (RFC 6455 section 7.4). */
export function assertCloseCode(code: number): void {
  const ok = Number.isInteger(code) &&
    ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
      (code >= 3000 && code <= 4999));
  if (!ok) throw new TypeError(`invalid close code ${String(code)}`);
}

/** Cuts a close reason to what fits in a close frame, without splitting a character. */
export function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES) return reason;
  let cut = reason.slice(0, MAX_CLOSE_REASON_BYTES);
  while (Buffer.byteLength(cut) > MAX_CLOSE_REASON_BYTES) cut = cut.slice(0, -1);
  return cut;
}

/** What a HandlerSlot needs from its connection. */
export interface HandlerSlotOwner {
  /** Bytes that may wait for setHandlers() before the connection is closed. */
  readonly maxEarlyBytes: number;
  /** Too many early frames: the owner closes with policyViolation. */
  onEarlyOverflow(): void;
  /** A handler threw (a bug in the owner's code): the owner closes with internalError. */
  onHandlerError(err: unknown, phase: 'frame' | 'close'): void;
}

/**
 * Holds a connection's handlers.
 *
 * Invariants:
 * 1. Frames reach onFrame in arrival order, including those buffered before install().
 * 2. onClose is called exactly once, after every frame that is delivered.
 * 3. No frame is delivered after onClose.
 * 4. At most MAX_EARLY_FRAMES frames / maxEarlyBytes bytes wait for install().
 */
export class HandlerSlot {
  #handlers: ConnectionHandlers | undefined;
  #early: Uint8Array[] = [];
  #earlyBytes = 0;
  #close: { code: number; reason: string } | undefined;
  #closeDelivered = false;
  readonly #owner: HandlerSlotOwner;

  constructor(owner: HandlerSlotOwner) {
    this.#owner = owner;
  }

  /** True once install() ran. */
  get installed(): boolean {
    return this.#handlers !== undefined;
  }

  /** Installs the handlers, then delivers buffered frames and a pending close (invariant 1). */
  install(handlers: ConnectionHandlers): void {
    if (this.#handlers) throw new TypeError('setHandlers() may be called only once');
    this.#handlers = handlers;
    const early = this.#early;
    this.#early = [];
    this.#earlyBytes = 0;
    for (const frame of early) {
      if (this.#closeDelivered) return; // a handler closed the connection (invariant 3)
      this.#callFrame(handlers, frame);
    }
    if (this.#close && !this.#closeDelivered) this.#deliverClose(handlers);
  }

  /** Delivers or buffers one received frame; ignored once the close is known. */
  frame(frame: Uint8Array): void {
    if (this.#close) return;
    if (this.#handlers) {
      this.#callFrame(this.#handlers, frame);
      return;
    }
    this.#early.push(frame);
    this.#earlyBytes += frame.byteLength;
    if (this.#early.length > MAX_EARLY_FRAMES || this.#earlyBytes > this.#owner.maxEarlyBytes) {
      this.#early = [];
      this.#earlyBytes = 0;
      this.#owner.onEarlyOverflow();
    }
  }

  /** Records the close; the first call wins (invariant 2). */
  closed(code: number, reason: string): void {
    if (this.#close) return;
    this.#close = { code, reason };
    if (this.#handlers) this.#deliverClose(this.#handlers);
  }

  #callFrame(handlers: ConnectionHandlers, frame: Uint8Array): void {
    try {
      handlers.onFrame(frame);
    } catch (err) {
      this.#owner.onHandlerError(err, 'frame');
    }
  }

  #deliverClose(handlers: ConnectionHandlers): void {
    const close = this.#close;
    if (!close) return;
    this.#closeDelivered = true;
    try {
      handlers.onClose(close.code, close.reason);
    } catch (err) {
      this.#owner.onHandlerError(err, 'close');
    }
  }
}

/** Promises waiting for a send buffer to drain; all released together. */
export class DrainWaiters {
  #waiters: Array<() => void> = [];

  /** A promise resolved by the next release(). */
  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Resolves every pending wait(). */
  release(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** A zero-copy plain Uint8Array view, so both transports hand out the same type. */
export function asUint8Array(data: Uint8Array): Uint8Array {
  return data.constructor === Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
