/**
 * The search index, written behind the records it indexes.
 *
 * A record's search tokens (indexes.ts: the words of its name and company, its e-mail
 * address) were 7.7 of the 11.7 index keys a bench record wrote, and deriving them (NFKC,
 * a Unicode split) and putting them cost 11 to 13% of a bulk load. Nothing but a search
 * reads them. So a write that creates a record, or changes its name, company or e-mail,
 * only deletes the old tokens and puts a marker (`textq/<id>`) in its batch, and the
 * record joins this backlog; the store indexes the backlog in batches of its own when
 * writes pause, when the backlog passes its limit, and before any search reads the index
 * (LevelStore.scanIndex). A search therefore sees every record written before it started,
 * as it did when the tokens went with each write; what changes is when the work is done.
 *
 * Consistency rests on two rules:
 *  - the backlog keeps each record's newest text fields, set while its commit is built
 *    (in call order), so an index batch never needs a read and is never older than a
 *    commit queued before it;
 *  - index batches join the same commit queue, after every commit built before them, so
 *    a later commit that deletes a record's tokens finds exactly the keys put for it.
 * The markers make the backlog durable: a node that stops before indexing reads them (and
 * the records' views) when it opens again.
 */
import type { RecordView } from '../crdt/record-schema.js';
import type { RecordId } from '../types.js';
import { equalityDelta, indexDelta, indexKeysOf, textKeysOf, textSourceChanged, textSourceOf, type TextSource } from './indexes.js';

/**
 * How long writes must pause before the backlog is indexed. Longer than the gap between
 * two batches of a bulk load (staging 500 records takes 100 to 150 ms here), so a load
 * does not pay for its tokens between batches; short enough that a node idle for a
 * moment has its search index whole, and a search rarely has to wait for it.
 */
export const TEXT_INDEX_QUIET_MS = 250;
/** Records one index batch takes from the backlog: a short turn of the event loop each. */
export const TEXT_INDEX_CHUNK = 512;

/** How a backlog writes: puts and deletes of the batch being built. */
export interface TextIndexOps {
  putIndex(key: string): void;
  delIndex(key: string): void;
  putMarker(id: RecordId): void;
  delMarker(id: RecordId): void;
}

/** Records whose search tokens are not indexed yet, oldest first, with their newest text fields. */
export class TextBacklog {
  /** Map keeps insertion order, and `set` on a key keeps its place: the oldest is first. */
  readonly #pending = new Map<RecordId, TextSource | undefined>();

  /** Records waiting. */
  get size(): number {
    return this.#pending.size;
  }

  /** Adds a record found waiting when the store opened (`source` undefined: it is no longer stored). */
  restore(id: RecordId, source: TextSource | undefined): void {
    this.#pending.set(id, source);
  }

  /**
   * The index keys of a record written from `before` to `after`: equality keys at once,
   * search tokens deferred. Only a record's first write and changes to its text fields
   * touch the search index; its old tokens go in this batch (they were put by an earlier
   * batch, unless the record is still waiting, when there are none).
   */
  written(before: RecordView | undefined, after: RecordView, ops: TextIndexOps): void {
    if (before !== undefined && before.id !== after.id) {
      // Not a write the engine makes (a record keeps its id); indexed at once, as before.
      const { removed, added } = indexDelta(before, after);
      for (const key of removed) ops.delIndex(key);
      for (const key of added) ops.putIndex(key);
      this.removed(before.id, ops);
      this.removed(after.id, ops);
      return;
    }
    const { removed, added } = equalityDelta(before, after);
    for (const key of removed) ops.delIndex(key);
    for (const key of added) ops.putIndex(key);
    if (before !== undefined && !textSourceChanged(before, after)) return;
    const waiting = this.#pending.has(after.id);
    if (before !== undefined && !waiting) for (const key of textKeysOf(before)) ops.delIndex(key);
    if (!waiting) ops.putMarker(after.id);
    this.#pending.set(after.id, textSourceOf(after));
  }

  /**
   * The keys a reindexed view puts (Mutation.reindex): all of them, but a waiting record's
   * search tokens, which its turn in the backlog puts from its newest text fields (a later
   * write would otherwise not delete tokens put here: it takes a waiting record's as unput).
   */
  reindexKeys(view: RecordView): Iterable<string> {
    return this.#pending.has(view.id) ? equalityDelta(undefined, view).added : indexKeysOf(view);
  }

  /** A record leaves the store (erased, evicted, dropped): it is not indexed later. */
  removed(id: RecordId, ops: Pick<TextIndexOps, 'delMarker'>): void {
    if (this.#pending.delete(id)) ops.delMarker(id);
  }

  /** Indexes the `count` oldest waiting records into the batch being built; returns how many. */
  take(count: number, ops: TextIndexOps): number {
    let taken = 0;
    for (const [id, source] of this.#pending) {
      if (taken >= count) break;
      if (source !== undefined) for (const key of textKeysOf(source)) ops.putIndex(key);
      ops.delMarker(id);
      this.#pending.delete(id); // deleting the entry being visited is safe in a Map's iteration
      taken++;
    }
    return taken;
  }
}
