/**
 * One endpoint of an in-memory connection. Endpoints never touch each other directly:
 * every frame and close travels as a Packet through the network, which decides when
 * (and in manual mode whether, and how often) it arrives.
 */
import type { Slot } from './admission.js';
import type { InboundBudget, InboundMeter } from './flow-control.js';
import { CloseCode, type Connection, type ConnectionHandlers } from './transport.js';
import {
  DrainWaiters, HandlerSlot, MAX_EARLY_FRAME_FACTOR, assertCloseCode, truncateReason,
} from './connection-support.js';

/** A frame or a close on its way from one endpoint to the other. */
export type Packet =
  | { kind: 'frame'; from: MemoryConnection; to: MemoryConnection; frame: Uint8Array }
  | { kind: 'close'; from: MemoryConnection; to: MemoryConnection; code: number; reason: string };

/** Settings of one endpoint. */
export interface MemoryConnectionSettings {
  id: string;
  direction: 'inbound' | 'outbound';
  /** Name of the transport owning this endpoint. */
  localName: string;
  remoteAddress: string;
  maxFrameBytes: number;
  sendHighWaterBytes: number;
  /** Puts a packet on the wire. */
  enqueue(packet: Packet): void;
  /** Called once when this endpoint stops being open. */
  onClosed(connection: MemoryConnection): void;
  /** This endpoint reads again after a flow-control pause: held packets may move. */
  onReadable(): void;
  /** Identity as TLS would report it (see MemoryNetwork.transport). */
  peerKey: Uint8Array | undefined;
  channelBinding: Uint8Array | undefined;
  /** The owning transport's inbound byte budget. */
  budget: InboundBudget;
  /** This endpoint's admission slot, released when it closes. */
  slot: Slot;
}

/**
 * One end of an in-memory connection.
 *
 * Invariants:
 * 1. bufferedAmount is the byte count of this endpoint's frames still on the wire
 *    (duplicates included), so backpressure reflects what the network holds.
 * 2. Nothing is enqueued once the endpoint is closed.
 * 3. onClose fires exactly once (HandlerSlot); for a local close() it fires in a
 *    microtask so the caller of close() is never re-entered.
 * 4. While the meter pauses reading, `readable` is false and an auto network holds the
 *    packets addressed here (still counted in the sender's bufferedAmount: backpressure).
 */
export class MemoryConnection implements Connection {
  readonly id: string;
  readonly direction: 'inbound' | 'outbound';
  readonly remoteAddress: string;
  readonly localName: string;
  readonly peerKey: Uint8Array | undefined;
  readonly channelBinding: Uint8Array | undefined;
  /** The other endpoint; set by the network right after both are created. */
  peer!: MemoryConnection;

  readonly #settings: MemoryConnectionSettings;
  readonly #slot: HandlerSlot;
  readonly #drain = new DrainWaiters();
  readonly #meter: InboundMeter;
  #readPaused = false;
  #open = true;
  #inFlightBytes = 0;

  constructor(settings: MemoryConnectionSettings) {
    this.id = settings.id;
    this.direction = settings.direction;
    this.remoteAddress = settings.remoteAddress;
    this.localName = settings.localName;
    this.peerKey = settings.peerKey;
    this.channelBinding = settings.channelBinding;
    this.#settings = settings;
    this.#meter = settings.budget.meter({
      pause: () => { this.#readPaused = true; },
      resume: () => { this.#readPaused = false; settings.onReadable(); },
    });
    this.#slot = new HandlerSlot({
      maxEarlyBytes: settings.maxFrameBytes * MAX_EARLY_FRAME_FACTOR,
      onEarlyOverflow: () => this.close(CloseCode.policyViolation, 'too many frames before handlers'),
      onHandlerError: () => this.close(CloseCode.internalError, 'internal error'),
    });
  }

  /** True until close() is called or the link goes away. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** False while flow control pauses reading (invariant 4). */
  get readable(): boolean {
    return !this.#readPaused;
  }

  /** Bytes this endpoint sent that are still on the wire. */
  get bufferedAmount(): number {
    return this.#inFlightBytes;
  }

  /** Installs the handlers and delivers frames that arrived before. Once only. */
  setHandlers(handlers: ConnectionHandlers): void {
    this.#slot.install(handlers);
  }

  /** Puts a copy of `frame` on the wire; false when closed or above the high-water mark. */
  send(frame: Uint8Array): boolean {
    if (!this.#open) return false;
    // Copy, as a socket would: the caller may reuse its buffer once send() returns.
    const copy = frame.slice();
    this.#inFlightBytes += copy.byteLength;
    this.#settings.enqueue({ kind: 'frame', from: this, to: this.peer, frame: copy });
    return this.#inFlightBytes <= this.#settings.sendHighWaterBytes;
  }

  /** Resolves once bufferedAmount is at or below the high-water mark, or on close. */
  drained(): Promise<void> {
    if (!this.#open || this.#inFlightBytes <= this.#settings.sendHighWaterBytes) return Promise.resolve();
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

  /** Closes locally and sends a close packet to the peer; idempotent. */
  close(code: number, reason: string): void {
    assertCloseCode(code);
    if (!this.#open) return;
    const cut = truncateReason(reason);
    this.#finish();
    queueMicrotask(() => this.#slot.closed(code, cut));
    this.#settings.enqueue({ kind: 'close', from: this, to: this.peer, code, reason: cut });
  }

  /** Network only: adjusts the bytes on the wire (a frame delivered, dropped or duplicated). */
  adjustInFlight(delta: number): void {
    this.#inFlightBytes += delta;
    if (this.#inFlightBytes <= this.#settings.sendHighWaterBytes) this.#drain.release();
  }

  /** Network only: a packet arrives. Packets for a closed endpoint vanish. */
  receive(packet: Packet): void {
    if (!this.#open) return;
    if (packet.kind === 'close') {
      this.sever(packet.code, packet.reason);
      return;
    }
    // The receiver enforces its own limit, as ws's maxPayload does.
    if (packet.frame.byteLength > this.#settings.maxFrameBytes) {
      this.close(CloseCode.frameTooLarge, 'frame too large');
      return;
    }
    this.#meter.received(packet.frame.byteLength);
    this.#slot.frame(packet.frame);
  }

  /** Network only: the link is gone (peer's close, partition, crash); no close packet is sent. */
  sever(code: number, reason: string): void {
    if (!this.#open) return;
    this.#finish();
    this.#slot.closed(code, reason);
  }

  #finish(): void {
    this.#open = false;
    this.#drain.release();
    this.#meter.release();
    this.#settings.slot.release();
    this.#settings.onClosed(this);
    if (this.#readPaused) {
      this.#readPaused = false;
      this.#settings.onReadable(); // held packets now reach a closed endpoint and vanish
    }
  }
}
