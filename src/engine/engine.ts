/**
 * The engine: one node's records, change log and origin clock over a Store. Local
 * writes (local-writes.ts), changes from peers (ingest.ts) and verification (verify.ts)
 * all go through its single Writer. The sync layer sees it only through SyncEngine.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import type { ChangeEntry, StoredEntry } from '../crdt/change-entry.js';
import { readChangeHeader } from '../crdt/change-header.js';
import { chainStart, firstMissing, type OriginClock, type SeqClock } from '../crdt/origin-clock.js';
import { recordConflicts, type FieldConflict, type RecordWrite } from '../crdt/record-doc.js';
import type { RecordView } from '../crdt/record-schema.js';
import { CrmsyncError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import { parseRecordId, type NodeId, type RecordId } from '../types.js';
import { ingest, type IngestResult } from './ingest.js';
import { writeMany, type WriteItem, type WriteOptions, type WriteResult } from './local-writes.js';
import { verifyRecords, type VerifyReport } from './verify.js';
import { changeDigest, type OriginAuthority } from './entry-check.js';
import { Writer, type RecordChangeEvent, type WriterIdentity } from './writer.js';
import { COLLECTED_PREFIX, GoneRecords, NO_ERASURES, type CollectedMarker, type ErasureSet } from './gone.js';
import { purgeRecords, recordsNamed } from './purge.js';

/**
 * What the sync protocol needs from a node, and all it gets: what do you hold, give me
 * entries after X, take these entries, tell me when you have new ones.
 */
export interface SyncEngine {
  readonly nodeId: NodeId;
  /** What this node durably holds, per origin. */
  holdings(): OriginClock;
  /** Position of the newest durable entry in this node's log (0 when empty). */
  lastPosition(): number;
  /** The first log position holding an entry a peer that holds `peerHolds` lacks. */
  firstMissingPosition(peerHolds: SeqClock): Promise<number>;
  /** Log entries from position `from` on, oldest first, at most `maxEntries` and about `maxBytes`. */
  entriesFrom(from: number, maxEntries: number, maxBytes: number): Promise<StoredEntry[]>;
  /** Takes entries received from peer `from`; resolves once they are durable. */
  ingest(entries: ChangeEntry[], from: NodeId): Promise<IngestResult>;
  /** Calls `listener` after new entries became durable (source: the peer they came from, null for local). */
  onAppended(listener: (entries: StoredEntry[], source: NodeId | null) => void): () => void;
}

/** One entry of a record's history. */
export interface HistoryEntry {
  node: NodeId;
  seq: number;
  at: number;
  fields: string[];
  hash: string;
  /** Set for changes made by an importer or another tool, e.g. 'import:crm-export'. */
  author?: string;
  /** Set for a change this node refused to apply (it failed verification), with the reason. */
  quarantined?: string;
}

/**
 * The Automerge hash of a change; for a quarantined change that is not even a change
 * chunk, the SHA-256 of its bytes, so its history entry can still be listed.
 */
function changeHash(change: Uint8Array, quarantined: boolean): string {
  if (!quarantined) return readChangeHeader(change).hash;
  try {
    return readChangeHeader(change).hash;
  } catch {
    return changeDigest(change);
  }
}

/** Collaborators and settings of an engine. */
export interface EngineOptions {
  store: Store;
  actor: string;
  limits: Limits;
  logger: Logger;
  /** This node as a writer: its cluster and signing key. */
  identity: WriterIdentity;
  /** Which origins may write, with which keys (the trust list). */
  authority: OriginAuthority;
  now?: () => number;
  randomBytes?: (n: number) => Uint8Array;
  /** The cluster's erasures (the trust list); none when absent. */
  erasures?: ErasureSet;
}

/** Node state: how many erasures this node has applied (an erasure received but not applied before a crash is applied at the next open). */
const ERASURES_APPLIED_KEY = 'lifecycle/erasures-applied';

