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
  /**
   * Frame encodings this node accepts from its peer after the handshake: 'deflate-raw'
   * (frame-deflate.ts). Absent in older nodes, which then get plain frames only.
   */
  compress?: string[];
  /**
   * Protocol features this node speaks beyond version 2's base (PROTOCOL.md, "Versions"):
   * 'cumulative-acks'. A session uses a feature when both hellos name it.
   */
  features?: string[];
}

/** The feature of acks that cover every batch up to theirs (stream.ts, onIngested). */
export const CUMULATIVE_ACKS = 'cumulative-acks';

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
  /** Digest of the sender's merge policies (merge-policy.ts); absent from builds before policies. */
  policies?: string;
  /**
   * The sender's subscription (PROTOCOL.md "Holdings"); absent: it holds every record its
   * scope allows. The peer serves it that, intersected with its trust-list scope.
   */
  holding?: HoldingFilter;
  /**
   * The sender's send window in batches (`sendWindowBatches`): a peer acking several
   * batches at once (cumulative acks) acks often enough that the window never waits on
   * it. Absent from builds before it.
   */
  window?: number;
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

/**
 * The receiver made a batch durable; `clock` holds its entries for the batch's origins.
 * Where both hellos name 'cumulative-acks', an ack covers every batch up to its own and
 * its clock the origins of all of them.
 */
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

/**
 * The serving side's answer to a subscription (a `subscribe`, or an `open` declaring an
 * older subscription then a `subscribe`): every document the new holding gained was sent
 * before this, and the new holding is served from here on. Echoes the subscription it
 * answers, so an answer to an older one is not taken for the newest. Taken only from a
 * `region` member: the subscriber then stores that its data is complete for it.
 */
export interface SubscribedMessage {
  type: 'subscribed';
  holding?: HoldingFilter;
}

/**
 * A subscriber asks a region for the whole documents of records it holds whose history
 * it has only in part (it kept some of their changes as stubs: engine/ingest.ts). The
 * region answers with `record` for each one it holds inside the asker's scope.
 */
export interface WantMessage {
  type: 'want';
  ids: string[];
}

/**
 * A region that truncated its log brings a peer below its floors there (PROTOCOL.md
 * "Truncated logs"): after the documents of every record in the peer's holding (`record`),
 * each floor the peer is below: the origin's entry at `seq` as a stub with the chain hash
 * before it, and the origin's signature over chain(seq). The receiver recomputes
 * chain(seq) (which binds `seq`), checks the signature against the origin's key and
 * raises its clock to the floor; the stream then goes on from there. Taken only from a
 * `region` member.
 */
export interface BaseMessage {
  type: 'base';
  floors: [origin: string, seq: number, prev: Uint8Array, record: string, digest: Uint8Array, sig: Uint8Array][];
}

/**
 * Flow control of record documents (src/sync/doc-pacer.ts): the sender of documents sends
 * `mark` every few of them; the receiver answers `marked` with the same `n` once it has
 * handled every frame before the mark.
 */
export interface MarkMessage {
  type: 'mark' | 'marked';
  n: number;
}

/** A region's answer to a `want` for records that lie outside the asker's scope there: the asker evicts them. */
export interface OutsideMessage {
  type: 'outside';
  ids: string[];
}

/**
 * A member's holdings in a holds report: [origin, seq] for each origin it holds entries
 * of. Seqs alone, no chain hashes: tombstone stability needs only how far each member
 * holds (a hash was most of a line, and a reconnect may receive every member's report).
 */
export type HeldSeqs = [origin: string, seq: number][];

/**
 * What one member holds, signed by it (holdsSigningInput): relayed by every node, so each
 * learns every member's holdings, not only its peers' (causal stability needs them all:
 * engine/tombstones.ts). `at`: when the member signed it; a newer one replaces an older.
 */
export interface HoldsReport {
  node: string;
  at: number;
  clock: HeldSeqs;
  sig: Uint8Array;
}

/**
 * Member-signed reports of what members hold (ours and the newest we verified of the
 * others). `known`, sent once as a session opens: the `at` of every report the sender
 * holds, so the receiver answers with only the reports that are newer or missing there
 * (a reconnect costs a line per member, not every member's clock).
 */
export interface HoldsMessage {
  type: 'holds';
  reports: HoldsReport[];
  known?: [node: string, at: number][];
}

/** Sent just before closing for a reason the peer should log. */
export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

/** A node of the anti-entropy digest: its territory group (null: records without one) and id-hash prefix (hex nibbles). */
export type DigestPath = [territory: string | null, prefix: string];

