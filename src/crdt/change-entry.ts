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
import type { NodeId, RecordId } from '../types.js';

/** One change as it travels between nodes. */
export interface ChangeEntry {
  /** Node that made the change. */
  origin: NodeId;
  /** 1-based position in the origin's sequence; contiguous per origin. */
  seq: number;
  /** The record (document) the change belongs to. */
  record: RecordId;
  /** Automerge change bytes; hash, deps, actor, time and message are read from them. Empty in a stub. */
  change: Uint8Array;
  /**
   * Set on a stub: an entry whose change body is withheld (an erased record, a collected
   * tombstone, a record outside the receiver's subscription). It is SHA-256 of the
   * withheld bytes (32 bytes): what the chain binds, so the origin's chain and signature
   * still verify without the body. A stub is stored and relayed, never applied.
   */
  hash?: Uint8Array;
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
}

/** A stored entry before the log assigned its position. */
export type LoggedEntry = Omit<StoredEntry, 'localSeq'>;
