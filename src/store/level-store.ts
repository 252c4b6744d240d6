/**
 * LevelStore: the Store over an abstract-level database (see keys.ts for the schema).
 *
 * Invariants:
 *  1. Every commit is one `batch()` with `sync: true`; callers hear success only after it.
 *  2. Commits are written in call order; commits arriving while a batch is being
 *     written are grouped into the next batch (group commit keeps fsyncs cheap).
 *  3. `clock`, `lastLocalSeq`, counts and the log tail change only after a batch is durable.
 *  4. A failed batch fails the store: every later call throws ERR_STORAGE, because
 *     callers may already hold state derived from the lost batch. Restart to recover.
 *  5. A created record's index keys go in a later batch of the same queue, marked in
 *     `idxq` until then (index-backlog.ts); scanIndex writes them first. A group of such
 *     batches alone is written without fsync: it only writes what its markers make
 *     recoverable, so a machine that loses it indexes those records again when it opens.
 */
import type { AbstractLevel, AbstractSublevel } from 'abstract-level';
import type { StoredEntry } from '../crdt/change-entry.js';
import type { RecordView } from '../crdt/record-schema.js';
import { CrmsyncError, storageError } from '../errors.js';
import { parseNodeId, type NodeId, type RecordId } from '../types.js';
import { createValueCodec } from './codec.js';
import { indexKeysOf } from './indexes.js';
import { INDEX_CHUNK, INDEX_MAX_DELAY_MS, INDEX_QUIET_MS, IndexBacklog, type IndexOps } from './index-backlog.js';
import { FIXED } from '../limits.js';
import { realTimers, type TimerHandle, type Timers } from '../timers.js';
import { fromLogValue, positionOf, toLogValue, type LogValue, type OriginIndexValue } from './log-codec.js';
import { fromMetaValue, toMetaValue } from './meta-codec.js';
import { histKey, logKey, originKey, prefixRange, SCHEMA_VERSION, SUBLEVELS, UPGRADABLE_SCHEMAS, type SublevelName } from './keys.js';
import type { OriginHead } from '../crdt/origin-clock.js';
import type { BatchWrites, Eviction, HeadsPage, LogFloor, Mutation, NodeIdentityRecord, RecordCounts, RecordDropOp, RecordHeads, RecordMeta, RecordPage, Store } from './store.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = AbstractLevel<any, string, Uint8Array>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Sub = AbstractSublevel<any, any, string, Uint8Array>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type BatchOp = { type: 'put'; sublevel: Sub; key: string; value: Uint8Array } | { type: 'del'; sublevel: Sub; key: string };

interface Pending {
  /** A commit (fsynced before it resolves) or an index batch (written without fsync: invariant 5). */
  kind: keyof BatchWrites;
  ops: BatchOp[];
  entries: StoredEntry[];
  mutation: Mutation;
  resolve(entries: StoredEntry[]): void;
  reject(err: unknown): void;
}

/** Options for opening a LevelStore. */
export interface LevelStoreOptions {
  /** The identity of a new store (called only when the store is created). */
  createIdentity: () => NodeIdentityRecord;
  /** Most log entries kept in memory for live pushes (cut back by an eighth when full, TAIL_SLACK). */
  logTailSize: number;
  /** Most mutations grouped into one batch. */
  groupCommitMax: number;
  /** Whether commits are fsynced (always true in production; memory-level ignores it). Index batches never are. */
  sync?: boolean;
  /** Most records whose index keys wait (default FIXED.indexBacklog; tests lower it). */
  indexBacklog?: number;
  /** The clock that says when writes paused (default the real one; simulations pass theirs). */
  timers?: Timers;
}

/**
 * The value of a key that is all there is to it (an index entry, a history entry): one
 * byte, never none. classic-level 3.0.0 copies every key and value it is given into a
 * `new char[size]` and frees the copy only when it is not empty (`DisposeSliceBuffer`),
 * so each zero-length value leaked a small allocation: about 14 per created record, and
 * a node's native memory grew by about 470 bytes a record, for good (94 MB between
 * 100,000 and 300,000 records loaded). Readers never look at these values.
 */
export const MARKER_VALUE: Uint8Array = Uint8Array.of(0);
/**
 * How much of the in-memory log tail is cut off once it holds `logTailSize` entries, as a
 * fraction of that size: the limit stays a maximum. Cutting one entry after every push
 * moved the whole array each time: 18 to 23 µs per live entry at 4,096 entries (measured
 * here), on the writer and on every receiver; cut by 512 at a time, it is 0.1 µs.
 */
const TAIL_SLACK = 1 / 8;
/** Entries chainAt looks through at the end of the in-memory tail before it reads LevelDB. */
const CHAIN_LOOKBACK = 64;
/**
 * Most records read synchronously (getSync) rather than through the thread pool. A read
 * from LevelDB's caches costs ~7 µs on the main thread; an asynchronous one ~30 µs to
 * queue, plus a thread hop each way (measured here): a tenth of a single write's latency.
 * Larger reads (a frame's records, a listing) stay asynchronous, so a cold read of many
 * blocks never stalls the event loop.
 */
const SYNC_READ_MAX = 4;

/**
 * LevelDB's block size for the tables it writes (its default is 4 KiB). LevelDB compresses
 * each block on its own, and a block of 16 KiB holds enough neighbouring records that
 * their repeated field names, common words and the genesis hash compress away: 10,000
 * bench records took 9.5 MB on disk (compacted) with 4 KiB blocks, 7.7 MB with 16 (6.9
 * with 64). The price is a read that misses the block cache: it decompresses the whole
 * block, 13 to 14 µs instead of 9 (35 to 41 µs with 64 KiB; random reads, 1 MB cache).
 * Tables written before keep their blocks; LevelDB reads both.
 */
