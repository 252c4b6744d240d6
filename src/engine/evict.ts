/**
 * Move-out (PROTOCOL.md "Holdings"): a record that a commit leaves outside this node's
 * holding is evicted here, in the same atomic batch: its meta, snapshot, indexes and
 * history go, and its entries keep their place in the log as stubs (their chains and
 * signatures still verify, so relaying is unchanged). This node's own entries keep
 * their bodies: they are its origin's log, which it still owes to peers (an offline
 * edit to a record that moved out meanwhile is pushed, never lost). The record is not
 * deleted anywhere else.
 */
import { stubOf, type LoggedEntry, type StoredEntry } from '../crdt/change-entry.js';
import { holds, holdsAll, placementOf } from '../crdt/holding.js';
import type { Eviction, Mutation } from '../store/store.js';
import type { RecordId } from '../types.js';
import type { Writer } from './writer.js';

/** An entry without the body of a record this node no longer holds (its own entries keep theirs). */
function evictedEntry<T extends LoggedEntry | StoredEntry>(entry: T, self: string): T {
  if (entry.origin === self || entry.digest !== undefined) return entry;
  return { ...stubOf(entry), evicted: true };
}

/**
 * Moves the records of `mutation` that end outside the writer's holding from its
 * record ops to its evictions (under the lock, before commit). Reads their stored history.
 */
export async function evictLeaving(writer: Writer, mutation: Mutation): Promise<void> {
  const holding = writer.holding;
  if (holdsAll(holding)) return;
  await evictOps(writer, mutation, mutation.records.filter((op) => !holds(holding, placementOf(op.after.view))));
}

/**
 * Evicts the records `ids` held here (under the lock, then commit): a region answered our
 * `want` that they lie outside our scope there (its view covers ours), so they left.
 */
export async function evictRecords(writer: Writer, ids: readonly RecordId[]): Promise<Mutation> {
  const metas = await writer.metasFor(ids);
  const mutation: Mutation = { records: [], entries: [], clock: [] };
  ids.forEach((id, i) => { if (metas[i]) mutation.records.push({ id, before: metas[i], after: metas[i]! }); });
  await evictOps(writer, mutation, [...mutation.records]);
  return mutation;
}

async function evictOps(writer: Writer, mutation: Mutation, leaving: Mutation['records']): Promise<void> {
  if (leaving.length === 0) return;
  const ids = new Set<RecordId>(leaving.map((op) => op.id));
  const evictions: Eviction[] = [];
  for (const op of leaving) {
    const stored = op.before ? await writer.historyOf(op.id) : [];
    evictions.push({ id: op.id, before: op.before, view: op.after.view, rewrite: stored.map((e) => evictedEntry(e, writer.nodeId)) });
    writer.forget(op.id);
  }
  mutation.records = mutation.records.filter((op) => !ids.has(op.id));
  mutation.evictions = [...(mutation.evictions ?? []), ...evictions];
  mutation.entries = mutation.entries.map((e) => (ids.has(e.record) ? evictedEntry(e, writer.nodeId) : e));
}
