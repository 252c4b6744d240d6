/**
 * Local writes: record edits made on this node become Automerge changes, entries of
 * this node's origin, and one atomic, durable commit per call.
 */
import type { LoggedEntry } from '../crdt/change-entry.js';
import { decodeChange } from '../crdt/change-codec/index.js';
import { applyRecordChanges, materialize, snapshot, writeRecord, type RecordDoc, type RecordWrite } from '../crdt/record-doc.js';
import { emptyView, genesisState, type RecordState } from '../crdt/record-state.js';
import { stateOfDoc } from '../crdt/state-of-doc.js';
import { encodeWrite } from '../crdt/record-encode.js';
import { wouldChange } from '../crdt/record-input.js';
import type { RecordView } from '../crdt/record-schema.js';
import type { Mutation, RecordMeta } from '../store/store.js';
import type { RecordId } from '../types.js';
import { evictLeaving } from './evict.js';
import type { Writer } from './writer.js';

/** One record write of writeMany. */
export interface WriteItem {
  id: RecordId;
  /** Sees the current view (undefined if never written); returns the write or throws to refuse it. */
  decide: (current: RecordView | undefined) => RecordWrite;
}

/** What happened to one item of writeMany. */
export interface WriteResult {
  id: RecordId;
  status: 'created' | 'updated' | 'unchanged' | 'rejected';
  /** The record after the write (or as it was, when unchanged or rejected). */
  view: RecordView | undefined;
  error?: unknown;
}

/** Options of one writeMany call. */
export interface WriteOptions {
  /** Marks the changes in history (e.g. 'import:legacy-crm'). */
  author?: string | undefined;
  /** Small named values made durable in the same batch (an import watermark). */
  state?: [string, unknown][] | undefined;
}

/**
 * Writes to many records as ONE atomic, durable commit. Items whose `decide` throws are
 * reported as rejected and the rest still commit.
 */
export async function writeMany(writer: Writer, items: WriteItem[], options: WriteOptions, now: () => number): Promise<WriteResult[]> {
  const staged = await writer.run(async () => {
    const metas = await writer.metasFor(items.map((item) => item.id));
    const mutation: Mutation = { records: [], entries: [], clock: [], state: options.state };
    const staging: Staging = { mutation, at: new Map() };
    const results: WriteResult[] = [];
    const touched = new Map<RecordId, RecordMeta | undefined>();
    for (let i = 0; i < items.length; i++) {
      const { id, decide } = items[i]!;
      const meta = touched.has(id) ? touched.get(id) : metas[i];
      try {
        writer.gone.assertWritable(id);
        const write = decide(meta?.view);
        const result = await stageWrite(writer, id, meta, write, staging, options.author, now());
        touched.set(id, result.meta);
        results.push({ id, status: result.status, view: result.meta?.view });
      } catch (error) {
        results.push({ id, status: 'rejected', view: meta?.view, error });
      }
    }
    if (mutation.entries.length === 0 && !options.state) return { results, durable: undefined };
    if (mutation.entries.length > 0) mutation.clock = [writer.sealOwn(mutation.entries)];
    await evictLeaving(writer, mutation); // a record this node moved out of its own holding
    return { results, durable: writer.commit(mutation) };
  });
  if (staged.durable) await staged.durable;
  return staged.results;
}

/**
 * The mutation a writeMany call builds, with where each record's op is in it: a batch of
 * 500 looked each record up by scanning the ops staged before it (3 to 4% of a bulk load).
 */
interface Staging {
  mutation: Mutation;
  /** Index in `mutation.records` of each record's op. */
  at: Map<RecordId, number>;
}

