/**
 * The engine: one node's records, change log and origin clock over a Store. Local
 * writes (local-writes.ts), changes from peers (ingest.ts) and verification (verify.ts)
 * all go through its single Writer. The sync layer sees it only through SyncEngine.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import type { ChangeEntry, StoredEntry } from '../crdt/change-entry.js';
import { readChangeHeader } from '../crdt/change-header.js';
import { chainStart, firstMissing, type OriginClock, type SeqClock } from '../crdt/origin-clock.js';
import type { RecordWrite } from '../crdt/record-doc.js';
import { recordConflicts, type FieldConflict, type MergeContext } from '../crdt/record-conflicts.js';
import type { RecordView } from '../crdt/record-schema.js';
import { placementAfter, placementOf, scopeViolation, withinFilter, type Holding, type HoldingFilter, type Placement } from '../crdt/holding.js';
import { applyCoverage, markCovered, storedSubscription } from './coverage.js';
import { CrmsyncError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { HeadsPage, Store } from '../store/store.js';
import { parseRecordId, type NodeId, type RecordId } from '../types.js';
import { ingest, type IngestResult } from './ingest.js';
import { evictRecords } from './evict.js';
import { adoptRecord, evictOutside, recordDocument, recordsEntering, type Adoption } from './backfill.js';
import { writeMany, type WriteItem, type WriteOptions, type WriteResult } from './local-writes.js';
import { verifyRecordIds, verifyRecords, type VerifyReport } from './verify.js';
import { changeDigest, type OriginAuthority } from './entry-check.js';
import { Writer, type RecordChangeEvent, type WriterIdentity } from './writer.js';
import { adoptPolicies, rederiveConflicted } from './rederive.js';
import { policiesDigest, type MergePolicies } from '../crdt/merge-policy.js';
import { COLLECTED_PREFIX, GoneRecords, NO_ERASURES, type CollectedMarker, type ErasureSet } from './gone.js';
import { purgeRecords, recordsNamed } from './purge.js';
import { indexConflicts, type ConflictIndexResult } from './conflict-index.js';
import { PARTIAL_PREFIX } from './partial.js';
import { applyBase, planTruncation, truncateLog, type BaseFloor, type BaseResult } from './truncate.js';

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
  /**
   * Our floors (truncate.ts) that a peer holding `peerHolds` is below: entries it lacks
   * that we no longer hold. A region brings it there with record documents and `base`.
   */
  floorsBelow(peerHolds: SeqClock): BaseFloor[];
  /** Raises our clock to a region's (or a backup's) floors, after their record documents; resolves once durable. */
  applyBase(floors: readonly BaseFloor[], from: NodeId): Promise<BaseResult>;
  /** Ids of every record held here, deleted ones included, a page at a time in id order (a bootstrap's documents). */
  recordIds(after: string | undefined, limit: number): Promise<RecordId[]>;
  /** Where each record is (territory, owner), undefined for one not held here. */
  placementsOf(ids: readonly RecordId[]): Promise<(Placement | undefined)[]>;
  /** Records held here that are marked as held with part of their history (partial.ts). */
  partialRecords(): Promise<RecordId[]>;
  /** The first log position holding an entry a peer that holds `peerHolds` lacks. */
  firstMissingPosition(peerHolds: SeqClock): Promise<number>;
  /** Log entries from position `from` on, oldest first, at most `maxEntries` and about `maxBytes`. */
  entriesFrom(from: number, maxEntries: number, maxBytes: number): Promise<StoredEntry[]>;
  /** Takes entries received from peer `from`; resolves once they are durable. */
  ingest(entries: ChangeEntry[], from: NodeId, onStaged?: () => void): Promise<IngestResult>;
  /** The records this node keeps (crdt/holding.ts). */
  holding(): Holding;
  /** The subscription this node declares to peers in its `open` (undefined: everything its scope allows). */
  subscription(): HoldingFilter | undefined;
  /** The subscription this data directory was last given (coverage.ts), to keep it when opened without one. */
  storedSubscription(): Promise<HoldingFilter | undefined>;
  /** The older subscription the stored data is complete for, while a wider one still waits for a region's documents (coverage.ts). */
  coveredOnly(): HoldingFilter | undefined;
  /** A region answered `subscribed` for `answered` (after sending its documents); durable on return. */
  markCovered(answered: HoldingFilter | undefined): Promise<void>;
  /** Adopts a record document a region sent (merged with ours, clock unchanged); resolves once durable. */
  adopt(id: RecordId, doc: Uint8Array, from: NodeId, complete?: boolean): Promise<Adoption>;
  /** A record's whole current document, or undefined if not held here. */
  recordDocument(id: RecordId): Promise<Uint8Array | undefined>;
  /** A record's durable view, or undefined if not held here. */
  get(id: RecordId): Promise<RecordView | undefined>;
  /** Evicts records a region says lie outside our scope there (the answer to a `want`). */
  evictRecords(ids: readonly RecordId[]): Promise<void>;
  /** Ids of records held here that are in `to` but not in `from`. */
  recordsEntering(from: Holding, to: Holding): Promise<RecordId[]>;
  /** Calls `listener` after new entries became durable (source: the peer they came from, null for local). */
  onAppended(listener: (entries: StoredEntry[], source: NodeId | null) => void): () => void;
  /** Digest of the merge policies this engine derives views with (peers must agree). */
  readonly policies: string;
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

