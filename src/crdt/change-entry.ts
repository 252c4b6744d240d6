/**
 * The unit of replication: one Automerge change of one record, stamped with the
 * origin node that made it and that origin's sequence number. Entries keep their
 * origin when relayed, so the version vector over origins says exactly what a node holds.
 */
import type { NodeId, RecordId } from '../types.js';
import type { RecordView } from './record-schema.js';

/** One change in the replicated log. */
export interface ChangeEntry {
  /** Node that made the change. */
  origin: NodeId;
  /** 1-based position in the origin's sequence; contiguous per origin. */
  seq: number;
  /**
   * First 8 bytes (16 hex chars) of the hash of the origin's previous entry ('' for
   * seq 1). Chains each origin's entries so two histories written under one origin (a
   * copied data directory) are detected the moment they meet.
   */
  prev: string;
  /** The record (document) the change belongs to. */
  record: RecordId;
  /** Automerge change bytes; hash and deps are read from them, never trusted separately. */
  change: Uint8Array;
  /** Wall-clock time of the change at its origin (ms since epoch), for history. */
  time: number;
  /** Field paths the change touched, for history. */
  fields: string[];
  /** Who made the change on the origin node beyond the node itself (e.g. 'import:crm-export'). */
  author?: string;
  /**
   * The record's view at the state "deps + this change". A receiver whose heads equal
   * the change's deps reaches exactly that state, so it can store this view instead of
   * loading the document (the fast path of catch-up).
   */
  view: RecordView;
  /**
   * Entry fields written by a newer version that this one does not know: kept, stored
   * and relayed unchanged (the versioning policy in PROTOCOL.md).
   */
  ext?: Record<string, unknown>;
}

/** A change entry as stored in a node's local log. */
export interface StoredEntry extends ChangeEntry {
  /** Position in this node's log: the order it was stored in, which respects causality. */
  localSeq: number;
}
