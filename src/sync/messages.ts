/**
 * The wire protocol: one discriminated union, parsed once at the boundary (codec.ts).
 * Byte-level description in PROTOCOL.md. Every `switch` over `Message['type']` is
 * exhaustive.
 */
import type { ChangeEntry } from '../crdt/change-entry.js';
import { createHash } from 'node:crypto';
import type { HoldingFilter } from '../crdt/holding.js';
import type { WireClock } from '../crdt/origin-clock.js';

/** Protocol version spoken by this build; peers with another version are refused. */
export const PROTOCOL_VERSION = 2;

/**
 * First message on every connection, both directions: who I claim to be, and a fresh
 * nonce. Nothing else is accepted until both sides proved their claim (`auth`).
 */
export interface HelloMessage {
  type: 'hello';
  protocol: number;
  /** Cluster id (derived from the founder's key). */
  cluster: string;
  node: string;
  /** Raw Ed25519 public key (32 bytes). */
  key: Uint8Array;
  /** 32 fresh random bytes: both nonces are in the signed transcript, so replays fail. */
  nonce: Uint8Array;
  /**
   * Trust statements granting `key` (and their issuers), so a member that has not yet
   * heard of a new member's grant can still check it.
   */
  proof: unknown[];
  /** A joining node's invitation: its id and a MAC over this key and nonce (trust/invitation.ts). */
  invite?: { id: string; mac: Uint8Array };
}

/** Proof of possession of the hello's key: a signature over the handshake transcript. */
export interface AuthMessage {
  type: 'auth';
  sig: Uint8Array;
}

/** Sent once authenticated: what I hold, and my trust list's digest. Sync starts after both. */
export interface OpenMessage {
  type: 'open';
  clock: WireClock;
  trust: string;
  /**
   * The sender's subscription (PROTOCOL.md "Holdings"); absent: it holds every record its
   * scope allows. The peer serves it that, intersected with its trust-list scope.
   */
  holding?: HoldingFilter;
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

/**
 * The receiver could not take a batch (a gap, or origins its trust list does not know
 * yet): the sender sends its trust statements if `trust` (the receiver's digest) differs
 * from its own, then restarts the stream from `clock` with `epoch`.
 */
export interface ResyncMessage {
  type: 'resync';
  epoch: number;
  clock: WireClock;
  trust?: string;
}

/** Signed trust statements the receiver may lack (each is checked on its own). */
export interface TrustMessage {
  type: 'trust';
  statements: unknown[];
}

/**
 * A whole record document (Automerge save), vouched for by the sending member's
 * signature (recordSigningInput): the history a subscriber skipped as stubs, sent before
 * the change that moves the record into its holding, or when its subscription grew.
 * Taken only from a `region` member; the receiver's clock does not change.
 */
export interface RecordMessage {
  type: 'record';
  id: string;
  doc: Uint8Array;
  sig: Uint8Array;
}

/** The sender's subscription changed (absent: everything its scope allows): serve it that from now on. */
export interface SubscribeMessage {
  type: 'subscribe';
  holding?: HoldingFilter;
}

/** Sent just before closing for a reason the peer should log. */
export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

/** Messages of the handshake: the only ones parsed before it completes. */
export type HandshakeMessage = HelloMessage | AuthMessage | OpenMessage | ErrorMessage;

/** Every message of the protocol. */
export type Message = HandshakeMessage | ChangesMessage | AckMessage | HaveMessage | ResyncMessage | TrustMessage | RecordMessage | SubscribeMessage;

/** The message kinds this version knows; frames of other kinds are ignored (versioning policy). */
export const MESSAGE_TYPES = ['hello', 'auth', 'open', 'changes', 'ack', 'have', 'resync', 'trust', 'error', 'record', 'subscribe'] as const satisfies readonly Message['type'][];

/** The kinds accepted during the handshake. */
export const HANDSHAKE_TYPES = ['hello', 'auth', 'open', 'error'] as const satisfies readonly HandshakeMessage['type'][];

/** What a member signs to vouch for a record document it sends (a `record` message). */
export function recordSigningInput(cluster: string, id: string, doc: Uint8Array): Uint8Array {
  const digest = createHash('sha256').update(doc).digest();
  return Buffer.concat([Buffer.from(`crmsync/record/1\0${cluster}\0${id}\0`), digest]);
}
