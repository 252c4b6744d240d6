/**
 * Secondary index keys, written behind the records they index.
 *
 * A created record wrote 11.7 index keys in its batch (territory, owner, stage, updated,
 * and 7.7 search tokens derived through NFKC and a Unicode split), and nothing but an
 * index scan reads them. So the batch that creates a record writes none of them: it puts
 * a marker (`idxq/<id>`) and the record joins this backlog; writes to it while it waits
 * only update what the backlog keeps.
 * A write to a record already indexed changes its keys in its own batch, as before. The
 * store writes the waiting keys in batches of its own when writes pause, at the latest
 * every INDEX_MAX_DELAY_MS, when the backlog passes its limit, and before any index scan
 * (LevelStore.scanIndex: a filtered listing, a search, the conflict inbox, a
 * subscription's scan), which also waits for the index batches already queued. Such a
 * scan therefore sees every record written before it started, as when the keys went with
 * each write; what changes is when the work is done.
 *
 * Consistency rests on two rules:
 *  - the backlog keeps each waiting record's newest indexed fields, set while its commit
 *    is built (in call order), so an index batch never needs a read and is never older
 *    than a commit queued before it;
 *  - index batches join the same commit queue, after every commit built before them, so
 *    a later commit that deletes a record's keys finds exactly the keys put for it.
 * The markers make the backlog durable: a node that stops before indexing reads them (and
 * the records' views) when it opens again, and writes every key of those views before it
 * takes a write. So an index batch needs no fsync of its own (LevelStore#writeChained says
 * why a lost one costs nothing), and a third rule holds while the node runs: a waiting
 * record has no index keys on disk, so its writes while it waits need no index work.
 */
import type { RecordView } from '../crdt/record-schema.js';
import type { RecordId } from '../types.js';
import { indexDelta, indexKeyList, indexKeysOf, type IndexSource } from './indexes.js';

/**
 * How long writes must pause before the backlog is indexed. Longer than the gap between
 * two commits of a bulk load (a batch of 500 records took 126 to 137 ms of it here before
 * the backlog, at 253 to 274 µs a record), so a load does not pay for its index keys between batches;
 * short enough that a node idle for a moment has its indexes whole, and a listing rarely
 * has to wait for them.
 */
export const INDEX_QUIET_MS = 250;
/** Records one index batch takes from the backlog: a short turn of the event loop each. */
export const INDEX_CHUNK = 512;
/**
 * Longest time between two index batches while records wait: writes that keep trickling
 * in (live sync, an application's steady edits) never leave INDEX_QUIET_MS of quiet, and
 * the backlog would otherwise wait for its limit, or for a scan that must write it all.
 */
export const INDEX_MAX_DELAY_MS = 5_000;

/** How a backlog writes: puts and deletes of the batch being built. */
export interface IndexOps {
  putIndex(key: string): void;
  delIndex(key: string): void;
  putMarker(id: RecordId): void;
  delMarker(id: RecordId): void;
}

/** Created records whose index keys are not written yet, oldest first, with their newest indexed fields. */
export class IndexBacklog {
  /**
   * Map keeps insertion order, and `set` on a key keeps its place: the oldest is first
   * (after a reopen, those found waiting come first, in id order). Undefined: a record
   * found waiting at open that is no longer stored (only its marker goes).
   */
  readonly #pending = new Map<RecordId, IndexSource | undefined>();
  /** Records waiting. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Adds a record found waiting when the store opened, with its stored view (undefined: no
   * longer stored). The store writes all of these before it takes a write: some may have
   * keys already (put by edits after an index batch a power cut lost), and a put of a key
   * already there changes nothing.
   */
  restore(id: RecordId, view: RecordView | undefined): void {
    this.#pending.set(id, view === undefined ? undefined : sourceOf(view));
  }

  /** The ops of a record written from `before` to `after` into the batch being built. */
  written(before: RecordView | undefined, after: RecordView, ops: IndexOps): void {
    // A record keeps its id: a write that changed it would leave keys under the old one.
    if (before !== undefined && before.id !== after.id) throw new Error(`a write of record ${after.id} holds the view of ${before.id}`);
    if (this.#pending.has(after.id)) {
      this.#pending.set(after.id, sourceOf(after)); // no keys yet: its turn writes the newest
    } else if (before === undefined) {
      ops.putMarker(after.id);
      this.#pending.set(after.id, sourceOf(after));
    } else {
      // Indexed already: its keys change in this batch, as they always did.
      const { removed, added } = indexDelta(before, after);
      for (const key of removed) ops.delIndex(key);
      for (const key of added) ops.putIndex(key);
    }
  }

  /**
   * The keys a reindexed view puts (Mutation.reindex): none for a waiting record, whose
   * turn writes them from its newest fields (a later write would otherwise not delete keys
   * put here: it takes a waiting record's as unwritten).
   */
  reindexKeys(view: RecordView): Iterable<string> {
    return this.#pending.has(view.id) ? [] : indexKeysOf(view);
  }

  /** A record leaves the store (erased, evicted, dropped): it is not indexed later (the caller deletes its view's keys). */
  removed(id: RecordId, ops: Pick<IndexOps, 'delMarker'>): void {
    if (this.#pending.delete(id)) ops.delMarker(id);
  }

  /** Writes the keys of the `count` oldest waiting records into the batch being built; returns how many. */
  take(count: number, ops: IndexOps): number {
    let taken = 0;
    for (const [id, source] of this.#pending) {
      if (taken >= count) break;
      if (source !== undefined) for (const key of indexKeyList(source)) ops.putIndex(key);
      ops.delMarker(id);
      this.#pending.delete(id); // deleting the entry being visited is safe in a Map's iteration
      taken++;
    }
    return taken;
  }
}

/** What the backlog keeps of a view: the fields its index keys come from, not the view (notes, history, custom fields). */
function sourceOf(view: RecordView): IndexSource {
  const { id, name, company, email, territory, owner, stage, updatedAt, conflicts } = view;
  return { id, name, company, email, territory, owner, stage, updatedAt, conflicts };
}