/** Applies one write to the live document and appends it to the pending mutation. */
async function stageWrite(writer: Writer, id: RecordId, meta: RecordMeta | undefined, write: RecordWrite, staging: Staging, author: string | undefined, now: number) {
  if (meta && !wouldChange(meta.view, write)) return { status: 'unchanged' as const, meta };
  const { mutation } = staging;
  const earlier = staging.at.get(id);
  // A snapshot staged for this record in this mutation must cover all its changes in it:
  // after one, the record stays on the document path.
  const snapshotStaged = earlier !== undefined && Boolean(mutation.records[earlier]!.snapshot);
  const fast = (meta?.pending ?? 0) < writer.maxPendingChanges && !snapshotStaged
    ? encodeWrite(meta?.state ?? genesisState(), meta?.view ?? emptyView(id), write, { actor: writer.actor, now, author, id })
    : undefined;
  if (fast) {
    writer.cache.evict(id); // a cached document would now be behind: it is reloaded when needed
    const entry: LoggedEntry = {
      origin: writer.nodeId, seq: 0, chain: '', record: id, change: fast.change, time: now, fields: fast.fields,
      ...(author ? { author } : {}),
    };
    return stage(writer, id, meta, staging, earlier, entry, { state: fast.state, view: fast.view }, undefined);
  }
  const doc = await docInMutation(writer, id, meta, mutation, earlier);
  const outcome = writeRecord(doc, id, write, now, author);
  if (!outcome) return { status: 'unchanged' as const, meta };
  writer.cache.set(id, outcome.doc);
  const view = materialize(outcome.doc, id, meta?.view.conflicts ?? [], writer.merge);
  const made = decodeChange(outcome.change);
  const maxOp = made.startOp + made.ops.length - 1;
  const state = stateOfDoc(outcome.doc, maxOp, { actor: made.actor, seq: made.seq });
  // seq and chain are assigned by writer.sealOwn once the whole commit is staged.
  const entry: LoggedEntry = {
    origin: writer.nodeId, seq: 0, chain: '', record: id, change: outcome.change, time: now, fields: outcome.fields,
    ...(author ? { author } : {}),
  };
  return stage(writer, id, meta, staging, earlier, entry, { state, view }, outcome.doc);
}

/**
 * The live document of a record as this mutation leaves it. The cache holds it when the
 * record's last write took the document path; after a document-free write in the same
 * mutation, it is the stored document plus the changes staged since.
 */
async function docInMutation(writer: Writer, id: RecordId, meta: RecordMeta | undefined, mutation: Mutation, earlier: number | undefined): Promise<RecordDoc> {
  const first = earlier === undefined ? undefined : mutation.records[earlier];
  if (!first || writer.cache.has(id)) return writer.docFor(id, meta);
  const stored = await writer.docFor(id, first.before);
  const staged = mutation.entries.filter((e) => e.record === id).map((e) => e.change);
  const doc = applyRecordChanges(stored, staged);
  writer.cache.set(id, doc);
  return doc;
}

/** Adds one written change to the pending mutation; `earlier` is the record's op index in it, if any. */
function stage(writer: Writer, id: RecordId, meta: RecordMeta | undefined, staging: Staging, earlier: number | undefined, entry: LoggedEntry, next: { state: RecordState; view: RecordView }, doc: RecordDoc | undefined) {
  const { mutation } = staging;
  const op = writer.recordOp(id, meta, next, 1, doc);
  // A record written twice in one mutation: one op, from the first one's `before`. A
  // snapshot taken for either covers the document as it is now, with both changes
  // (a document-free write never takes one, and a snapshot needs the document in hand).
  if (earlier !== undefined) {
    const first = mutation.records[earlier]!;
    mutation.records[earlier] = doc && (op.snapshot || first.snapshot)
      ? { id, before: first.before, after: { ...op.after, pending: 0 }, snapshot: snapshot(doc) }
      : { ...op, before: first.before, ...(first.snapshot ? { snapshot: first.snapshot } : {}) };
  } else {
    staging.at.set(id, mutation.records.push(op) - 1);
  }
  mutation.entries.push(entry);
  return { status: meta && !meta.view.deleted ? ('updated' as const) : ('created' as const), meta: op.after };
}