/** A write's `decide` refusing (ERR_UNAUTHORIZED) what the writer's scope does not allow (holding.ts scopeViolation). */
function withinScope(scope: HoldingFilter, item: WriteItem): WriteItem['decide'] {
  return (current) => {
    const write = item.decide(current);
    const violation = scopeViolation(scope, placementOf(current), placementAfter(placementOf(current), write.atomic));
    if (violation !== undefined) throw new CrmsyncError('ERR_UNAUTHORIZED', `record ${item.id}: ${violation}`);
    return write;
  };
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
  /** Merge policies and members' roles (default: the default policies, no roles). */
  merge?: MergeContext;
  randomBytes?: (n: number) => Uint8Array;
  /** The cluster's erasures (the trust list); none when absent. */
  erasures?: ErasureSet;
}

/** Node state: how many erasures this node has applied (an erasure received but not applied before a crash is applied at the next open). */
const ERASURES_APPLIED_KEY = 'lifecycle/erasures-applied';

/** See the file comment. */
export class Engine implements SyncEngine {
  readonly nodeId: NodeId;
  readonly policies: string;
  readonly #store: Store;
  readonly #writer: Writer;
  readonly #now: () => number;
  readonly #limits: Limits;
  readonly #authority: OriginAuthority;
  readonly #cluster: string;
  readonly #random: (n: number) => Uint8Array;
  #subscription: HoldingFilter | undefined;
  #covered: HoldingFilter | undefined;

