/**
 * The store port: everything the sync engine persists. One implementation
 * (LevelStore) over any abstract-level database: classic-level on disk in production,
 * memory-level in seeded simulations. Both pass test/store/store-conformance.ts.
 */
import type { LoggedEntry, StoredEntry } from '../crdt/change-entry.js';
import type { OriginClock, OriginHead } from '../crdt/origin-clock.js';
import type { RecordView } from '../crdt/record-schema.js';
import type { RecordState } from '../crdt/record-state.js';
import type { NodeId, RecordId } from '../types.js';

/**
 * What the store keeps per record. A record's document is its snapshot (if any) plus the
 * changes of that record in the log after it: change bytes are stored once, in the log.
 */
export interface RecordMeta {
  /** The document's shape: heads, op ids of current values (record-state.ts). */
  state: RecordState;
  /** The materialised view at `state.heads`. */
  view: RecordView;
  /** Log position up to which the record's changes are in its snapshot (0: none of the log). */
  snapshotAt: number;
  /**
   * A snapshot is stored. Older metas say so only by `snapshotAt > 0`; a document adopted
   * before this node logged anything has a snapshot that covers no log position.
   */
  snapshot?: true;
  /** Changes of the record in the log after the snapshot (quarantined ones not counted). */
  pending: number;
}

/** One record's part of a mutation. */
export interface RecordWriteOp {
  id: RecordId;
  before: RecordMeta | undefined;
  after: RecordMeta;
  /**
   * A new snapshot of the whole document (compaction): it covers the record's changes
   * in this mutation, so the store sets `after.snapshotAt` to the last of their positions.
   */
  snapshot?: Uint8Array;
  /**
   * The snapshot holds every change of the record stored so far (a document adopted from
   * a peer, merged with ours): it covers the whole log up to this mutation.
   */
  wholeDocument?: true;
}

/**
 * A record leaving this node's holding (PROTOCOL.md "Holdings"): its meta, snapshot,
 * index keys and history go; its stored entries are rewritten as given (stubs, except
 * this node's own), so the log keeps every origin's chain.
 */
export interface Eviction {
  id: RecordId;
  /** The stored meta (undefined: the record was never stored here). */
  before: RecordMeta | undefined;
  /** Where the record went: its view after the change that moved it out. */
  view: RecordView;
  /** The record's stored log entries, rewritten (their localSeq says where). */
  rewrite: StoredEntry[];
}

/**
 * A record removed from this node for good (erased, or its tombstone collected): its
 * meta, snapshot, index keys and history index go; its log entries stay as stubs.
 */
export interface RecordDropOp {
  id: RecordId;
  /** What the store holds of it now (undefined: nothing but log entries). */
  before: RecordMeta | undefined;
  /** Log positions of its history index. */
  history: number[];
}

/** Everything that must become durable together: one atomic batch. */
export interface Mutation {
  records: RecordWriteOp[];
  /** Records that leave the holding in this batch. */
  evictions?: Eviction[];
  /** Appended to the log in this order. */
  entries: LoggedEntry[];
  /** Origins whose last entry changes with this mutation. */
  clock: [origin: string, head: OriginHead][];
  /** Small named values owned by drivers (import watermarks and the like); undefined deletes the key. */
  state?: [key: string, value: unknown][];
  /** Records removed for good (see RecordDropOp). */
  drop?: RecordDropOp[];
  /** Held entries rewritten as stubs at their position (same chain, signature and boundary; no body, no author). */
  redact?: StoredEntry[];
  /**
   * Stubs rewritten with their bodies at their position (engine/stub-bodies.ts): part of
   * their record's history again (its snapshot in the same mutation already holds them).
   */
  restore?: StoredEntry[];
  /**
   * Log truncation (engine/truncate.ts): the log positions up to `through` go for good,
   * with their origin, history and `away` keys. Every record they belong to is already in
   * its snapshot (the same or an earlier mutation made one).
   */
  truncate?: { through: number; entries: readonly TruncatedEntry[] };
  /**
   * Per-origin floors raised: by a truncation (the last entry of each origin it removed),
   * or by a region's `base` (a bootstrap from record documents). Only ever raised.
   */
  floors?: [origin: string, floor: LogFloor][];
  /**
   * Stored views whose index keys are written again (puts only: the records, their
   * counts and other keys stay as they are). How a migration adds the keys of an index
   * that data written before it lacks; pass each record's newest view.
   */
  reindex?: RecordView[];
}

