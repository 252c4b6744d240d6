/**
 * Move-in and subscription changes (PROTOCOL.md "Holdings"). A subscriber skipped the
 * history of records outside its holding as stubs; when a record enters the holding,
 * a region sends the record's whole document, which is adopted here: merged with what
 * the node has of it, checked against the record schema, stored as one snapshot, with
 * the clock unchanged. A shrunk holding evicts what it no longer covers; a grown one
 * needs only the records entering it (recordsEntering), never a restart from zero.
 */
import * as A from '@automerge/automerge';
import { holds, holdsAll, placementOf, type Holding } from '../crdt/holding.js';
import { cloneRecordDoc, freeDoc, headsOf, loadRecordDoc, materialize, sameHeads, snapshot, type RecordDoc } from '../crdt/record-doc.js';
import { recordViewSchema } from '../crdt/record-schema.js';
import { stateOfDoc } from '../crdt/state-of-doc.js';
import { encodeIndexValue } from '../store/indexes.js';
import { CrmsyncError } from '../errors.js';
import type { Mutation, RecordMeta, Store } from '../store/store.js';
import type { NodeId, RecordId } from '../types.js';
import { evictLeaving } from './evict.js';
import { partialKey } from './partial.js';
import type { Writer } from './writer.js';

/**
 * What adopting a record document did; 'partial': adopted, but the record's history here
 * is still partial (partial.ts): a document that was not a `want`'s answer may predate a
 * change this node holds only as a stub. 'gone': the record was erased or its tombstone
 * collected here; nothing is stored.
 */
export type Adoption = 'adopted' | 'partial' | 'unchanged' | 'outside' | 'gone';

/** Records looked at per step of a scan over all records (bounds one read). */
const SCAN_PAGE = 500;

/**
 * Adopts a record document a region vouched for (merged with ours); resolves once
 * durable. A document outside our holding is ignored ('outside'); one that does not
 * load or leaves the record schema is refused (ERR_PROTOCOL). `complete`: the answer to
 * our `want`, sent once the region held what we hold, so it clears the record's mark.
 */
export async function adoptRecord(writer: Writer, id: RecordId, bytes: Uint8Array, from: NodeId, complete = false): Promise<Adoption> {
  // An erased record, or one whose tombstone was collected, never comes back: not from a
  // region that has not applied the erasure yet, nor from an old backup's documents.
  if (writer.gone.isGone(id)) return 'gone';
  const staged = await writer.run(async () => {
    let received: RecordDoc;
    try {
      received = loadRecordDoc([bytes], writer.actor);
    } catch (cause) {
      throw new CrmsyncError('ERR_PROTOCOL', 'a record document does not load', { cause });
    }
    const [meta] = await writer.metasFor([id]);
    let doc = received;
    if (meta) {
      doc = A.merge(cloneRecordDoc(await writer.docFor(id, meta), writer.actor), received);
      freeDoc(received);
    }
    const view = materialize(doc, id);
    if (!recordViewSchema.safeParse(view).success) {
      freeDoc(doc);
      throw new CrmsyncError('ERR_PROTOCOL', 'a record document leaves the record schema');
    }
    const inside = holds(writer.holding, placementOf(view));
    if ((!inside && !meta) || (meta && sameHeads(meta.state.heads, headsOf(doc)))) {
      freeDoc(doc);
      return { result: meta ? ('unchanged' as const) : ('outside' as const), durable: undefined };
    }
    const maxOp = A.getChangesMetaSince(doc, []).reduce((max, c) => Math.max(max, c.maxOp), 0);
    const after: RecordMeta = { state: stateOfDoc(doc, maxOp, meta?.state.local), view, snapshotAt: 0, pending: 0 };
    // The mark (partial.ts): a record that leaves keeps part of its history here, so it is
    // marked; a `want`'s answer holds the history this node lacked, so its mark goes.
    const mark: [string, unknown][] = !inside ? [[partialKey(id), true]] : complete ? [[partialKey(id), undefined]] : [];
    const mutation: Mutation = { records: [{ id, before: meta, after, snapshot: snapshot(doc), wholeDocument: true }], entries: [], clock: [], state: mark };
    writer.cache.evict(id);
    if (!inside) {
      // A record held here that the region's document places outside the holding (its
      // history here was partial): it leaves, as by any change that moves it out.
      freeDoc(doc);
      await evictLeaving(writer, mutation);
      return { result: 'adopted' as const, durable: writer.commit(mutation, from).then(() => undefined) };
    }
    const partial = !complete && (await writer.stateOf(partialKey(id))) === true;
    writer.cache.set(id, doc);
    return { result: partial ? ('partial' as const) : ('adopted' as const), durable: writer.commit(mutation, from).then(() => writer.announceAdopted(id, view, from)) };
  });
  if (staged.durable) await staged.durable;
  return staged.result;
}