  constructor(options: EngineOptions) {
    this.nodeId = options.store.nodeId;
    this.#store = options.store;
    this.#writer = new Writer({ ...options, gone: new GoneRecords(options.identity.cluster, options.erasures ?? NO_ERASURES) });
    this.policies = policiesDigest(this.#writer.merge.policies);
    this.#now = () => this.#writer.clock.now();
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
    // A member with a scope writes only inside it: every other node would quarantine the change.
    const scope = this.#authority.writer(this.nodeId)?.scope;
    const checked = scope ? items.map((item) => ({ id: item.id, decide: withinScope(scope, item) })) : items;
    return writeMany(this.#writer, checked, options, this.#now);
  }

  /** The records this node keeps (crdt/holding.ts). */
  holding(): Holding {
    return this.#writer.holding;
  }

  /** The subscription this node declares to peers (undefined: everything its scope allows). */
  subscription(): HoldingFilter | undefined {
    return this.#subscription;
  }

  adopt(id: RecordId, doc: Uint8Array, from: NodeId, complete = false): Promise<Adoption> {
    return adoptRecord(this.#writer, id, doc, from, complete);
  }

  recordDocument(id: RecordId): Promise<Uint8Array | undefined> {
    return recordDocument(this.#writer, id);
  }

  recordsEntering(from: Holding, to: Holding): Promise<RecordId[]> {
    return recordsEntering(this.#store, from, to);
  }

  async evictRecords(ids: readonly RecordId[]): Promise<void> {
    const { durable } = await this.#writer.run(async () => ({ durable: this.#writer.commit(await evictRecords(this.#writer, ids)) }));
    await durable;
  }

  /** Evicts every record outside this node's holding (after it shrank); returns how many. */
  evictOutside(): Promise<number> {
    return evictOutside(this.#writer, this.#store);
  }

  /**
   * Sets what this node keeps: its subscription and its effective holding (the
   * subscription AND its scope), under the write lock, so one ingest sees one holding.
   * Evicts what a changed subscription no longer holds, and works out what the stored
   * data is complete for (coverage.ts); returns how many records were evicted.
   */
  async setHolding(subscription: HoldingFilter | undefined, holding: Holding): Promise<number> {
    await this.#writer.run(() => {
      this.#subscription = subscription;
      this.#writer.holding = holding;
    });
    let evicted = 0;
    this.#covered = await applyCoverage(this.#store, subscription, async () => {
      evicted = await this.evictOutside();
    });
    return evicted;
  }

  storedSubscription(): Promise<HoldingFilter | undefined> {
    return storedSubscription(this.#store);
  }

  coveredOnly(): HoldingFilter | undefined {
    return withinFilter(this.#subscription, this.#covered) ? undefined : this.#covered;
  }

  async markCovered(answered: HoldingFilter | undefined): Promise<void> {
    const subscription = this.#subscription;
    if (await markCovered(this.#store, answered, subscription, this.#covered)) this.#covered = subscription;
  }

  /** Every conflicted field of a record with all concurrent values and their nodes. */
  conflicts(id: RecordId): Promise<FieldConflict[]> {
    return this.#writer.run(async () => {
      const [meta] = await this.#writer.metasFor([id]);
      if (!meta) throw new CrmsyncError('ERR_NOT_FOUND', `record ${id} does not exist`);
      if (meta.view.conflicts.length === 0) return [];
      return recordConflicts(await this.#writer.docFor(id, meta), this.#writer.merge);
    });
  }

  /** A record's change history, oldest first, read from the log (no replay). */
  async history(id: RecordId, limit: number): Promise<HistoryEntry[]> {
    const entries = await this.#store.historyOf(id, limit);
    return entries.map((e) => ({
      node: e.origin, seq: e.seq, at: e.time, fields: e.fields, hash: e.digest !== undefined ? e.digest : changeHash(e.change, e.quarantined !== undefined),
      ...(e.author === undefined ? {} : { author: e.author }), ...(e.quarantined === undefined ? {} : { quarantined: e.quarantined }),
    }));
  }

  /**
   * Makes stored views follow the merge policies whose digest is given: conflicted
   * records are re-derived when the views were derived with other policies. Returns how
   * many views changed.
   */
  adoptPolicies(digest: string): Promise<number> {
    return adoptPolicies(this.#store, this.#writer, digest, this.#limits);
  }

  /** The merge policies views are derived with. */
  get mergePolicies(): MergePolicies {
    return this.#writer.merge.policies;
  }

  /** Re-derives conflicted records' views (a member's role changed: owner-region may pick another value). */
  rederiveConflicted(): Promise<number> {
    return rederiveConflicted(this.#store, this.#writer, this.#limits);
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

  /**
   * Indexes the open conflicts of records stored before the conflict index existed, once
   * per data directory, resuming where an interrupted run stopped (conflict-index.ts).
   */
  indexConflicts(signal?: AbortSignal): Promise<ConflictIndexResult> {
    return indexConflicts(this.#store, this.#writer, this.#limits.conflictIndexPageRecords, signal);
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
    const ids = await recordsNamed(this.#store, new Set(subjects), (id) => this.#writer.gone.subject(id), this.#limits.erasureScanPage);
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

  /** Verifies (and with `repair`, re-derives from their documents) the named records only. */
  verifyIds(ids: readonly RecordId[], options: { repair: boolean }): Promise<VerifyReport> {
    return verifyRecordIds(this.#store, this.#writer, this.#limits, ids, options);
  }

  /** A page of every record's heads and territory in id order (anti-entropy digests; tombstones included). */
  listHeads(after: string | undefined, limit: number): Promise<HeadsPage> {
    return this.#store.listHeads({ ...(after === undefined ? {} : { after }), limit });
  }

  /** The current heads of the named records (undefined for a record this node does not hold). */
  async headsOf(ids: readonly RecordId[]): Promise<(string[] | undefined)[]> {
    return (await this.#store.getMetas(ids)).map((meta) => meta?.state.heads);
  }

  /** Where each record is (territory, owner), undefined for one not held here. */
  async placementsOf(ids: readonly RecordId[]): Promise<(Placement | undefined)[]> {
    return (await this.#store.getMetas(ids)).map((meta) => (meta ? placementOf(meta.view) ?? {} : undefined));
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

  floorsBelow(peerHolds: SeqClock): BaseFloor[] {
    const below: BaseFloor[] = [];
    for (const [origin, floor] of this.#store.floors) {
      if ((peerHolds.get(origin) ?? 0) < floor.seq) below.push({ origin, ...floor });
    }
    return below;
  }

  applyBase(floors: readonly BaseFloor[], from: NodeId): Promise<BaseResult> {
    return applyBase(this.#writer, this.#authority, floors, from);
  }

  async partialRecords(): Promise<RecordId[]> {
    const marked = (await this.#store.stateEntries<boolean>(PARTIAL_PREFIX)).filter(([, mark]) => mark === true).map(([key]) => key.slice(PARTIAL_PREFIX.length) as RecordId);
    if (marked.length === 0) return [];
    // Marks stay on records not held (a stub marks its record wherever it is): only held ones matter.
    const held = new Set<string>();
    for (let after: string | undefined; ;) {
      const ids = await this.#store.recordIds({ ...(after === undefined ? {} : { after }), limit: 10_000 });
      for (const id of ids) held.add(id);
      if (ids.length < 10_000) break;
      after = ids.at(-1);
    }
    return marked.filter((id) => held.has(id));
  }

  recordIds(after: string | undefined, limit: number): Promise<RecordId[]> {
    return this.#store.recordIds({ ...(after === undefined ? {} : { after }), limit });
  }

  /**
   * Removes the longest prefix of the log (at most about `maxEntries` entries) whose
   * entries are all `eligible`, compacting the records it touches first (truncate.ts).
   * Returns the entries removed.
   */
  async truncateLog(eligible: (entry: StoredEntry) => boolean, maxEntries: number): Promise<number> {
    const plan = await planTruncation(this.#store, this.#cluster, eligible, maxEntries);
    return plan ? truncateLog(this.#writer, plan) : 0;
  }

  /** Where the log starts and each origin's floor (status). */
  logState(): { start: number; floors: ReadonlyMap<string, { seq: number }> } {
    return { start: this.#store.logStart, floors: this.#store.floors };
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

  ingest(entries: ChangeEntry[], from: NodeId, onStaged?: () => void): Promise<IngestResult> {
    return ingest(this.#writer, entries, from, this.#authority, onStaged);
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