export const LEVELDB_BLOCK_BYTES = 16 * 1024;

/** Opens (creating if needed) a store in an abstract-level database. */
export async function openLevelStore(db: Db, options: LevelStoreOptions): Promise<LevelStore> {
  try {
    await db.open();
  } catch (cause) {
    throw storageError('opening the data directory', cause);
  }
  const store = new LevelStore(db, options);
  try {
    await store.load(options);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err instanceof CrmsyncError ? err : storageError('reading the data directory', err);
  }
  return store;
}

/** Puts and deletes appended to `ops`: how every batch is built. */
function collector(ops: BatchOp[]): { put(sublevel: Sub, key: string, value: Uint8Array): void; del(sublevel: Sub, key: string): void } {
  return {
    put: (sublevel, key, value) => ops.push({ type: 'put', sublevel, key, value }),
    del: (sublevel, key) => ops.push({ type: 'del', sublevel, key }),
  };
}

/** The mutation of a batch that only writes waiting index keys (it changes nothing a Mutation names). */
const NO_MUTATION: Mutation = { records: [], entries: [], clock: [] };

/** How a log floor is stored (meta/floors, one map for every origin). */
interface StoredFloor {
  s: number;
  h: Uint8Array;
  g: Uint8Array;
  p: Uint8Array;
  r: string;
  d: Uint8Array;
}

/** See the file comment for the invariants. */
export class LevelStore implements Store {
  nodeId!: NodeId;
  identity!: NodeIdentityRecord;
  readonly clock = new Map<string, OriginHead>();
  lastLocalSeq = 0;
  logStart = 1;
  readonly floors = new Map<string, LogFloor>();
  /** Floors as queued commits leave them (written whole to `meta/floors` by each commit that raises one). */
  readonly #pendingFloors = new Map<string, LogFloor>();
  readonly #subs: Record<SublevelName, Sub>;
  readonly #codec = createValueCodec();
  #nextLocalSeq = 0; // assigned at commit() time, ahead of lastLocalSeq by the queued entries
  readonly #queue: Pending[] = [];
  #writing = false;
  /** Resolves when no batch is being written and none is queued (awaited by close). */
  #idle: Promise<void> = Promise.resolve();
  #markIdle: (() => void) | undefined;
  #failed: CrmsyncError | undefined;
  #closed = false;
  /** Reads in progress (compact() waits for them). */
  readonly #reads = new Set<Promise<unknown>>();
  /**
   * Whether `away` may hold keys (only a node that evicted its own changes has any): a
   * history read skips that sublevel otherwise (an empty range read still costs about as
   * much as the history read itself, ~60 µs). Set before the batch that adds one is written.
   */
  #awayKept = false;
  /** Set while a compaction runs: reads wait for it (see compact()). */
  #compacting: Promise<void> | undefined;
  readonly #tail: StoredEntry[] = [];
  #counts: RecordCounts = { live: 0, deleted: 0, conflicted: 0 };
  /** Records whose index keys are not all written yet (index-backlog.ts). */
  readonly #backlog = new IndexBacklog();
  /** When the last commit was called (timers.now()): the backlog is indexed once writes pause. */
  #lastCommitAt = 0;
  /** When the last index batch was queued, or the backlog last became non-empty: see INDEX_MAX_DELAY_MS. */
  #lastIndexedAt = 0;
  /** The last index batch queued, settled once it is written (or failed: then the store is). */
  #lastIndexBatch: Promise<void> = Promise.resolve();
  #backlogTimer: TimerHandle | undefined;
  /** Set when close() starts: no index batch is queued after it (what waits stays marked). */
  #closing = false;
  #pendingCounts: RecordCounts = { live: 0, deleted: 0, conflicted: 0 };
  readonly #batchWrites: BatchWrites = { commit: { batches: 0, seconds: 0 }, index: { batches: 0, seconds: 0 } };

  readonly #db: Db;
  readonly #options: LevelStoreOptions;
  readonly #timers: Timers;
  /** Root keys are utf8 and values views, as the sublevels': prefixed keys can go in as they are. */
  readonly #prefixDirectly: boolean;

