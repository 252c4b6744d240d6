/**
 * Applying a batch of change entries from a peer, as one atomic commit.
 *
 * The fast path: when a record's stored heads equal a change's deps, the result of
 * applying it is exactly the state the change's author saw afterwards, so the entry's
 * view is stored and the change appended as a chunk without loading the document.
 * Hash and deps are read from the change bytes themselves (change-header.ts), never
 * taken from the peer's word. Only records edited concurrently (or already live in
 * memory) take the slow path through Automerge.
 */
import type { ChangeEntry } from '../crdt/change-entry.js';
import { readChangeHeader } from '../crdt/change-header.js';
import { GENESIS_HASH } from '../crdt/genesis.js';
import { chainHash, classify, type OriginHead } from '../crdt/origin-clock.js';
import { applyRecordChanges, headsOf, isConflictField, materialize, sameHeads, type RecordDoc } from '../crdt/record-doc.js';
import { knownFields } from '../crdt/record-schema.js';
import { CrmsyncError } from '../errors.js';
import type { Mutation, RecordMeta, RecordWriteOp } from '../store/store.js';
import type { NodeId, RecordId } from '../types.js';
import type { Writer } from './writer.js';

/** What ingesting a batch achieved. */
export interface IngestResult {
  /** Entries newly stored. */
  accepted: number;
  /** True if an entry skipped ahead of what we hold: the sender must resend from our clock. */
  gap: boolean;
  /** Origins whose last entry advanced. */
  origins: string[];
}

interface Checked {
  entry: ChangeEntry;
  hash: string;
  deps: string[];
}

/** Ingests entries from `from`; resolves once they are durable. */
export async function ingest(writer: Writer, entries: ChangeEntry[], from: NodeId): Promise<IngestResult> {
  const staged = await writer.run(async () => {
    const { accepted, gap, clock } = checkSequence(writer, entries);
    if (accepted.length === 0) return { result: { accepted: 0, gap, origins: [] }, durable: undefined };
    const byRecord = new Map<RecordId, Checked[]>();
    for (const item of accepted) {
      const list = byRecord.get(item.entry.record);
      if (list) list.push(item);
      else byRecord.set(item.entry.record, [item]);
    }
    const ids = [...byRecord.keys()];
    const metas = await writer.metasFor(ids);
    const records: RecordWriteOp[] = [];
    for (let i = 0; i < ids.length; i++) records.push(await applyToRecord(writer, ids[i]!, metas[i], byRecord.get(ids[i]!)!));
    for (const [origin, head] of clock) writer.advance(origin, head);
    const mutation: Mutation = { records, entries: accepted.map((a) => a.entry), clock: [...clock] };
    return { result: { accepted: accepted.length, gap, origins: [...clock.keys()] }, durable: writer.commit(mutation, from) };
  });
  if (staged.durable) await staged.durable;
  return staged.result;
}

/**
 * Keeps entries that extend each origin's contiguous sequence, drops duplicates, stops
 * at the first gap (later entries may depend on the missing one) and refuses a fork.
 */
function checkSequence(writer: Writer, entries: ChangeEntry[]): { accepted: Checked[]; gap: boolean; clock: Map<string, OriginHead> } {
  const clock = new Map<string, OriginHead>();
  const accepted: Checked[] = [];
  for (const entry of entries) {
    const head = clock.get(entry.origin) ?? writer.heads.get(entry.origin);
    // Our own origin is accepted too when it chains: after a restore from an old backup,
    // peers hand back the changes we made since. A copy that wrote on its own breaks the
    // chain and is caught here like any other fork.
    const acceptance = classify(head, entry);
    if (acceptance === 'duplicate') continue;
    if (acceptance === 'gap') return { accepted, gap: true, clock };
    if (acceptance === 'fork') {
      throw new CrmsyncError(
        'ERR_ORIGIN_FORKED',
        `two different histories were written as node "${entry.origin}" (was a data directory copied?); give one of them a new node id`,
      );
    }
    if (entry.view.id !== entry.record) throw new CrmsyncError('ERR_PROTOCOL', 'change entry view belongs to another record');
    const { hash, deps } = readChangeHeader(entry.change);
    clock.set(entry.origin, { seq: entry.seq, hash: chainHash(hash) });
    accepted.push({ entry, hash, deps });
  }
  return { accepted, gap: false, clock };
}

async function applyToRecord(writer: Writer, id: RecordId, meta: RecordMeta | undefined, items: Checked[]): Promise<RecordWriteOp> {
  let heads = meta?.heads ?? [GENESIS_HASH];
  let view = meta?.view;
  let fast = 0;
  // The fast path appends chunks without loading the document; once a record has too
  // many, take the slow path so recordOp compacts it into one snapshot.
  const compact = (meta?.chunks ?? 0) + items.length > writer.maxDocChunks;
  if (!writer.cache.has(id) && !compact) {
    while (fast < items.length && sameHeads(heads, items[fast]!.deps)) {
      heads = [items[fast]!.hash];
      view = knownFields(items[fast]!.entry.view);
      fast++;
    }
  }
  const chunks = items.map((item) => item.entry.change);
  if (fast === items.length) {
    return writer.recordOp(id, meta, { heads, view: view! }, chunks);
  }
  // Slow path: the document is live, or the changes are concurrent with ours.
  const doc = await writer.docFor(id, meta);
  let next: RecordDoc;
  try {
    next = applyRecordChanges(doc, chunks);
  } catch (err) {
    writer.cache.evict(id); // the handle may hold half-applied state: reload from the store next time
    throw err;
  }
  writer.cache.set(id, next);
  // A conflict needs a new concurrent write to its field, so only fields these changes
  // touched, and fields already in conflict, can be in conflict after the merge.
  const candidates = new Set([...(meta?.view.conflicts ?? []), ...items.flatMap((i) => i.entry.fields)].filter(isConflictField));
  return writer.recordOp(id, meta, { heads: headsOf(next), view: materialize(next, id, [...candidates]) }, chunks, next);
}
