/**
 * The wire protocol: one discriminated union, parsed once at the boundary (codec.ts).
 * Byte-level description in PROTOCOL.md. Every `switch` over `Message['type']` is
 * exhaustive.
 */
import type { ChangeEntry } from '../crdt/change-entry.js';
import type { WireClock } from '../crdt/origin-clock.js';

/** Protocol version spoken by this build; peers with another version are refused. */
export const PROTOCOL_VERSION = 1;

/** First message on every connection, both directions: who I am and what I hold. */
export interface HelloMessage {
  type: 'hello';
  protocol: number;
  node: string;
  clock: WireClock;
}

/** A batch of change entries in the sender's log order (which respects causality). */
export interface ChangesMessage {
  type: 'changes';
  /** Stream epoch chosen by the receiver (see resync); stale epochs are ignored. */
  epoch: number;
  /** Sender's batch counter, echoed back in the ack. */
  batch: number;
  entries: ChangeEntry[];
}

/** The receiver made a batch durable; `clock` holds its entries for the batch's origins. */
export interface AckMessage {
  type: 'ack';
  batch: number;
  clock: WireClock;
}

/** Unprompted news: the sender now holds these (received from someone else). */
export interface HaveMessage {
  type: 'have';
  clock: WireClock;
}

/** The receiver saw a gap; the sender restarts the stream from `clock` with `epoch`. */
export interface ResyncMessage {
  type: 'resync';
  epoch: number;
  clock: WireClock;
}

/** Sent just before closing for a reason the peer should log. */
export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

/** Every message of the protocol. */
export type Message = HelloMessage | ChangesMessage | AckMessage | HaveMessage | ResyncMessage | ErrorMessage;

/** The message kinds this version knows; frames of other kinds are ignored (versioning policy). */
export const MESSAGE_TYPES = ['hello', 'changes', 'ack', 'have', 'resync', 'error'] as const satisfies readonly Message['type'][];