/** A record's whole current document (to send to a subscriber), or undefined if not held. */
export async function recordDocument(writer: Writer, id: RecordId): Promise<Uint8Array | undefined> {
  return writer.run(async () => {
    const [meta] = await writer.metasFor([id]);
    return meta ? snapshot(await writer.docFor(id, meta)) : undefined;
  });
}

/** Ids of the records held here that are in `to` but not in `from` (a subscription that grew). */
export async function recordsEntering(store: Store, from: Holding, to: Holding): Promise<RecordId[]> {
  if (holdsAll(from)) return [];
  const candidates = new Set<string>();
  const narrowest = to.at(-1);
  if (!narrowest) {
    await eachRecord(store, (view) => candidates.add(view.id));
  } else {
    for (const [index, names] of [['territory', narrowest.territories], ['owner', narrowest.owners]] as const) {
      for (const name of names ?? []) {
        const prefix = `${index}/${encodeIndexValue(name)}/`;
        for (let after: string | undefined; ;) {
          const keys = await store.scanIndex({ gte: prefix, lt: `${prefix}\uffff`, limit: SCAN_PAGE, ...(after ? { after } : {}) });
          for (const key of keys) candidates.add(key.slice(prefix.length));
          if (keys.length < SCAN_PAGE) break;
          after = keys.at(-1);
        }
      }
    }
  }
  const ids = [...candidates] as RecordId[];
  const metas = await store.getMetas(ids);
  return ids.filter((_, i) => {
    const place = placementOf(metas[i]?.view);
    return metas[i] !== undefined && holds(to, place) && !holds(from, place);
  });
}

/** Evicts every record outside the writer's holding (after the holding shrank); returns how many. */
export async function evictOutside(writer: Writer, store: Store): Promise<number> {
  let count = 0;
  for (let after: string | undefined; ;) {
    const page = await store.listRecords({ limit: SCAN_PAGE, includeDeleted: true, ...(after ? { after } : {}) });
    const leaving = page.views.filter((view) => !holds(writer.holding, placementOf(view)));
    if (leaving.length > 0) {
      count += leaving.length;
      await writer.run(async () => {
        const metas = await writer.metasFor(leaving.map((v) => v.id));
        const mutation: Mutation = { records: [], entries: [], clock: [] };
        leaving.forEach((view, i) => { if (metas[i]) mutation.records.push({ id: view.id, before: metas[i], after: metas[i]! }); });
        await evictLeaving(writer, mutation);
        return writer.commit(mutation);
      });
    }
    if (page.next === undefined) break;
    after = page.next;
  }
  await writer.drain();
  return count;
}

async function eachRecord(store: Store, fn: (view: { id: RecordId }) => void): Promise<void> {
  for (let after: string | undefined; ;) {
    const page = await store.listRecords({ limit: SCAN_PAGE, includeDeleted: true, ...(after ? { after } : {}) });
    page.views.forEach(fn);
    if (page.next === undefined) break;
    after = page.next;
  }
}
