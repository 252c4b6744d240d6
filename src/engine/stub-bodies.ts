/**
 * Filling in stubs of records a subscriber holds (PROTOCOL.md "Holdings"). A serving
 * node decides full entry or stub by where the record was when *it* applied the entry,
 * and nodes apply concurrent changes in different orders: a region may send a stub of a
 * change to a record that the subscriber holds (it had the record elsewhere then), and the
 * subscriber's clock then counts the change, so no peer sends it again. Its document
 * would lack that change for good (the simulation found subscribers keeping a record
 * that every region had moved out of their holding).
 *
 * So when the full entry arrives later anyway (from a peer that had the record inside
 * the subscriber's holding at that change), it is not dropped as already held: its body
 * is checked against the stub (the SHA-256 the verified chain binds: nothing else is
 * trusted), applied like any change (quarantine rules alike), the record stored as one
 * snapshot, and the stub rewritten with its body at its position in the log. A record
 * that the change moves out of the holding is evicted, as by any change.
 *
 * This overlaps with asking a region for a partial record's document (`want`, partial.ts)
 * but does not replace it, nor does `want` replace it: over simulation seeds 1 to 1,000,
 * removing this fails 2 seeds (467, 649) that `want` does not repair, and removing
 * `want` fails 22 that this does not (test/sim/subscriptions.test.ts).
 */
import { changeDigest, isStub, type ChangeEntry, type StoredEntry } from '../crdt/change-entry.js';
import { fieldsOf, inspectChange, type ChangeInfo } from '../crdt/change-info.js';
import { schemaViolation } from '../crdt/change-schema.js';
import { holdsAll, placementOf, type HoldingFilter } from '../crdt/holding.js';
import { snapshot } from '../crdt/record-doc.js';
import type { Mutation, RecordMeta, RecordWriteOp } from '../store/store.js';
import type { NodeId, RecordId } from '../types.js';
import { evictLeaving } from './evict.js';
import type { OriginAuthority } from './entry-check.js';
import type { Writer } from './writer.js';

/** A full entry for a stored stub, checked against it. */
export interface StubBody {
  entry: ChangeEntry;
  stored: StoredEntry;
}

/**
 * Full entries of `entries` that this node holds only as stubs, of records it holds.
 * Empty at once for a node that holds everything (it keeps every body it verified).
 */
export async function bodiesForStubs(writer: Writer, entries: readonly ChangeEntry[]): Promise<StubBody[]> {
  if (holdsAll(writer.holding)) return [];
  const seen = entries.filter((e) => !isStub(e) && e.seq <= (writer.heads.get(e.origin)?.seq ?? 0) && !writer.gone.isGone(e.record));
  if (seen.length === 0) return [];
  const records = [...new Set(seen.map((e) => e.record))];
  const metas = await writer.metasFor(records);
  const held = new Set(records.filter((_, i) => metas[i] !== undefined));
  const candidates = seen.filter((e) => held.has(e.record));
  const storedAt = await writer.storedEntries(candidates);
  const found: StubBody[] = [];
  for (const [i, entry] of candidates.entries()) {
    const stored = storedAt[i];
    if (!stored || !isStub(stored) || stored.quarantined !== undefined || stored.record !== entry.record) continue;
    if (changeDigest(entry.change) !== stored.digest) continue; // not the body the chain binds
    found.push({ entry, stored });
  }
  return found;
}

/** The scope an origin's changes must stay within, or undefined. */
type ScopeOf = (origin: string) => HoldingFilter | undefined;

/** A body as ingest applies it; `quarantined` is set on a body it refuses. */
interface BodyItem {
  entry: ChangeEntry;
  chain: string;
  signed: boolean;
  info: ChangeInfo;
  quarantined?: string;
  stored: StoredEntry;
}

/** What applying stub bodies needs from ingest: its per-record application through the document, with quarantine. */
export type ApplyToRecord = (id: RecordId, meta: RecordMeta, items: BodyItem[], scopeOf: ScopeOf) => Promise<RecordWriteOp | undefined>;

/**
 * Applies the bodies (under the writer lock) and queues them as one commit: the records
 * as whole snapshots, the stubs rewritten with their bodies. Bodies that would be
 * quarantined stay stubs (every node that holds them quarantines them). Returns the
 * commit's durability (a later commit of the writer is durable only after it), or
 * undefined when nothing applied.
 */
export async function fillStubs(writer: Writer, bodies: StubBody[], from: NodeId, authority: OriginAuthority, apply: ApplyToRecord): Promise<{ durable: Promise<void> } | undefined> {
  if (bodies.length === 0) return undefined;
  const byRecord = new Map<RecordId, (StubBody & { info: ChangeInfo })[]>();
  for (const body of bodies) {
    let info;
    try {
      info = inspectChange(body.entry.change);
    } catch {
      continue;
    }
    if (info.node !== body.entry.origin || schemaViolation(info.ops, body.entry.origin) !== undefined) continue;
    const list = byRecord.get(body.entry.record) ?? [];
    list.push({ ...body, info });
    byRecord.set(body.entry.record, list);
  }
  const ids = [...byRecord.keys()];
  const metas = await writer.metasFor(ids);
  const mutation: Mutation = { records: [], entries: [], clock: [], restore: [] };
  const scopeOf: ScopeOf = (origin) => authority.writer(origin)?.scope;
  for (let i = 0; i < ids.length; i++) {
    const meta = metas[i];
    if (!meta) continue;
    const items: BodyItem[] = byRecord.get(ids[i]!)!.map((b) => ({ entry: b.entry, chain: b.stored.chain, signed: false, info: b.info, stored: b.stored }));
    // Through the document (the record is stored as one snapshot of it below).
    const op = await apply(ids[i]!, meta, items, scopeOf);
    const doc = writer.cache.get(ids[i]!);
    if (!op || !doc) continue;
    mutation.records.push({ id: op.id, before: meta, after: { ...op.after, snapshotAt: 0, pending: 0 }, snapshot: op.snapshot ?? snapshot(doc), wholeDocument: true });
    const place: StoredEntry['place'] = [placementOf(meta.view) ?? null, placementOf(op.after.view)!];
    for (const item of items) {
      if (item.quarantined !== undefined) continue;
      const { digest: _stub, evicted: _evicted, ...stored } = item.stored;
      mutation.restore!.push({ ...stored, change: item.entry.change, fields: fieldsOf(item.info.ops), time: item.info.time, ...(item.info.message ? { author: item.info.message } : {}), place });
    }
  }
  if (mutation.records.length === 0) return undefined;
  await evictLeaving(writer, mutation);
  // A record these bodies move out of the holding is evicted: its stubs stay stubs.
  const evicted = new Set(mutation.evictions?.map((e) => e.id));
  mutation.restore = mutation.restore!.filter((e) => !evicted.has(e.record));
  const kept = mutation.records;
  return {
    durable: writer.commit(mutation).then(() => {
      for (const op of kept) writer.announceAdopted(op.id, op.after.view, from);
    }),
  };
}