  constructor(db: Db, options: LevelStoreOptions) {
    this.#db = db;
    this.#options = options;
    this.#timers = options.timers ?? realTimers;
    this.#prefixDirectly = db.keyEncoding().commonName === 'utf8' && db.valueEncoding().commonName === 'view';
    this.#subs = Object.fromEntries(
      SUBLEVELS.map((name) => [name, db.sublevel<string, Uint8Array>(name, { keyEncoding: 'utf8', valueEncoding: 'view' })]),
    ) as unknown as Record<SublevelName, Sub>;
  }

  /** Reads identity, clock and counters; initialises a new store. */
  async load(options: LevelStoreOptions): Promise<void> {
    const schema = await this.#getValue<number>('meta', 'schema');
    if (schema === undefined) {
      this.identity = options.createIdentity();
      this.nodeId = this.identity.nodeId;
      await this.#putMeta([['schema', SCHEMA_VERSION], ['node', this.identity], ['counts', this.#counts]]);
      return;
    }
    if (UPGRADABLE_SCHEMAS.includes(schema)) {
      // Schema 3 only writes values more compactly (meta-codec.ts, log-codec.ts) and reads
      // schema 2's as they are; schema 4 adds keys an older store has none of (keys.ts):
      // the upgrade is the version, written before anything else.
      await this.#putMeta([['schema', SCHEMA_VERSION]]);
    } else if (schema !== SCHEMA_VERSION) {
      throw new CrmsyncError('ERR_CORRUPT', `data directory has key schema ${schema}; this crmsync reads schema ${SCHEMA_VERSION}` +
        (schema === 1 ? ' (schema 1 logs are unsigned: export the records with the crmsync version that wrote them, `crmsync export`, and import them into a node of the new cluster)' : ''));
    }
    const node = await this.#getValue<NodeIdentityRecord>('meta', 'node');
    this.nodeId = parseNodeId(node?.nodeId);
    this.identity = { ...node!, nodeId: this.nodeId };
    this.#counts = { ...this.#counts, ...(await this.#getValue<RecordCounts>('meta', 'counts')) };
    this.#pendingCounts = { ...this.#counts };
    for await (const [origin, value] of this.#subs.clock.iterator()) this.clock.set(origin, this.#codec.unpack<OriginHead>(value));
    for await (const key of this.#subs.log.keys({ reverse: true, limit: 1 })) this.lastLocalSeq = parseInt(key, 16);
    // A truncation can remove every entry: positions are never reused, so the start counts too.
    this.logStart = (await this.#getValue<number>('meta', 'logStart')) ?? 1;
    this.lastLocalSeq = Math.max(this.lastLocalSeq, this.logStart - 1);
    for (const [origin, f] of Object.entries((await this.#getValue<Record<string, StoredFloor>>('meta', 'floors')) ?? {})) {
      const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
      const floor = { seq: f.s, chain: hex(f.h), sig: new Uint8Array(f.g), prev: hex(f.p), record: f.r, digest: hex(f.d) };
      this.floors.set(origin, floor);
      this.#pendingFloors.set(origin, floor);
    }
    this.#awayKept = (await this.#subs.away.keys({ limit: 1 }).all()).length > 0;
    this.#nextLocalSeq = this.lastLocalSeq;
    await this.#loadBacklog();
  }

  /**
   * Writes the index keys of the records a stopped node left waiting (index-backlog.ts)
   * before the store takes a write, so that a waiting record never has keys on disk while
   * the node runs. Usually at most the backlog's limit and one group of commits (the
   * backlog is indexed down to the limit as each commit is queued): 20,000 waiting made an
   * open take 0.9 to 1.2 s instead of 0.55 to 0.64 (measured here). A machine that lost
   * index batches (not fsynced) left the markers those batches deleted as well; edits
   * after such a batch may have put some of those records' keys, all of them keys of their
   * stored views, so putting every key of the stored view makes each whole. Each chunk is
   * written as it is read, so open holds one chunk of views at a time.
   */
  async #loadBacklog(): Promise<void> {
    const ids = (await this.#subs.idxq.keys().all()) as RecordId[];
    for (let at = 0; at < ids.length; at += INDEX_CHUNK) {
      const chunk = ids.slice(at, at + INDEX_CHUNK);
      const values = await this.#subs.rec.getMany(chunk);
      chunk.forEach((id, i) => {
        const bytes = values[i];
        this.#backlog.restore(id, bytes === undefined ? undefined : fromMetaValue(this.#codec.unpack(bytes)).view);
      });
      await this.#writeWaiting(chunk.length);
    }
  }

  /** Writes `meta` values as one synced batch (outside the commit queue: only while loading). */
  async #putMeta(values: [key: string, value: unknown][]): Promise<void> {
    const ops = values.map(([key, value]) => ({ type: 'put', sublevel: this.#subs.meta, key, value: this.#codec.pack(value) }));
    await this.#db.batch(ops as never, { sync: this.#options.sync ?? true } as never);
  }

  async #getValue<T>(sub: SublevelName, key: string): Promise<T | undefined> {
    const bytes = await this.#subs[sub].get(key);
    return bytes === undefined ? undefined : this.#codec.unpack<T>(bytes);
  }

  #check(): void {
    if (this.#failed) throw this.#failed;
    if (this.#closed) throw new CrmsyncError('ERR_CLOSED', 'the store is closed');
  }

  async #read<T>(action: string, fn: () => Promise<T>): Promise<T> {
    this.#check();
    while (this.#compacting) await this.#compacting;
    this.#check();
    const running = fn();
    this.#reads.add(running);
    try {
      return await running;
    } catch (cause) {
      throw cause instanceof CrmsyncError ? cause : storageError(action, cause);
    } finally {
      this.#reads.delete(running);
    }
  }

  getMeta(id: RecordId): Promise<RecordMeta | undefined> {
    return this.getMetas([id]).then(([meta]) => meta);
  }

  getMetas(ids: readonly RecordId[]): Promise<(RecordMeta | undefined)[]> {
    return this.#read('reading records', async () => {
      const rec = this.#subs.rec;
      // A local write or a live push reads one record: in place, not through the thread pool.
      const values = ids.length <= SYNC_READ_MAX ? ids.map((id) => rec.getSync(id)) : await rec.getMany([...ids]);
      return values.map((bytes) => (bytes === undefined ? undefined : fromMetaValue(this.#codec.unpack(bytes))));
    });
  }

  documentParts(id: RecordId, meta: RecordMeta): Promise<Uint8Array[]> {
    return this.#read('reading a record document', async () => {
      const parts: Uint8Array[] = [];
      if (meta.snapshot || meta.snapshotAt > 0) {
        const snapshot = await this.#subs.doc.get(id);
        if (snapshot === undefined) throw new CrmsyncError('ERR_CORRUPT', `record ${id}: its snapshot is missing`);
        parts.push(snapshot);
      }
      const keys = await this.#subs.hist.keys({ gt: histKey(id, meta.snapshotAt), lt: `${id}0` }).all();
      const values = await this.#subs.log.getMany(keys.map((key) => logKey(parseInt(key.slice(id.length + 1), 16))));
      let applied = 0;
      for (const value of values) {
        if (value === undefined) throw new CrmsyncError('ERR_CORRUPT', `record ${id}: a change of its history is missing from the log`);
        const entry = fromLogValue(this.#codec.unpack(value), 0);
        if (entry.quarantined !== undefined || entry.digest !== undefined) continue;
        parts.push(entry.change);
        applied++;
      }
      if (applied !== meta.pending) throw new CrmsyncError('ERR_CORRUPT', `record ${id} has ${applied} changes after its snapshot, expected ${meta.pending}`);
      return parts;
    });
  }

  commit(mutation: Mutation): Promise<StoredEntry[]> {
    this.#check();
    const entries = mutation.entries.map((entry): StoredEntry => ({ ...entry, localSeq: ++this.#nextLocalSeq }));
    const waited = this.#backlog.size;
    let ops: BatchOp[];
    try {
      ops = this.#buildOps(mutation, entries);
    } catch (cause) {
      // Building a batch moves state ahead of it (the numbering, the counts, the index
      // backlog): a batch that cannot be built leaves that state wrong, so the store fails
      // (invariant 4) rather than index records that were never written.
      this.#failed ??= cause instanceof CrmsyncError ? cause : storageError('building a batch', cause);
      throw this.#failed;
    }
    const now = this.#timers.now();
    this.#lastCommitAt = now;
    if (waited === 0 && this.#backlog.size > 0) this.#lastIndexedAt = now; // the oldest waits from now
    const durable = this.#enqueue('commit', ops, entries, mutation);
    // Behind this commit, never before it (index-backlog.ts); a failure fails the store.
    const excess = this.#backlog.size - (this.#options.indexBacklog ?? FIXED.indexBacklog);
    if (excess > 0) this.#writeWaiting(excess).catch(() => undefined);
    return durable;
  }

  /**
   * Queues a batch writing the index keys of the `count` oldest records of the backlog
   * (index-backlog.ts); resolves once it is written. With nothing to take, it waits for the
   * last such batch queued: records leave the backlog when their batch is built, and a scan
   * must not read the index while their keys are still on the way.
   */
  #writeWaiting(count: number): Promise<void> {
    this.#check();
    if (this.#closing) return this.#lastIndexBatch; // close() writes nothing more: the markers stay
    const ops: BatchOp[] = [];
    const { put, del } = collector(ops);
    if (this.#backlog.take(count, this.#indexOps(put, del)) === 0) return this.#lastIndexBatch;
    this.#lastIndexedAt = this.#timers.now();
    const written = this.#enqueue('index', ops, [], NO_MUTATION).then(() => undefined);
    this.#lastIndexBatch = written.catch(() => undefined); // a failed batch fails the store: reads say so
    return written;
  }

  /** Queues a batch behind every one queued before it (invariant 2); settles once it is written. */
  #enqueue(kind: Pending['kind'], ops: BatchOp[], entries: StoredEntry[], mutation: Mutation): Promise<StoredEntry[]> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ kind, ops, entries, mutation, resolve, reject });
      void this.#flush();
    });
  }

  #indexOps(put: (s: Sub, k: string, v: Uint8Array) => void, del: (s: Sub, k: string) => void): IndexOps {
    const { idx, idxq } = this.#subs;
    return {
      putIndex: (key) => put(idx, key, MARKER_VALUE),
      delIndex: (key) => del(idx, key),
      putMarker: (id) => put(idxq, id, MARKER_VALUE),
      delMarker: (id) => del(idxq, id),
    };
  }

  /**
   * Writes the backlog a batch at a time once writes have paused for INDEX_QUIET_MS, or
   * once INDEX_MAX_DELAY_MS passed since the last batch while writes keep trickling in.
   */
  #scheduleIndexing(): void {
    if (this.#backlogTimer !== undefined || this.#backlog.size === 0 || this.#closing || this.#failed) return;
    const timers = this.#timers;
    this.#backlogTimer = timers.after(this.#indexingDelay(), () => {
      this.#backlogTimer = undefined;
      if (this.#closing || this.#failed) return;
      if (this.#indexingDelay() > 0) return this.#scheduleIndexing();
      this.#writeWaiting(INDEX_CHUNK).then(() => this.#scheduleIndexing(), () => undefined);
    });
  }

  /** How long until the backlog's next batch is due (0: now). A clock that stepped back counts as a pause. */
  #indexingDelay(): number {
    const now = this.#timers.now();
    const sinceCommit = now - this.#lastCommitAt;
    const sinceIndexed = now - this.#lastIndexedAt;
    if (sinceCommit < 0 || sinceCommit >= INDEX_QUIET_MS || sinceIndexed < 0 || sinceIndexed >= INDEX_MAX_DELAY_MS) return 0;
    return Math.min(INDEX_QUIET_MS - sinceCommit, INDEX_MAX_DELAY_MS - sinceIndexed);
  }

  /**
   * Writes the keys of every record that waited when it was called, and waits until every
   * index batch queued before is written: Map order is FIFO, so that many batches from the
   * front cover them all (a record written again since is indexed with fields at least as
   * new as the call), and batches are written in order, so the last one queued covers the
   * rest (those the timer or a commit past the limit queued, or a concurrent scan).
   */
  async #catchUpIndexes(): Promise<void> {
    for (let rounds = Math.ceil(this.#backlog.size / INDEX_CHUNK); rounds > 0 && this.#backlog.size > 0; rounds--) await this.#writeWaiting(INDEX_CHUNK);
    await this.#lastIndexBatch;
  }

  #buildOps(mutation: Mutation, entries: StoredEntry[]): BatchOp[] {
    const subs = this.#subs;
    const codec = this.#codec;
    const ops: BatchOp[] = [];
    const { put, del } = collector(ops);
    const indexOps = this.#indexOps(put, del);
    // A snapshot covers the record's changes in this mutation: it is current up to the last of them.
    const lastOf = new Map<string, number>();
    for (const entry of entries) lastOf.set(entry.record, entry.localSeq);
    for (const op of mutation.records) {
      if (op.snapshot) {
        put(subs.doc, op.id, op.snapshot);
        op.after.snapshot = true;
        op.after.snapshotAt = lastOf.get(op.id) ?? (op.wholeDocument ? this.#nextLocalSeq : op.before?.snapshotAt ?? 0);
      }
      put(subs.rec, op.id, codec.pack(toMetaValue(op.after)));
      this.#backlog.written(op.before?.view, op.after.view, indexOps);
      this.#countDelta(op.before?.view, op.after.view);
    }
    for (const eviction of mutation.evictions ?? []) this.#evictOps(eviction, put, del);
    const evicted = new Set(mutation.evictions?.map((e) => e.id));
    for (const entry of entries) {
      // The copy without localSeq stays: handing toLogValue the entry itself saved the copy's
      // allocation but gave toLogValue ten times the samples of its own in a profile of
      // single writes (50 against 5); why (the entry's shape, likely) was not checked.
      const { localSeq, ...stored } = entry;
      put(subs.log, logKey(localSeq), codec.pack(toLogValue(stored)));
      put(subs.origin, originKey(entry.origin, entry.seq), codec.pack(localSeq satisfies OriginIndexValue));
      // A stub holds none of its record's data: it is no part of the record's history. An
      // evicted record's entries kept whole (this node's own) are indexed apart (`away`).
      if (entry.digest === undefined) put(evicted.has(entry.record) ? this.#awayKey() : subs.hist, histKey(entry.record, localSeq), MARKER_VALUE);
    }
    for (const [origin, head] of mutation.clock) put(subs.clock, origin, codec.pack(head));
    for (const [key, value] of mutation.state ?? []) {
      if (value === undefined) del(subs.state, key);
      else put(subs.state, key, codec.pack(value));
    }
    for (const entry of mutation.redact ?? []) {
      const { localSeq, ...stored } = entry;
      put(subs.log, logKey(localSeq), codec.pack(toLogValue(stored)));
    }
    for (const entry of mutation.restore ?? []) {
      const { localSeq, ...stored } = entry;
      put(subs.log, logKey(localSeq), codec.pack(toLogValue(stored)));
      put(subs.hist, histKey(entry.record, localSeq), MARKER_VALUE);
    }
    for (const drop of mutation.drop ?? []) this.#dropOps(drop, del);
    if (mutation.truncate) {
      for (const e of mutation.truncate.entries) {
        del(subs.log, logKey(e.localSeq));
        del(subs.origin, originKey(e.origin, e.seq));
        del(subs.hist, histKey(e.record, e.localSeq));
        del(subs.away, histKey(e.record, e.localSeq));
      }
      put(subs.meta, 'logStart', codec.pack(mutation.truncate.through + 1));
    }
    if (mutation.floors && mutation.floors.length > 0) {
      for (const [origin, floor] of mutation.floors) {
        if (floor.seq > (this.#pendingFloors.get(origin)?.seq ?? 0)) this.#pendingFloors.set(origin, floor);
      }
      const stored: Record<string, StoredFloor> = {};
      for (const [origin, f] of this.#pendingFloors) {
        stored[origin] = { s: f.seq, h: Buffer.from(f.chain, 'hex'), g: f.sig, p: Buffer.from(f.prev, 'hex'), r: f.record, d: Buffer.from(f.digest, 'hex') };
      }
      put(subs.meta, 'floors', codec.pack(stored));
    }
    for (const view of mutation.reindex ?? []) for (const key of this.#backlog.reindexKeys(view)) put(subs.idx, key, MARKER_VALUE);
    if (mutation.records.length > 0 || (mutation.evictions?.length ?? 0) > 0 || (mutation.drop?.length ?? 0) > 0) put(subs.meta, 'counts', codec.pack(this.#pendingCounts));
    return ops;
  }

  /** The `away` sublevel, for a put into it. */
  #awayKey(): Sub {
    this.#awayKept = true;
    return this.#subs.away;
  }

  #dropOps(drop: RecordDropOp, del: (s: Sub, k: string) => void): void {
    for (const localSeq of drop.history) {
      del(this.#subs.hist, histKey(drop.id, localSeq));
      del(this.#subs.away, histKey(drop.id, localSeq));
    }
    if (drop.before) this.#removeRecordOps(drop.id, drop.before, del);
  }

  /** Deletes a stored record's meta, snapshot and index keys, and takes it out of the counts. */
  #removeRecordOps(id: RecordId, before: RecordMeta, del: (s: Sub, k: string) => void): void {
    del(this.#subs.rec, id);
    del(this.#subs.doc, id); // no snapshot yet: deleting the absent key is a no-op
    for (const key of indexKeysOf(before.view)) del(this.#subs.idx, key);
    this.#backlog.removed(id, { delMarker: (waiting) => del(this.#subs.idxq, waiting) });
    this.#pendingCounts[before.view.deleted ? 'deleted' : 'live']--;
    if (before.view.conflicts.length > 0) this.#pendingCounts.conflicted--;
  }

  #evictOps(eviction: Eviction, put: (s: Sub, k: string, v: Uint8Array) => void, del: (s: Sub, k: string) => void): void {
    const { id, before } = eviction;
    if (before) this.#removeRecordOps(id, before, del);
    for (const entry of eviction.rewrite) {
      const { localSeq, ...stored } = entry;
      del(this.#subs.hist, histKey(id, localSeq));
      // Kept whole (this node's own change): an erasure must still find and redact it.
      if (stored.digest === undefined) put(this.#awayKey(), histKey(id, localSeq), MARKER_VALUE);
      put(this.#subs.log, logKey(localSeq), this.#codec.pack(toLogValue(stored)));
    }
  }

  #countDelta(before: RecordView | undefined, after: RecordView): void {
    if (before) this.#pendingCounts[before.deleted ? 'deleted' : 'live']--;
    this.#pendingCounts[after.deleted ? 'deleted' : 'live']++;
    this.#pendingCounts.conflicted += Number(after.conflicts.length > 0) - Number((before?.conflicts.length ?? 0) > 0);
  }

  /** Invariant 2: one batch in flight; everything queued meanwhile goes in the next. */
  async #flush(): Promise<void> {
    if (this.#writing || this.#queue.length === 0) return;
    if (!this.#markIdle) this.#idle = new Promise((resolve) => (this.#markIdle = resolve));
    this.#writing = true;
    const group = this.#queue.splice(0, this.#options.groupCommitMax);
    const ops = group.length === 1 ? group[0]!.ops : group.flatMap((p) => p.ops); // one commit's ops need no copy
    const counts = { ...this.#pendingCounts };
    try {
      if (this.#failed) throw this.#failed;
      const kind = group.some((pending) => pending.kind === 'commit') ? 'commit' : 'index';
      const seconds = await this.#writeChained(ops, kind === 'commit');
      this.#batchWrites[kind].batches++;
      this.#batchWrites[kind].seconds += seconds;
    } catch (cause) {
      this.#failed ??= cause instanceof CrmsyncError ? cause : storageError('writing a batch', cause);
      for (const pending of [...group, ...this.#queue.splice(0)]) pending.reject(this.#failed);
      this.#writing = false;
      this.#settleIdle();
      return;
    }
    this.#counts = counts;
    for (const pending of group) this.#applyDurable(pending);
    this.#writing = false;
    for (const pending of group) pending.resolve(pending.entries);
    if (this.#queue.length === 0) {
      this.#settleIdle();
      this.#scheduleIndexing();
    } else void this.#flush();
  }

  /**
   * Writes ops as one atomic batch, with `fsync` or without; returns the seconds from
   * handing it to LevelDB until this thread saw it written. A chained batch, not
   * `db.batch(array)`: abstract-level prepares an array batch at ~12 µs per operation
   * against ~3 µs for a chained one (measured here), and a created record is about 16
   * operations.
   *
   * A group of index batches alone is not fsynced (invariant 5): a process that crashes
   * still has it written (the kernel holds LevelDB's log), and one that the machine loses
   * leaves the markers it would have deleted, whatever later commits survive. Those change
   * an indexed record's keys by the difference between two of its views, so the keys they
   * leave are keys of the record's stored view; at open every key of the stored view of
   * each record a marker names is put (#loadBacklog) before any write. The index ends as
   * if the batch had been written: the seeded test in test/store/index-backlog.test.ts
   * loses such batches among writes, erasures and reopens. A record created alone after a
   * pause paid a second fsync for its keys without this.
   */
  async #writeChained(ops: BatchOp[], fsync: boolean): Promise<number> {
    const batch = this.#db.batch();
    try {
      if (this.#prefixDirectly) {
        // The sublevel's prefix joined here: the same keys, without abstract-level's
        // per-operation sublevel handling (a third of a bulk load's store time).
        for (const op of ops) {
          if (op.type === 'put') batch.put(op.sublevel.prefix + op.key, op.value);
          else batch.del(op.sublevel.prefix + op.key);
        }
      } else {
        for (const op of ops) {
          if (op.type === 'put') batch.put(op.key, op.value, { sublevel: op.sublevel } as never);
          else batch.del(op.key, { sublevel: op.sublevel } as never);
        }
      }
    } catch (err) {
      await batch.close();
      throw err;
    }
    const started = performance.now();
    await batch.write({ sync: fsync && (this.#options.sync ?? true) } as never);
    return (performance.now() - started) / 1000;
  }

  #settleIdle(): void {
    this.#markIdle?.();
    this.#markIdle = undefined;
  }

  #applyDurable(pending: Pending): void {
    for (const [origin, head] of pending.mutation.clock) this.clock.set(origin, head);
    for (const [origin, floor] of pending.mutation.floors ?? []) {
      if (floor.seq > (this.floors.get(origin)?.seq ?? 0)) this.floors.set(origin, floor);
    }
    const truncated = pending.mutation.truncate?.through;
    if (truncated !== undefined && truncated >= this.logStart) {
      this.logStart = truncated + 1;
      const drop = this.#tail.findIndex((e) => e.localSeq > truncated);
      this.#tail.splice(0, drop < 0 ? this.#tail.length : drop);
    }
    // The in-memory tail must not keep bodies an eviction or an erasure just dropped (live
    // pushes must send the stubs), nor stubs whose bodies were just restored.
    const rewritten = [...(pending.mutation.evictions ?? []).flatMap((e) => e.rewrite), ...(pending.mutation.redact ?? []), ...(pending.mutation.restore ?? [])];
    const first = this.#tail[0]?.localSeq;
    for (const entry of rewritten) {
      if (first !== undefined && entry.localSeq >= first && entry.localSeq - first < this.#tail.length) this.#tail[entry.localSeq - first] = entry;
    }
    for (const entry of pending.entries) {
      this.lastLocalSeq = entry.localSeq;
      this.#tail.push(entry);
    }
    const size = this.#options.logTailSize;
    if (this.#tail.length > size) this.#tail.splice(0, this.#tail.length - size + Math.floor(size * TAIL_SLACK));
  }

  readLog(from: number, maxEntries: number, maxBytes: number): Promise<StoredEntry[]> {
    return this.#read('reading the change log', async () => {
      const out: StoredEntry[] = [];
      let bytes = 0;
      // A read ends at a boundary (the end of a commit, where every origin's last entry is
      // signed), so any read can be sent as it is: it may run past the limits to reach one.
      const take = (entry: StoredEntry): boolean => {
        out.push(entry);
        bytes += entry.change.length + 96;
        return !entry.boundary || (out.length < maxEntries && bytes < maxBytes);
      };
      const first = this.#tail[0];
      if (first && from >= first.localSeq) {
        for (let i = from - first.localSeq; i < this.#tail.length; i++) if (!take(this.#tail[i]!)) break;
        return out;
      }
      for await (const [key, value] of this.#subs.log.iterator({ gte: logKey(from), lte: logKey(this.lastLocalSeq) })) {
        if (!take(fromLogValue(this.#codec.unpack(value), parseInt(key, 16)))) break;
      }
      return out;
    });
  }

  entriesAt(refs: readonly { origin: string; seq: number }[]): Promise<(StoredEntry | undefined)[]> {
    return this.#read('reading log entries', async () => {
      if (refs.length === 0) return [];
      const index = await this.#subs.origin.getMany(refs.map((r) => originKey(r.origin, r.seq)));
      const seqs = index.map((bytes) => (bytes === undefined ? undefined : positionOf(this.#codec.unpack<OriginIndexValue>(bytes))));
      const held = seqs.filter((s): s is number => s !== undefined);
      const values = await this.#subs.log.getMany(held.map((s) => logKey(s)));
      const bySeq = new Map(held.map((s, i) => [s, values[i]]));
      return seqs.map((s) => {
        const bytes = s === undefined ? undefined : bySeq.get(s);
        return bytes === undefined || s === undefined ? undefined : fromLogValue(this.#codec.unpack(bytes), s);
      });
    });
  }

  localSeqOf(origin: string, seq: number): Promise<number | undefined> {
    return this.#read('reading the origin index', async () => {
      const value = await this.#getValue<OriginIndexValue>('origin', originKey(origin, seq));
      return value === undefined ? undefined : positionOf(value);
    });
  }

  chainAt(origin: string, seq: number): Promise<string | undefined> {
    // Live sync asks for the entry just before the one it sends or checks: it is usually
    // among the last few in memory, and an entry's chain hash never changes.
    this.#check();
    for (let i = this.#tail.length - 1, n = 0; i >= 0 && n < CHAIN_LOOKBACK; i--, n++) {
      const entry = this.#tail[i]!;
      if (entry.seq === seq && entry.origin === origin) return Promise.resolve(entry.chain);
    }
    return this.#read('reading the origin index', async () => {
      const value = await this.#getValue<OriginIndexValue>('origin', originKey(origin, seq));
      if (value !== undefined && typeof value !== 'number') return Buffer.from(value.h).toString('hex'); // schema 2
      // The hash is the log entry's; a truncation between the two reads leaves the floor.
      const entry = value === undefined ? undefined : await this.#getValue<LogValue>('log', logKey(value));
      if (entry === undefined) {
        const floor = this.floors.get(origin);
        return floor?.seq === seq ? floor.chain : undefined;
      }
      return Buffer.from(entry.h).toString('hex');
    });
  }

  listRecords(options: { after?: string; limit: number; includeDeleted: boolean }): Promise<RecordPage> {
    return this.#read('listing records', async () => {
      const views: RecordView[] = [];
      let last: string | undefined;
      const range = options.after === undefined ? {} : { gt: options.after };
      for await (const [key, value] of this.#subs.rec.iterator(range)) {
        last = key;
        const meta = fromMetaValue(this.#codec.unpack(value));
        if (options.includeDeleted || !meta.view.deleted) views.push(meta.view);
        if (views.length >= options.limit) return { views, next: last };
      }
      return { views, next: undefined };
    });
  }

  listHeads(options: { after?: string; limit: number }): Promise<HeadsPage> {
    return this.#read('listing record heads', async () => {
      const records: RecordHeads[] = [];
      for await (const [key, value] of this.#subs.rec.iterator({ ...(options.after === undefined ? {} : { gt: options.after }), limit: options.limit })) {
        const meta = fromMetaValue(this.#codec.unpack(value));
        records.push({ id: key as RecordId, heads: meta.state.heads, territory: meta.view.territory ?? null });
      }
      return { records, next: records.length < options.limit ? undefined : records[records.length - 1]!.id };
    });
  }

  async scanIndex(range: { gte: string; lt: string; after?: string; limit: number }): Promise<string[]> {
    // Index keys wait in a backlog (index-backlog.ts): a scan writes them first.
    await this.#catchUpIndexes();
    return this.#read('reading an index', () =>
      // abstract-level lets `gte` win over `gt`: pass exactly one lower bound.
      this.#subs.idx
        .keys({ lt: range.lt, limit: range.limit, ...(range.after !== undefined && range.after >= range.gte ? { gt: range.after } : { gte: range.gte }) })
        .all(),
    );
  }

  historyOf(id: RecordId, limit: number): Promise<StoredEntry[]> {
    return this.#read('reading record history', async () => {
      const subs = this.#awayKept ? [this.#subs.hist, this.#subs.away] : [this.#subs.hist];
      const keys = (await Promise.all(subs.map((sub) => sub.keys({ ...prefixRange(id), limit }).all()))).flat();
      const seqs = keys.map((key) => parseInt(key.slice(id.length + 1), 16)).sort((a, b) => a - b).slice(0, limit);
      const values = await this.#subs.log.getMany(seqs.map((s) => logKey(s)));
      return values.flatMap((bytes, i) => (bytes ? [fromLogValue(this.#codec.unpack(bytes), seqs[i]!)] : []));
    });
  }

  recordIds(options: { after?: string; limit: number }): Promise<RecordId[]> {
    return this.#read('listing record ids', async () =>
      (await this.#subs.rec.keys({ ...(options.after === undefined ? {} : { gt: options.after }), limit: options.limit }).all()) as RecordId[]);
  }

  historyIds(options: { after?: string; limit: number }): Promise<RecordId[]> {
    return this.#read('listing record histories', () => this.#idsIn(this.#subs.hist, options));
  }

  awayIds(options: { after?: string; limit: number }): Promise<RecordId[]> {
    return this.#read('listing records changed here but no longer held', () => this.#idsIn(this.#subs.away, options));
  }

  /** Distinct record ids of a `recordId/localSeq` keyed sublevel, a page at a time. */
  async #idsIn(sub: Sub, options: { after?: string; limit: number }): Promise<RecordId[]> {
    const ids: RecordId[] = [];
    // `${id}0` sorts right after every `${id}/…` key ('0' follows '/'): one seek per
    // record skips its history, so a page costs `limit` seeks, not a walk of the log.
    const keys = sub.keys(options.after === undefined ? {} : { gte: `${options.after}0` });
    try {
      while (ids.length < options.limit) {
        const key = await keys.next();
        if (key === undefined) break;
        const id = key.slice(0, key.indexOf('/'));
        ids.push(id as RecordId);
        keys.seek(`${id}0`);
      }
    } finally {
      await keys.close();
    }
    return ids;
  }

  stateEntries<T>(prefix: string): Promise<[key: string, value: T][]> {
    return this.#read('reading node state', async () => {
      const out: [string, T][] = [];
      // '\uffff' sorts after every character a state key uses.
      for await (const [key, value] of this.#subs.state.iterator({ gte: prefix, lt: `${prefix}\uffff` })) out.push([key, this.#codec.unpack<T>(value)]);
      return out;
    });
  }

  recordCounts(): RecordCounts {
    this.#check(); // a failed store says so here too: status and readiness must not look healthy
    return { ...this.#counts };
  }

  indexBacklog(): number {
    return this.#backlog.size;
  }

  batchWrites(): BatchWrites {
    const { commit, index } = this.#batchWrites;
    return { commit: { ...commit }, index: { ...index } };
  }

  trustStatements(): Promise<unknown[]> {
    return this.#read('reading the trust list', async () => (await this.#subs.trust.values().all()).map((bytes) => this.#codec.unpack(bytes)));
  }

  saveTrust(statements: readonly { hash: string; value: unknown }[]): Promise<void> {
    return this.#read('writing the trust list', async () => {
      const batch = this.#subs.trust.batch();
      for (const { hash, value } of statements) batch.put(hash, this.#codec.pack(value));
      await batch.write({ sync: this.#options.sync ?? true } as never);
    });
  }

  putState(entries: readonly [key: string, value: unknown][]): Promise<void> {
    return this.#read('writing node state', async () => {
      const batch = this.#subs.state.batch();
      for (const [key, value] of entries) {
        if (value === undefined) batch.del(key);
        else batch.put(key, this.#codec.pack(value));
      }
      await batch.write({ sync: this.#options.sync ?? true } as never);
    });
  }

  getState<T>(key: string): Promise<T | undefined> {
    return this.#read('reading node state', () => this.#getValue<T>('state', key));
  }

  async compact(): Promise<void> {
    // Erased values must leave the files. LevelDB keeps a value through a compaction for any
    // read that could still see it (an iterator's snapshot), and keeps a compaction's input
    // files on disk while any read holds the version that lists them (they are deleted at
    // the next compaction, which may be days away). So no read may run during one: reads
    // that started before wait here, reads that start meanwhile wait in #read.
    while (this.#compacting) await this.#compacting;
    let done!: () => void;
    this.#compacting = new Promise<void>((resolve) => (done = resolve));
    try {
      await Promise.allSettled([...this.#reads]);
      this.#check();
      const db = this.#db as unknown as { compactRange?: (start: string, end: string) => Promise<void> };
      // Every key of every sublevel sorts between these ('!' is the sublevel prefix).
      if (typeof db.compactRange === 'function') await db.compactRange('\u0000', '\uffff');
    } catch (cause) {
      throw cause instanceof CrmsyncError ? cause : storageError('compacting the data directory', cause);
    } finally {
      this.#compacting = undefined;
      done();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // No index batch from here on: what waits stays marked in `idxq`, written after the next open.
    this.#closing = true;
    this.#backlogTimer?.cancel();
    this.#backlogTimer = undefined;
    // Let queued commits finish first: their callers are waiting for durability. A commit
    // can be queued while a compaction runs: drain again after it.
    while (this.#writing || this.#queue.length > 0 || this.#compacting) {
      await this.#idle;
      if (this.#compacting) await this.#compacting;
    }
    this.#closed = true;
    await this.#db.close();
  }
}
