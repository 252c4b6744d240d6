/**
 * The unit of replication: one Automerge change of one record, stamped with the origin
 * node that made it and that origin's sequence number. Entries keep their origin when
 * relayed, so the version vector over origins says exactly what a node holds. Each
 * origin's entries form a hash chain (origin-clock.ts) that the origin signs: a peer
 * relays entries, it cannot alter them.
 *
 * Only what cannot be derived travels: the change bytes carry the record's data, the
 * time (the change's own time field) and the author (the change's message); the
 * receiver derives the view, the touched fields and the chain hash itself.
 */
import { hash } from 'node:crypto';
import type { NodeId, RecordId } from '../types.js';
import type { Placement } from './holding.js';

/** One change as it travels between nodes. */
export interface ChangeEntry {
  /** Node that made the change. */
  origin: NodeId;
  /** 1-based position in the origin's sequence; contiguous per origin. */
  seq: number;
  /** The record (document) the change belongs to. */
  record: RecordId;
  /** Automerge change bytes; hash, deps, actor, time and message are read from them. Empty on a stub. */
  change: Uint8Array;
  /**
   * Set on a **stub**: the entry without its body, standing for it in the origin's chain.
   * The SHA-256 of the change bytes (hex), which is all the chain step needs, so a stub's
   * chain and signature verify exactly like the full entry's, while the record's data
   * stays away (a record outside a subscriber's holding; a body dropped by eviction or
   * erasure). `change` is then empty. A stub is never applied.
   */
  digest?: string;
  /**
   * The origin's Ed25519 signature over the chain hash at this entry. Present where the
   * origin signed (every commit's last entry, and every `signEvery` entries within one);
   * on the wire, at least on each origin's last entry of a frame.
   */
  sig?: Uint8Array;
  /**
   * The chain hash before this entry in the sender's history (hex). Sent on the first
   * entry of each origin in a frame: a receiver whose own hash there differs can tell a
   * forked origin (the signature verifies from this hash: the origin signed two
   * histories) from an altered frame (it verifies from neither).
   */
  prev?: string;
  /**
   * Entry fields written by a newer version that this one does not know: kept, stored
   * and relayed unchanged (the versioning policy in PROTOCOL.md).
   */
  ext?: Record<string, unknown>;
}

/** A change entry as stored in a node's local log, with what the node derived from it. */
export interface StoredEntry extends ChangeEntry {
  /** Position in this node's log: the order it was stored in, which respects causality. */
  localSeq: number;
  /** Chain hash at this entry (hex). */
  chain: string;
  /** Time of the change at its origin (ms since epoch), from the change. */
  time: number;
  /** Field paths the change touched, from its operations. */
  fields: string[];
  /** Who made the change beyond the node (e.g. 'import:crm-export'), from the change message. */
  author?: string;
  /**
   * Set on the last entry of each commit: at this position every origin's last entry is
   * signed, so a frame may end here (see PROTOCOL.md, "Signed logs").
   */
  boundary?: true;
  /** Set when the change failed verification: kept for the chain, never applied. */
  quarantined?: string;
  /** Set on a stub this node made of an entry it once held in full (the record left its holding). */
  evicted?: true;
  /**
   * Where the record was before and after the commit that stored this entry (null: it did
   * not exist), as this node applied it: a serving node sends the entry in full to a
   * subscriber holding either place, a stub to others (so the change that moves a record
   * out still reaches the node it leaves). Absent where nothing was applied (stubs,
   * quarantined changes): such an entry goes to subscribers as a stub.
   */
  place?: [before: Placement | null, after: Placement];
}

/** A stored entry before the log assigned its position. */
export type LoggedEntry = Omit<StoredEntry, 'localSeq'>;

/** Bytes of an empty change: the `change` of a stub. */
const NO_BODY = new Uint8Array(0);

/** The SHA-256 (hex) a chain step binds for a change: of its bytes (defined for any bytes). */
export function changeDigest(change: Uint8Array): string {
  return hash('sha256', change, 'hex');
}

/** The digest a chain step binds for an entry: a stub's carried digest, else its change's. */
export function entryDigest(entry: Pick<ChangeEntry, 'change' | 'digest'>): string {
  return entry.digest ?? changeDigest(entry.change);
}

/** True for a stub (an entry without its body; see `digest`). */
export function isStub(entry: Pick<ChangeEntry, 'digest'>): boolean {
  return entry.digest !== undefined;
}

/**
 * The stub of an entry: the same origin, seq, record, signature and `prev`, the change's
 * digest instead of its bytes (chain and signature still verify). Unknown fields are
 * dropped: they may describe the body.
 */
export function stubOf<T extends ChangeEntry>(entry: T): T {
  const { ext: _ext, ...rest } = entry;
  return { ...rest, change: NO_BODY, digest: entryDigest(entry) } as T;
}
