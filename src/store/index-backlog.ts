/**
 * Secondary index keys, written behind the records they index.
 *
 * A created record wrote 11.7 index keys in its batch (territory, owner, stage, updated,
 * and 7.7 search tokens derived through NFKC and a Unicode split), and nothing but an
 * index scan reads them. So the batch that creates a record writes none of them: it puts
 * a marker (`idxq/<id>`) and the record joins this backlog. A later write to a record
 * already indexed changes its equality keys in its own batch, as before, but defers its
 * search tokens when it changes name, company or e-mail: it deletes the old ones and the
 * record waits for its new ones. The store writes the waiting keys in batches of its own
 * when writes pause, when the backlog passes its limit, and before any index scan
 * (LevelStore.scanIndex). A listing, a search or a subscription's scan therefore sees
 * every record written before it started, as when the keys went with each write; what
 * changes is when the work is done.
 *
 * Consistency rests on two rules:
 *  - the backlog keeps each waiting record's newest indexed fields, set while its commit
 *    is built (in call order), so an index batch never needs a read and is never older
 *    than a commit queued before it;
 *  - index batches join the same commit queue, after every commit built before them, so
 *    a later commit that deletes a record's keys finds exactly the keys put for it.
 * The markers make the backlog durable: a node that stops before indexing reads them (and
 * the records' views) when it opens again.
 */
import type { RecordView } from '../crdt/record-schema.js';
import type { RecordId } from '../types.js';
import { equalityDelta, indexDelta, indexKeysOf, textKeysOf, textSourceChanged, type IndexSource } from './indexes.js';

/**
 * How long writes must pause before the backlog is indexed. Longer than the gap between
 * two batches of a bulk load (staging 500 records takes 100 to 150 ms here), so a load
 * does not pay for its index keys between batches; short enough that a node idle for a
 * moment has its indexes whole, and a listing rarely has to wait for them.
 */
export const INDEX_QUIET_MS = 250;
/** Records one index batch takes from the backlog: a short turn of the event loop each. */
export const INDEX_CHUNK = 512;

/** How a backlog writes: puts and deletes of the batch being built. */
export interface IndexOps {
  putIndex(key: string): void;
  delIndex(key: string): void;
  /** `all`: none of the record's keys are written (a new record); else only its search tokens wait. */
  putMarker(id: RecordId, all: boolean): void;
  delMarker(id: RecordId): void;
}

/**
 * A marker's value: what waits. One byte, never none (see MARKER_VALUE in level-store.ts),
 * and part of the storage format.
 */
export const WAITING_ALL: Uint8Array = Uint8Array.of(0);
/** The marker of a record whose equality keys are written and whose search tokens wait. */
export const WAITING_TOKENS: Uint8Array = Uint8Array.of(1);

/** A waiting record: its newest indexed fields, and whether none of its keys are written yet or only its search tokens. */
interface Waiting {
  source: IndexSource | undefined;
  all: boolean;
}

/** Records whose index keys are not all written yet, oldest first, with their newest indexed fields. */
export class IndexBacklog {
  /** Map keeps insertion order, and `set` on a key keeps its place: the oldest is first. */
  readonly #pending = new Map<RecordId, Waiting>();

  /** Records waiting. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Adds a record found waiting when the store opened, with its marker's value. `view`
   * undefined: it is no longer stored, and only its marker goes.
   */
  restore(id: RecordId, view: RecordView | undefined, marker: Uint8Array): void {
    this.#pending.set(id, { source: view === undefined ? undefined : sourceOf(view), all: marker[0] !== WAITING_TOKENS[0] });
  }

  /** The ops of a record written from `before` to `after` into the batch being built. */
  written(before: RecordView | undefined, after: RecordView, ops: IndexOps): void {
    if (before !== undefined && before.id !== after.id) {
      // Not a write the engine makes (a record keeps its id); indexed at once.
      const { removed, added } = indexDelta(before, after);
      for (const key of removed) ops.delIndex(key);
      for (const key of added) ops.putIndex(key);
      this.removed(before.id, ops);
      this.removed(after.id, ops);
      return;
    }
    const waiting = this.#pending.get(after.id);
    if (waiting?.all) {
      waiting.source = sourceOf(after); // none of its keys are written: its turn writes the newest
      return;
    }
    if (before === undefined) {
      if (!waiting) ops.putMarker(after.id, true);
      this.#pending.set(after.id, { source: sourceOf(after), all: true });
      return;
    }
    // Its equality keys are written: they change here, in this batch.
    const { removed, added } = equalityDelta(before, after);
    for (const key of removed) ops.delIndex(key);
    for (const key of added) ops.putIndex(key);
    if (waiting) {
      waiting.source = sourceOf(after);
      return;
    }
    if (!textSourceChanged(before, after)) return;
    for (const key of textKeysOf(before)) ops.delIndex(key);
    ops.putMarker(after.id, false);
    this.#pending.set(after.id, { source: sourceOf(after), all: false });
  }

  /**
   * The keys a reindexed view puts (Mutation.reindex): all of them for a record not
   * waiting; a waiting record's turn puts what it waits for from its newest fields (a later
   * write would otherwise not delete keys put here: it takes a waiting record's as unput).
   */
  reindexKeys(view: RecordView): Iterable<string> {
    const waiting = this.#pending.get(view.id);
    if (!waiting) return indexKeysOf(view);
    return waiting.all ? [] : equalityDelta(undefined, view).added;
  }

  /** A record leaves the store (erased, evicted, dropped): it is not indexed later. */
  removed(id: RecordId, ops: Pick<IndexOps, 'delMarker'>): void {
    if (this.#pending.delete(id)) ops.delMarker(id);
  }

  /** Writes the keys of the `count` oldest waiting records into the batch being built; returns how many. */
  take(count: number, ops: IndexOps): number {
    let taken = 0;
    for (const [id, { source, all }] of this.#pending) {
      if (taken >= count) break;
      if (source !== undefined) for (const key of all ? indexKeysOf(source) : textKeysOf(source)) ops.putIndex(key);
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