/** See the file comment. */
export class Engine implements SyncEngine {
  readonly nodeId: NodeId;
  readonly #store: Store;
  readonly #writer: Writer;
  readonly #now: () => number;
  readonly #limits: Limits;
  readonly #authority: OriginAuthority;
  readonly #cluster: string;
  readonly #random: (n: number) => Uint8Array;

  constructor(options: EngineOptions) {
    this.nodeId = options.store.nodeId;
    this.#store = options.store;
    this.#writer = new Writer({ ...options, gone: new GoneRecords(options.identity.cluster, options.erasures ?? NO_ERASURES) });
    this.#now = options.now ?? Date.now;
    this.#limits = options.limits;
    this.#authority = options.authority;
    this.#cluster = options.identity.cluster;
    this.#random = options.randomBytes ?? cryptoRandomBytes;
  }

  /** Generates a fresh record id. */
  newRecordId(): RecordId {
    return parseRecordId(`c_${Buffer.from(this.#random(10)).toString('hex')}`);
  }

  /** Reads a record's durable view. */
  async get(id: RecordId): Promise<RecordView | undefined> {
    return (await this.#store.getMeta(id))?.view;
  }

  /**
   * Writes to one record. `decide` sees the current view (undefined if the record was
   * never written) and returns the write, or throws to refuse it.
   */
  async write(id: RecordId, decide: (current: RecordView | undefined) => RecordWrite): Promise<RecordView> {
    const [result] = await this.writeMany([{ id, decide }]);
    if (result!.status === 'rejected') throw result!.error;
    if (!result!.view) throw new CrmsyncError('ERR_NOT_FOUND', `record ${id} does not exist`);
    return result!.view;
  }

  /**
   * Writes to many records as ONE atomic, durable commit (imports, bulk edits). Items
   * whose `decide` throws are reported as rejected and the rest still commit; `state`
   * becomes durable in the same batch as the records.
   */
  writeMany(items: WriteItem[], options: WriteOptions = {}): Promise<WriteResult[]> {
    return writeMany(this.#writer, items, options, this.#now);
  }

  /** Every conflicted field of a record with all concurrent values and their nodes. */
  conflicts(id: RecordId): Promise<FieldConflict[]> {
    return this.#writer.run(async () => {
      const [meta] = await this.#writer.metasFor([id]);
      if (!meta) throw new CrmsyncError('ERR_NOT_FOUND', `record ${id} does not exist`);
      if (meta.view.conflicts.length === 0) return [];
      return recordConflicts(await this.#writer.docFor(id, meta));
    });
  }

  /** A record's change history, oldest first, read from the log (no replay). */
  async history(id: RecordId, limit: number): Promise<HistoryEntry[]> {
    const entries = await this.#store.historyOf(id, limit);
    return entries.map((e) => ({
      node: e.origin, seq: e.seq, at: e.time, fields: e.fields, hash: e.hash ? Buffer.from(e.hash).toString('hex') : changeHash(e.change, e.quarantined !== undefined),
      ...(e.author === undefined ? {} : { author: e.author }), ...(e.quarantined === undefined ? {} : { quarantined: e.quarantined }),
    }));
  }

  /** Record ids that never come back (erased, or collected tombstones). */
  get gone(): GoneRecords {
    return this.#writer.gone;
  }

  /** Loads this node's collected-tombstone markers (at open). */
  async loadCollected(): Promise<void> {
    const markers = await this.#store.stateEntries<CollectedMarker>(COLLECTED_PREFIX);
    this.#writer.gone.collected(markers.map(([key]) => key.slice(COLLECTED_PREFIX.length)));
  }

  /** How many erasures this node has applied (durable with the purge). */
  async erasuresApplied(): Promise<number> {
    return (await this.#store.getState<number>(ERASURES_APPLIED_KEY)) ?? 0;
  }

  /**
   * Removes the held records named by erased `subjects` (purge.ts) and records that
   * `applied` erasures are applied, in one batch. Entries arriving later for them are
   * stubbed on ingest. Resolves with how many records this node held.
   */
  async applyErasures(subjects: readonly string[], applied: number): Promise<number> {
    const ids = await recordsNamed(this.#store, new Set(subjects), (id) => this.#writer.gone.subject(id));
    // The erased values must leave the disk, not only the keys (LevelDB keeps old values
    // until compaction): once to move them into files, once to merge the deletions in.
    if (ids.length > 0) await this.#store.compact();
    const held = await purgeRecords(this.#writer, this.#store, ids, [[ERASURES_APPLIED_KEY, applied]], { redact: true });
    if (held > 0) await this.#store.compact();
    return held;
  }

  /** Removes deleted records whose tombstones became collectable, leaving a marker for each (lifecycle.ts decides which). */
  async collectTombstones(records: readonly { id: RecordId; deletedAt: number }[], now: number): Promise<number> {
    const markers = records.map(({ id, deletedAt }): [string, CollectedMarker] => [`${COLLECTED_PREFIX}${this.#writer.gone.subject(id)}`, { deletedAt, collectedAt: now }]);
    // Gone before the purge is staged: an ingest queued meanwhile must stub these records, not revive them.
    this.#writer.gone.collected(markers.map(([key]) => key.slice(COLLECTED_PREFIX.length)));
    return purgeRecords(this.#writer, this.#store, records.map((r) => r.id), markers, { redact: false });
  }

  /** Re-derives every record from its document and compares (see verify.ts). */
  verify(options: { repair: boolean }): Promise<VerifyReport> {
    return verifyRecords(this.#store, this.#writer, this.#limits, options);
  }

  /** Subscribes to durable record changes; returns the unsubscribe function. */
  onChange(listener: (event: RecordChangeEvent) => void): () => void {
    this.#writer.events.on('change', listener);
    return () => this.#writer.events.off('change', listener);
  }

  /** Live-document cache statistics (status and metrics). */
  cacheStats(): ReturnType<Writer['cache']['snapshot']> {
    return this.#writer.cache.snapshot();
  }

  holdings(): OriginClock {
    return this.#store.clock;
  }

  lastPosition(): number {
    return this.#store.lastLocalSeq;
  }

  async firstMissingPosition(peerHolds: SeqClock): Promise<number> {
    let first = this.#store.lastLocalSeq + 1;
    for (const [origin, seq] of firstMissing(this.#store.clock, peerHolds)) {
      const at = await this.#store.localSeqOf(origin, seq);
      if (at !== undefined && at < first) first = at;
    }
    return first;
  }

  async entriesFrom(from: number, maxEntries: number, maxBytes: number): Promise<StoredEntry[]> {
    const entries = await this.#store.readLog(from, maxEntries, maxBytes);
    // The first entry of each origin learns the chain hash before it (sent as `prev`).
    const seen = new Set<string>();
    const out: StoredEntry[] = [];
    for (const entry of entries) {
      if (seen.has(entry.origin)) {
        out.push(entry);
        continue;
      }
      seen.add(entry.origin);
      const prev = entry.seq === 1 ? chainStart(this.#cluster, entry.origin) : await this.#store.chainAt(entry.origin, entry.seq - 1);
      out.push(prev === undefined ? entry : { ...entry, prev });
    }
    return out;
  }

  ingest(entries: ChangeEntry[], from: NodeId): Promise<IngestResult> {
    return ingest(this.#writer, entries, from, this.#authority);
  }

  onAppended(listener: (entries: StoredEntry[], source: NodeId | null) => void): () => void {
    this.#writer.events.on('appended', listener);
    return () => this.#writer.events.off('appended', listener);
  }

  /** Waits for all queued work. */
  drain(): Promise<void> {
    return this.#writer.drain();
  }

  /** Frees every live document; the store is closed by its owner. */
  close(): void {
    this.#writer.close();
  }
}