/**
 * Where an origin's log starts on this node: entries up to `seq` are not held here (they
 * were truncated, or never received: the node bootstrapped from record documents). The
 * origin's signature over chain(seq) lets a peer verify the point without the entries.
 */
export interface LogFloor {
  seq: number;
  /** chain(seq), hex. */
  chain: string;
  /** The origin's Ed25519 signature over entrySigningInput(chain). */
  sig: Uint8Array;
  /**
   * What chain(seq) is computed from: chain(seq - 1) (hex), the entry's record and its
   * change digest (hex). A receiver recomputes the chain from them, so the signature
   * binds `seq` too (it is hashed into the chain), not only the chain hash.
   */
  prev: string;
  record: string;
  digest: string;
}

/** What a truncation needs to know of a removed entry to delete its keys. */
export interface TruncatedEntry {
  origin: string;
  seq: number;
  record: RecordId;
  localSeq: number;
}

/** Record counters. */
export interface RecordCounts {
  live: number;
  deleted: number;
  conflicted: number;
}

/** Batches written since a store opened, and the seconds from handing each to LevelDB until it was seen written. */
export interface BatchTotals {
  batches: number;
  seconds: number;
}

/**
 * What a store's commit queue has written, by kind of batch: `commit` (records, changes,
 * clock; fsynced unless the store was opened with `sync: false`, as simulations are) and
 * `index` (waiting index keys alone; not fsynced, index-backlog.ts). A commit batch holds
 * a group of commits (group commit). The time counts from handing a batch to LevelDB
 * until the node's thread saw it written: the disk, LevelDB's thread pool, and the wait
 * for the event loop to get to it. The few batches written outside the queue (identity,
 * trust list, driver state) are not counted.
 */
export interface BatchWrites {
  commit: BatchTotals;
  index: BatchTotals;
}

/** A page of records. */
export interface RecordPage {
  views: RecordView[];
  /** Pass as `after` to get the next page; undefined on the last page. */
  next: string | undefined;
}

/** One record as anti-entropy digests see it: its id, heads and territory (deleted records included). */
export interface RecordHeads {
  id: RecordId;
  heads: string[];
  territory: string | null;
}

/** A page of record heads. */
export interface HeadsPage {
  records: RecordHeads[];
  /** Pass as `after` to get the next page; undefined on the last page. */
  next: string | undefined;
}

/** Who a data directory belongs to, fixed when it is created. */
export interface NodeIdentityRecord {
  nodeId: NodeId;
  /** Fingerprint of the node's key: every entry of its origin is signed with it. */
  key: string;
  /** Fingerprint of the cluster founder's key (the root of the trust list). */
  founder: string;
  /** The private key, when the library manages it (the CLI keeps it in node.key instead). */
  privateKeyPem?: string;
}