/** What a digest request asks for (see PROTOCOL.md, Anti-entropy). */
export type DigestAsk = 'groups' | 'children' | 'records' | 'compare' | 'repair';

/**
 * Anti-entropy: asks for part of the receiver's digest of its holdings. `groups`: every
 * territory group's root (and the receiver's clock; `clock` is the sender's); `children`:
 * the 16 children of each of `paths`; `records`: (id, record hash) of every record under
 * each of `paths`; `compare`: the current record hash of each of `ids`; `repair`:
 * re-derive the records `ids` from the receiver's own log.
 */
export interface DigestRequestMessage {
  type: 'digest-request';
  /** Request number, echoed in the response. */
  req: number;
  what: DigestAsk;
  paths: DigestPath[];
  ids: string[];
  /** The sender's holdings (on `groups`): the receiver resends what its stream counted as delivered but the sender lacks. */
  clock?: WireClock;
}

/** Answer to a digest request: exactly the part asked for, or why it was refused. */
export interface DigestResponseMessage {
  type: 'digest-response';
  req: number;
  /** Why nothing was answered: 'busy' (a request is in progress), 'rate' (too many), 'failed'. */
  refused?: string;
  /** The responder's holdings (on `groups`). */
  clock?: WireClock;
  /** [territory, record count, hash] per group, sorted (null first). */
  groups?: [territory: string | null, count: number, hash: Uint8Array][];
  /** Per requested path, its 16 children as [record count, hash]. */
  children?: [count: number, hash: Uint8Array][][];
  /**
   * `records`: per requested path, [record id, record hash] of its records (null when it
   * holds more than a listing may carry). `compare`: one list, [id, hash] per requested id
   * in order, the hash empty for a record the responder does not hold.
   */
  records?: ([id: string, hash: Uint8Array][] | null)[];
  /** Records the responder re-derived (on `repair`). */
  repaired?: number;
}

/** Messages of the handshake: the only ones parsed before it completes. */
export type HandshakeMessage = HelloMessage | AuthMessage | OpenMessage | ErrorMessage;

/** Every message of the protocol. */
export type Message = HandshakeMessage | ChangesMessage | AckMessage | HaveMessage | ResyncMessage | TrustMessage | DigestRequestMessage | DigestResponseMessage | RecordMessage | SubscribeMessage | SubscribedMessage | WantMessage | OutsideMessage | HoldsMessage | BaseMessage | MarkMessage;

/** The message kinds this version knows; frames of other kinds are ignored (versioning policy). */
export const MESSAGE_TYPES = ['hello', 'auth', 'open', 'changes', 'ack', 'have', 'resync', 'trust', 'error', 'digest-request', 'digest-response', 'record', 'subscribe', 'subscribed', 'want', 'outside', 'holds', 'base', 'mark', 'marked'] as const satisfies readonly Message['type'][];

/** The kinds accepted during the handshake. */
export const HANDSHAKE_TYPES = ['hello', 'auth', 'open', 'error'] as const satisfies readonly HandshakeMessage['type'][];

/** What a member signs to vouch for a record document it sends (a `record` message). */
export function recordSigningInput(cluster: string, id: string, doc: Uint8Array): Uint8Array {
  const digest = createHash('sha256').update(doc).digest();
  return Buffer.concat([Buffer.from(`crmsync/record/1\0${cluster}\0${id}\0`), digest]);
}

/** What a member signs in a holds report: its node id, when, and its clock (origin order). */
export function holdsSigningInput(cluster: string, report: Omit<HoldsReport, 'sig'>): Uint8Array {
  const clock = [...report.clock].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const lines = clock.map(([origin, seq]) => `${origin}\0${seq}\n`).join('');
  return Buffer.from(`crmsync/holds/2\0${cluster}\0${report.node}\0${report.at}\0${lines}`);
}

/** `reports` split into the contents of `holds` messages a receiver accepts (maxHoldsReports, maxHoldsClockEntries). */
export function holdsChunks(reports: readonly HoldsReport[], maxReports: number, maxEntries: number): HoldsReport[][] {
  const chunks: HoldsReport[][] = [];
  let chunk: HoldsReport[] = [];
  let entries = 0;
  for (const report of reports) {
    if (report.clock.length > maxEntries) continue; // no receiver takes it (a cluster of more origins than that)
    if (chunk.length === maxReports || entries + report.clock.length > maxEntries) {
      chunks.push(chunk);
      chunk = [];
      entries = 0;
    }
    chunk.push(report);
    entries += report.clock.length;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
