/**
 * The single writer of a node: every state change (local writes, ingest of peers'
 * entries, verify repairs) is computed under one mutex and committed through here.
 * Internal to src/engine: the sync layer and the node see only Engine.
 *
 * Invariants:
 *  1. Every state-changing computation runs under the mutex (`run`), so writes to one
 *     document are serialised and sequence numbers are assigned in commit order.
 *  2. `#pending` holds each record's newest not-yet-durable meta; writers read it before
 *     the store, readers never do (they only see durable state).
 *  3. A record's document is in `cache` only in its newest state (durable or pending).
 *  4. Events fire only after the commit that caused them is durable.
 *  5. `#heads` is the durable clock plus every queued commit's entries (invariant 1
 *     keeps it consistent): the clock new entries are checked and numbered against.
 *  6. `#pendingChains` holds the chain hash of every queued entry until it is durable,
 *     so `chainAt` answers for every seq `#heads` counts (invariant 5).
 */
import { DEFAULT_MERGE_CONTEXT, type MergeContext } from '../crdt/record-conflicts.js';
import { HybridClock } from './hlc.js';
import { EventEmitter } from 'node:events';
import type { LoggedEntry, StoredEntry } from '../crdt/change-entry.js';
import { chainNext, chainStart, entrySigningInput, type OriginClock, type OriginHead } from '../crdt/origin-clock.js';
import { cloneRecordDoc, headsOf, loadRecordDoc, sameHeads, snapshot, freeDoc, type RecordDoc } from '../crdt/record-doc.js';
import type { RecordView } from '../crdt/record-schema.js';
import { CrmsyncError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { Mutation, RecordMeta, RecordWriteOp, Store } from '../store/store.js';
import type { NodeId, RecordId } from '../types.js';
import type { RecordState } from '../crdt/record-state.js';
import { HOLD_ALL, placementOf, type Holding } from '../crdt/holding.js';
import { DocCache } from './doc-cache.js';
import { GoneRecords, NO_ERASURES } from './gone.js';
import { changeDigest } from './entry-check.js';
import { Mutex } from './mutex.js';

/** Emitted after a change to a record became durable. */
export interface RecordChangeEvent {
  id: RecordId;
  /** 'local' for writes made on this node, 'remote' for changes received from peers. */
  source: 'local' | 'remote';
  /** Node that made the (last) change. */
  origin: NodeId;
  /** The record as it is now. */
  view: RecordView;
  /** Position of the last entry in this node's log (resume point for event streams). */
  localSeq: number;
  /** When the change was made at its origin (ms since epoch); now - time is the sync latency. */
  time: number;
  /**
   * Set when the change moved the record out of this node's holding: the node evicted
   * it (it is not deleted elsewhere); `view` is where it went.
   */
  evicted?: true;
}

/** Events of the writer, fired after durability (invariant 4). */
export interface WriterEvents {
  change: [RecordChangeEvent];
  /** Entries appended to the log; `source` is the peer they came from (null: local). */
  appended: [StoredEntry[], NodeId | null];
}

/** Who this writer writes as: the cluster its chains belong to and the origin's signing key. */
export interface WriterIdentity {
  cluster: string;
  sign(data: Uint8Array): Uint8Array;
}

interface Pending {
  /** Null: the record is being evicted (it leaves the holding). */
  meta: RecordMeta | null;
  durable: Promise<unknown>;
}

/** See the file comment for the invariants. */
export class Writer {
  readonly events = new EventEmitter<WriterEvents>();
  readonly cache: DocCache;
  readonly #store: Store;
  readonly #actor: string;
  readonly #limits: Limits;
  readonly #logger: Logger;
  readonly #mutex = new Mutex();
  readonly #pending = new Map<RecordId, Pending>();
  readonly #heads: Map<string, OriginHead>;
  /** Chain hashes of queued, not yet durable entries, by `origin/seq` (invariant 6). */
  readonly #pendingChains = new Map<string, string>();
  /** The parsed genesis document, cloned for every new record; freed on close. */
  readonly #genesis: RecordDoc;

  readonly #identity: WriterIdentity;
  /**
   * Origins proven to sign two histories, set aside at the seq held then (entry-check.ts
   * FrameContext). In memory: after a restart the fork is proven again by the first peer
   * that offers the other branch.
   */
  readonly setAside = new Map<string, number>();
  /**
   * The records this node keeps (crdt/holding.ts; everything by default). Changed only
   * under the lock (Engine.setHolding), so one ingest sees one holding throughout.
   */
  holding: Holding = HOLD_ALL;

  /** How a conflicted field's shown value is picked (merge policies and members' roles). */
  readonly merge: MergeContext;
  /** The hybrid logical clock stamping this node's changes; ingest shows it every received change's time. */
  readonly clock: HybridClock;

  /** Record ids that never come back (gone.ts): their entries are stubbed, writes to them refused. */
  readonly gone: GoneRecords;
  /** The newest queued commit (purges wait for every earlier one to be durable). */
  #lastCommit: Promise<unknown> = Promise.resolve();

  constructor(options: { store: Store; actor: string; limits: Limits; logger: Logger; identity: WriterIdentity; merge?: MergeContext; now?: () => number; gone?: GoneRecords }) {
    this.gone = options.gone ?? new GoneRecords(options.identity.cluster, NO_ERASURES);
    this.merge = options.merge ?? DEFAULT_MERGE_CONTEXT;
    this.clock = new HybridClock(options.now ?? Date.now, options.limits.maxClockSkewMs);
    this.#identity = options.identity;
    this.#store = options.store;
    this.#actor = options.actor;
    this.#limits = options.limits;
    this.#logger = options.logger;
    this.cache = new DocCache(options.limits.docCacheSize);
    this.#heads = new Map(options.store.clock);
    this.#genesis = loadRecordDoc([], options.actor);
  }

  /** The node whose log this is. */
  get nodeId(): NodeId {
    return this.#store.nodeId;
  }

  /** The Automerge actor of this process's writes. */
  get actor(): string {
    return this.#actor;
  }

  /** Runs `fn` under the write lock (invariant 1). */
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    return this.#mutex.run(fn);
  }

  /** The clock including queued commits (invariant 5); only meaningful under the lock. */
  get heads(): OriginClock {
    return this.#heads;
  }

  /**
   * The chain hash of a held entry (for runs that overlap what we hold): a queued entry's
   * from memory, since the store has it only once durable (invariant 6). Without it, a
   * run overlapping another session's queued commit looked like a fork.
   */
  chainAt(origin: string, seq: number): Promise<string | undefined> {
    const queued = this.#pendingChains.get(`${origin}/${seq}`);
    return queued === undefined ? this.#store.chainAt(origin, seq) : Promise.resolve(queued);
  }

  /**
   * Numbers, chains and signs this node's own entries of one commit (under the lock): the
   * origin signs every `signEveryEntries`-th entry and the last one, and a frame may end
   * at each of them. Returns the clock entry of the commit.
   */
  sealOwn(entries: LoggedEntry[]): [origin: string, head: OriginHead] {
    const self = this.nodeId;
    const start = this.#heads.get(self);
    let chain = start?.hash || chainStart(this.#identity.cluster, self);
    let seq = start?.seq ?? 0;
    entries.forEach((entry, i) => {
      entry.seq = ++seq;
      chain = chainNext(chain, entry, changeDigest(entry.change));
      entry.chain = chain;
      // Every signed entry of our own is a boundary: earlier commits all ended on one, so
      // at this position every origin's last entry is signed and a frame may end here.
      if ((i + 1) % this.#limits.signEveryEntries === 0 || i === entries.length - 1) {
        entry.sig = this.#identity.sign(entrySigningInput(chain));
        entry.boundary = true;
      }
    });
    const head = { seq, hash: chain };
    this.#heads.set(self, head);
    return [self, head];
  }

  /** Per origin, how far this node holds no entries (engine/truncate.ts; durable floors). */
  get floors(): ReadonlyMap<string, { seq: number }> {
    return this.#store.floors;
  }

  /** Records that a queued mutation advances `origin` to `head` (under the lock). */
  advance(origin: string, head: OriginHead): void {
    this.#heads.set(origin, head);
  }

  /** Newest metas of several records, pending or durable (writers only, invariant 2). */
  async metasFor(ids: readonly RecordId[]): Promise<(RecordMeta | undefined)[]> {
    // Take the pending metas before awaiting the read: a pending commit that becomes
    // durable meanwhile leaves `pending`, and its record must not look absent.
    const pendingNow = new Map(ids.map((id) => [id, this.#pending.get(id)?.meta]));
    const missing = ids.filter((id) => pendingNow.get(id) === undefined);
    const stored = missing.length > 0 ? await this.#store.getMetas(missing) : [];
    const byId = new Map(missing.map((id, i) => [id, stored[i]]));
    // null: evicted by a queued commit, absent from now on.
    return ids.map((id) => (pendingNow.get(id) === null ? undefined : pendingNow.get(id) ?? byId.get(id)));
  }

  /** The live document in its newest state, loading it if needed (invariant 3). */
  async docFor(id: RecordId, meta: RecordMeta | undefined): Promise<RecordDoc> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    // A pending commit's chunks are not readable yet: wait until they are durable.
    await this.#pending.get(id)?.durable.catch(() => undefined);
    if (!meta) {
      // A record nobody has written yet: cloning the parsed genesis costs ~0.02 ms, a load ~0.12 ms.
      const fresh = cloneRecordDoc(this.#genesis, this.#actor);
      this.cache.set(id, fresh);
      return fresh;
    }
    const doc = loadRecordDoc(await this.#store.documentParts(id, meta), this.#actor);
    if (!sameHeads(meta.state.heads, headsOf(doc))) {
      freeDoc(doc);
      throw new CrmsyncError('ERR_CORRUPT', `record ${id}: stored document does not match its recorded heads`);
    }
    this.cache.set(id, doc);
    return doc;
  }

  /**
   * Loads the documents of these records into the cache, their LevelDB reads issued at
   * once (each is an iterator over the record's history, then its log entries): a frame
   * of concurrent changes otherwise waits for one read after the other. At most half the
   * cache, so none evicts another before it is used; records with a queued commit are
   * left to docFor (it waits for the commit). A failure is left to docFor too (it throws
   * the same when the document is needed).
   */
  async warmDocuments(records: readonly (readonly [RecordId, RecordMeta | undefined])[]): Promise<void> {
    const room = Math.floor(this.#limits.docCacheSize / 2);
    const cold = records.filter(([id, meta]) => meta !== undefined && !this.cache.has(id) && !this.#pending.has(id)).slice(0, room);
    if (cold.length < 2) return;
    await Promise.all(cold.map(([id, meta]) => this.docFor(id, meta).then(() => undefined, () => undefined)));
  }

  /**
   * Builds the record part of a mutation that adds `changes` changes to the record: it
   * compacts the document into one snapshot once more than `maxDocChunks` changes follow
   * the last one (only possible with the live document in hand).
   */
  recordOp(id: RecordId, before: RecordMeta | undefined, next: { state: RecordState; view: RecordView }, changes: number, doc?: RecordDoc): RecordWriteOp {
    const pending = (before?.pending ?? 0) + changes;
    const after: RecordMeta = { state: next.state, view: next.view, snapshotAt: before?.snapshotAt ?? 0, pending, ...(before?.snapshot ? { snapshot: true } : {}) };
    if (doc && pending > this.#limits.maxDocChunks) return { id, before, after: { ...after, pending: 0 }, snapshot: snapshot(doc) };
    return { id, before, after };
  }

  /** Changes a record may gather after its snapshot before writes take the document path again to compact it. */
  get maxPendingChanges(): number {
    return this.#limits.maxPendingChanges;
  }

  /**
   * Queues a mutation for durability and tracks its metas as pending (invariant 2).
   * Call under the lock; await the result outside it, so concurrent writers share one fsync.
   */
  commit(mutation: Mutation, source: NodeId | null = null): Promise<StoredEntry[]> {
    placeEntries(mutation);
    const durable = this.#store.commit(mutation);
    this.#lastCommit = durable;
    for (const op of mutation.records) this.#pending.set(op.id, { meta: op.after, durable });
    const evicted = mutation.evictions?.map((e) => ({ id: e.id, marker: { meta: null, durable } })) ?? [];
    for (const { id, marker } of evicted) this.#pending.set(id, marker);
    const chains = mutation.entries.map((e) => `${e.origin}/${e.seq}`);
    mutation.entries.forEach((e, i) => this.#pendingChains.set(chains[i]!, e.chain));
    return durable.then(
      (entries) => {
        for (const op of mutation.records) {
          if (this.#pending.get(op.id)?.meta === op.after) this.#pending.delete(op.id);
        }
        for (const { id, marker } of evicted) if (this.#pending.get(id) === marker) this.#pending.delete(id);
        for (const key of chains) this.#pendingChains.delete(key);
        this.#announce(mutation, entries, source);
        return entries;
      },
      (err: unknown) => {
        this.#logger.error({ err }, 'commit failed; the node must be restarted');
        throw err;
      },
    );
  }

  #announce(mutation: Mutation, entries: StoredEntry[], source: NodeId | null): void {
    const last = new Map<RecordId, StoredEntry>();
    for (const entry of entries) last.set(entry.record, entry);
    for (const op of mutation.records) {
      const entry = last.get(op.id);
      if (!entry) continue;
      this.events.emit('change', {
        id: op.id, source: source === null ? 'local' : 'remote', origin: entry.origin, view: op.after.view,
        localSeq: entry.localSeq, time: entry.time,
      });
    }
    for (const eviction of mutation.evictions ?? []) {
      const entry = last.get(eviction.id);
      if (!eviction.before) continue; // never stored here: nothing to say
      // Without an entry, the node's own holding shrank (a subscription change).
      this.events.emit('change', {
        id: eviction.id, source: source === null ? 'local' : 'remote', origin: entry?.origin ?? this.nodeId, view: eviction.view,
        localSeq: entry?.localSeq ?? this.#store.lastLocalSeq, time: entry?.time ?? eviction.view.updatedAt, evicted: true,
      });
    }
    if (entries.length > 0) this.events.emit('appended', entries, source);
  }

  /** Tells listeners a record document adopted from a peer is now held (after it is durable). */
  announceAdopted(id: RecordId, view: RecordView, from: NodeId): void {
    this.events.emit('change', { id, source: 'remote', origin: from, view, localSeq: this.#store.lastLocalSeq, time: view.updatedAt });
  }

  /** A durable node-state value (not one a queued commit still carries). */
  stateOf<T>(key: string): Promise<T | undefined> {
    return this.#store.getState<T>(key);
  }

  /** The durable log entries at `refs` (undefined where not stored; not ones still queued). */
  storedEntries(refs: readonly { origin: string; seq: number }[]): Promise<(StoredEntry | undefined)[]> {
    return this.#store.entriesAt(refs);
  }

  /** A record's stored log entries (for eviction), oldest first. */
  historyOf(id: RecordId): Promise<StoredEntry[]> {
    return this.#store.historyOf(id, Number.MAX_SAFE_INTEGER);
  }

  /** Drops a record's live document (it is being evicted). */
  forget(id: RecordId): void {
    this.cache.evict(id);
  }

  /** Drops what the writer holds of a record removed for good (under the lock). */
  drop(id: RecordId): void {
    this.cache.evict(id);
    this.#pending.delete(id);
  }

  /** Waits until every queued commit is durable (under the lock: then nothing is queued after it). */
  async settled(): Promise<void> {
    await this.#lastCommit.catch(() => undefined);
  }

  /** Waits for all queued work (used by close and tests). */
  async drain(): Promise<void> {
    await this.#mutex.run(() => undefined);
    await Promise.all([...this.#pending.values()].map((p) => p.durable.catch(() => undefined)));
    await this.settled();
  }

  /** Frees every live document. */
  close(): void {
    this.cache.clear();
    freeDoc(this.#genesis);
  }
}

/**
 * Stamps each applied entry with where its record was before and after this commit
 * (StoredEntry.place): what a serving node filters subscribers by.
 */
function placeEntries(mutation: Mutation): void {
  if (mutation.entries.length === 0) return;
  const ops = new Map(mutation.records.map((op) => [op.id, op]));
  for (const entry of mutation.entries) {
    const op = ops.get(entry.record);
    if (!op || entry.digest !== undefined || entry.quarantined !== undefined) continue;
    entry.place = [placementOf(op.before?.view) ?? null, placementOf(op.after.view)!];
  }
}