/** The persistence port of a node. */
export interface Store {
  /** The node this data directory belongs to. */
  readonly nodeId: NodeId;
  readonly identity: NodeIdentityRecord;
  /** Durable last entry per origin. */
  readonly clock: OriginClock;
  /** localSeq of the newest durable log entry (0 when empty). */
  readonly lastLocalSeq: number;
  /** The first log position still held (1 until the log is truncated). */
  readonly logStart: number;
  /** Per origin, how far its entries are not held here (truncated, or skipped by a bootstrap). */
  readonly floors: ReadonlyMap<string, LogFloor>;
  getMeta(id: RecordId): Promise<RecordMeta | undefined>;
  getMetas(ids: readonly RecordId[]): Promise<(RecordMeta | undefined)[]>;
  /** The parts of a record's document: its snapshot (if any), then its applied changes after it, in log order. */
  documentParts(id: RecordId, meta: RecordMeta): Promise<Uint8Array[]>;
  /** Writes the mutation in one synced batch, grouped with concurrent commits; resolves when durable. */
  commit(mutation: Mutation): Promise<StoredEntry[]>;
  /** Log entries with localSeq >= from, at most `maxEntries` and about `maxBytes`. */
  readLog(from: number, maxEntries: number, maxBytes: number): Promise<StoredEntry[]>;
  /** The log entries (origin, seq) of `refs`, in order (undefined where not held): two batched reads. */
  entriesAt(refs: readonly { origin: string; seq: number }[]): Promise<(StoredEntry | undefined)[]>;
  /** localSeq of the entry (origin, seq), if held. */
  localSeqOf(origin: string, seq: number): Promise<number | undefined>;
  /** Chain hash (hex) of the entry (origin, seq), if held (or if it is the origin's floor). */
  chainAt(origin: string, seq: number): Promise<string | undefined>;
  listRecords(options: { after?: string; limit: number; includeDeleted: boolean }): Promise<RecordPage>;
  /** Every record's heads and territory in id order, deleted ones included (anti-entropy digests). */
  listHeads(options: { after?: string; limit: number }): Promise<HeadsPage>;
  /** Raw secondary-index keys in [gte, lt), after `after`, at most `limit`. */
  scanIndex(range: { gte: string; lt: string; after?: string; limit: number }): Promise<string[]>;
  /** A record's log entries (its history, and this node's own changes kept after an eviction), oldest first, at most `limit`. */
  historyOf(id: RecordId, limit: number): Promise<StoredEntry[]>;
  /** Ids of records with a meta, in key order, after `after`, at most `limit` (keys only: no view is decoded). */
  recordIds(options: { after?: string; limit: number }): Promise<RecordId[]>;
  /**
   * Ids of records with a history index entry, at most `limit`, resuming after `after` (an
   * id this call returned): also the records held only as log entries, without a meta,
   * because their every change was quarantined. In history key order, which is not id
   * order (`a-b/…` sorts before `a/…`): page only with ids it returned.
   */
  historyIds(options: { after?: string; limit: number }): Promise<RecordId[]>;
  /**
   * Ids of records this node no longer holds (evicted) whose entries it keeps whole: its
   * own changes to them (peers still need them). historyOf includes those entries. Pages
   * like historyIds.
   */
  awayIds(options: { after?: string; limit: number }): Promise<RecordId[]>;
  /** Small named values whose key starts with `prefix` (node state; e.g. this node's lifecycle markers). */
  stateEntries<T>(prefix: string): Promise<[key: string, value: T][]>;
  /** Live, deleted and conflicted record counts (kept in every batch, never counted by scanning). */
  recordCounts(): RecordCounts;
  /** Created records whose index keys are not written yet (index-backlog.ts); scanIndex writes them first. */
  indexBacklog(): number;
  /** Batches written since the store opened, by kind (a copy). */
  batchWrites(): BatchWrites;
  getState<T>(key: string): Promise<T | undefined>;
  /** The stored trust statements (as stored; the trust list checks them again). */
  trustStatements(): Promise<unknown[]>;
  /** Durably stores trust statements by hash. */
  saveTrust(statements: readonly { hash: string; value: unknown }[]): Promise<void>;
  /** Durably stores small named values outside a commit (invitations and the like); undefined deletes the key. */
  putState(entries: readonly [key: string, value: unknown][]): Promise<void>;
  /**
   * Rewrites the database files so deleted and overwritten values are physically gone
   * (LevelDB keeps them in older files and its write-ahead log until compaction): an
   * erasure must not leave the data on disk. A no-op where the database cannot. Call it
   * before the deletions too: LevelDB never rewrites its deepest file, so deletions are
   * only dropped, with what they delete, when the data already sits in a file below them.
   */
  compact(): Promise<void>;
  close(): Promise<void>;
}
