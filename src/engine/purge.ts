/**
 * Removing records for good: an erased record (a signed erasure every member holds) or
 * a deleted one whose tombstone became collectable. The record's meta, view, snapshot,
 * indexes and history index go. An erased record's entries in the log are rewritten as
 * stubs (same position, chain hash and signature, no body, no author), so every origin's
 * chain still verifies and peers still receive the link; a collected tombstone's keep
 * their bodies (a member restored from an old backup must still receive the delete). One atomic batch per call,
 * after every earlier commit is durable (an entry still queued is stubbed too).
 */
import type { StoredEntry } from '../crdt/change-entry.js';
import type { Mutation, RecordDropOp, Store } from '../store/store.js';
import type { RecordId } from '../types.js';
import { stubOf } from '../crdt/change-entry.js';
import { partialKey } from './partial.js';
import type { Writer } from './writer.js';

/** The stub that replaces a held entry: the author may name a person, so it goes too. */
function redacted(entry: StoredEntry): StoredEntry {
  const { author: _author, ...rest } = stubOf(entry);
  return rest;
}

/**
 * Removes `ids` (see the file comment) with `state` (markers, the erasure watermark) in
 * the same batch; resolves once durable with how many records were held.
 */
export async function purgeRecords(writer: Writer, store: Store, ids: readonly RecordId[], state: [string, unknown][], options: { redact: boolean }): Promise<number> {
  const staged = await writer.run(async () => {
    await writer.settled();
    const metas = await store.getMetas(ids);
    const drop: RecordDropOp[] = [];
    const redact: StoredEntry[] = [];
    for (const [i, id] of ids.entries()) {
      const history = await store.historyOf(id, Number.MAX_SAFE_INTEGER);
      if (!metas[i] && history.length === 0) continue;
      drop.push({ id, before: metas[i], history: history.map((e) => e.localSeq) });
      if (options.redact) for (const entry of history) if (entry.digest === undefined) redact.push(redacted(entry));
      writer.drop(id);
    }
    if (drop.length === 0 && state.length === 0) return { held: 0, durable: undefined };
    // A removed record's partial-history mark (partial.ts) goes with it.
    const marks = drop.map((d): [string, unknown] => [partialKey(d.id), undefined]);
    const mutation: Mutation = { records: [], entries: [], clock: [], drop, redact, state: [...state, ...marks] };
    return { held: drop.length, durable: writer.commit(mutation) };
  });
  if (staged.durable) await staged.durable;
  return staged.held;
}

/**
 * Ids of the records whose subject is in `subjects`: those with a meta, and those held
 * only as log entries (every change quarantined, so never applied: no meta, but the
 * bodies are in the log and name the record's data all the same). One pass over the
 * record keys and one over the history index, `pageSize` ids (limits.erasureScanPage) at a time.
 */
export async function recordsNamed(store: Store, subjects: ReadonlySet<string>, subjectOf: (id: string) => string, pageSize: number): Promise<RecordId[]> {
  const found = new Set<RecordId>(); // a record with a meta usually has history too: once
  for (const list of [store.recordIds.bind(store), store.historyIds.bind(store), store.awayIds.bind(store)]) {
    let after: string | undefined;
    for (;;) {
      const ids = await list({ ...(after === undefined ? {} : { after }), limit: pageSize });
      for (const id of ids) if (subjects.has(subjectOf(id))) found.add(id);
      if (ids.length < pageSize) break;
      after = ids.at(-1);
    }
  }
  return [...found];
}
