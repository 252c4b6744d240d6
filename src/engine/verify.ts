/**
 * Verification of stored records: every record's document is loaded from its chunks
 * and compared with what the store says about it (heads, and the materialised view
 * readers are served). The view of a record that only ever took the ingest fast path
 * is the one its peer computed, so this is also how a node re-derives what it was told.
 * With `repair`, wrong heads and views (and their indexes) are rewritten from the
 * document; a document that does not load is only reported.
 */
import { isDeepStrictEqual } from 'node:util';
import * as A from '@automerge/automerge';
import { loadRecordDoc, materialize, freeDoc, sameHeads } from '../crdt/record-doc.js';
import { opIdOf, type RecordState } from '../crdt/record-state.js';
import { stateOfDoc } from '../crdt/state-of-doc.js';
import { CrmsyncError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Mutation, RecordMeta, Store } from '../store/store.js';
import type { RecordId } from '../types.js';
import type { Writer } from './writer.js';


/** One record that did not verify. */
export interface VerifyProblem {
  id: string;
  problem: 'heads' | 'view' | 'state' | 'document';
  detail: string;
}

/** What verify() found (and fixed). */
export interface VerifyReport {
  checked: number;
  problems: number;
  repaired: number;
  /** The first `maxReportedProblems` problems. */
  details: VerifyProblem[];
}


/** Checks every record; with `repair`, rewrites wrong heads and views. */
export async function verifyRecords(store: Store, writer: Writer, limits: Pick<Limits, 'verifyPageRecords' | 'maxReportedProblems'>, options: { repair: boolean }): Promise<VerifyReport> {
  const report: VerifyReport = { checked: 0, problems: 0, repaired: 0, details: [] };
  let after: string | undefined;
  for (;;) {
    const page = await store.listRecords({ after, limit: limits.verifyPageRecords, includeDeleted: true });
    const ids = page.views.map((v) => v.id);
    if (ids.length > 0) await writer.run(() => verifyPage(store, writer, ids, options.repair, report, limits.maxReportedProblems));
    if (page.next === undefined) return report;
    after = page.next;
  }
}

/**
 * Checks the named records (those anti-entropy found different from a peer's); with
 * `repair`, rewrites wrong heads and views from their documents. Ids this node does not
 * hold are skipped. Pages of `verifyPageRecords` hold the write lock one at a time.
 */
export async function verifyRecordIds(store: Store, writer: Writer, limits: Pick<Limits, 'verifyPageRecords' | 'maxReportedProblems'>, ids: readonly RecordId[], options: { repair: boolean }): Promise<VerifyReport> {
  const report: VerifyReport = { checked: 0, problems: 0, repaired: 0, details: [] };
  for (let i = 0; i < ids.length; i += limits.verifyPageRecords) {
    const page = ids.slice(i, i + limits.verifyPageRecords);
    await writer.run(() => verifyPage(store, writer, page, options.repair, report, limits.maxReportedProblems));
  }
  return report;
}

async function verifyPage(store: Store, writer: Writer, ids: RecordId[], repair: boolean, report: VerifyReport, maxReported: number): Promise<void> {
  // It reads what is durable: a write queued before this page (not yet durable) would be
  // missed, and a repair of the older state committed after it would put that state back.
  // Per page, not once per call: writes run between pages (each page takes the write lock
  // alone), and with nothing queued this is one resolved promise.
  await writer.settled();
  const metas = await store.getMetas(ids);
  const fixes: Mutation = { records: [], entries: [], clock: [] };
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    const meta = metas[i];
    if (!meta) continue; // written meanwhile under another key order: nothing to compare
    report.checked++;
    const found = await checkRecord(store, writer, id, meta);
    if (!found) continue;
    report.problems++;
    if (report.details.length < maxReported) report.details.push(found.problem);
    if (repair && found.fixed) {
      fixes.records.push({ id, before: meta, after: found.fixed });
      writer.cache.evict(id);
    }
  }
  if (fixes.records.length > 0) {
    await writer.commit(fixes);
    report.repaired += fixes.records.length;
  }
}

async function checkRecord(store: Store, writer: Writer, id: RecordId, meta: RecordMeta): Promise<{ problem: VerifyProblem; fixed?: RecordMeta } | undefined> {
  let doc;
  try {
    doc = loadRecordDoc(await store.documentParts(id, meta), writer.actor);
  } catch (err) {
    const detail = err instanceof CrmsyncError ? err.message : String(err);
    return { problem: { id, problem: 'document', detail } };
  }
  try {
    const view = materialize(doc, id, undefined, writer.merge);
    const history = A.getChangesMetaSince(doc, []);
    const maxOp = history.reduce((max, c) => Math.max(max, c.maxOp), 0);
    const state = stateOfDoc(doc, maxOp, meta.state.local);
    const fixed: RecordMeta = { ...meta, state, view };
    if (!sameHeads(state.heads, meta.state.heads)) return { problem: { id, problem: 'heads', detail: 'stored heads differ from the document' }, fixed };
    if (!isDeepStrictEqual(view, meta.view)) return { problem: { id, problem: 'view', detail: 'stored view differs from the document' }, fixed };
    if (!sameShape(state, meta.state)) return { problem: { id, problem: 'state', detail: 'stored op ids or op counter differ from the document' }, fixed };
    if (!sameClock(state, meta.state) || !knownHeld(history, meta.state)) return { problem: { id, problem: 'state', detail: 'stored actor clock or remembered changes differ from the document' }, fixed };
    return undefined;
  } finally {
    freeDoc(doc);
  }
}

/** The same seq and highest op per actor, where the stored state keeps a clock (states stored before it do not). */
function sameClock(truth: RecordState, stored: RecordState): boolean {
  if (!stored.clock) return true;
  const byActor = (s: RecordState) => Object.fromEntries(s.actors.flatMap((actor, i) => {
    const entry = s.clock?.[i];
    return entry && entry[0] > 0 ? [[actor, entry] as const] : [];
  }));
  return isDeepStrictEqual(byActor(truth), byActor(stored));
}

/** Every change the stored state remembers is in the document, numbered no higher than remembered. */
function knownHeld(history: readonly A.ChangeMetadata[], stored: RecordState): boolean {
  if (!stored.known?.length) return true;
  return stored.known.every(([prefix, maxOp]) => history.some((m) => m.hash.startsWith(prefix) && m.maxOp <= maxOp));
}

/** The same op ids per field and the same highest op counter (actor tables may be ordered differently). */
function sameShape(a: RecordState, b: RecordState): boolean {
  if (a.maxOp !== b.maxOp || (a.notesLength ?? 0) > 0 !== (b.notesLength ?? 0) > 0) return false;
  const ids = (s: RecordState) => Object.fromEntries(Object.entries(s.ops).map(([path, refs]) => [path, refs.map((r) => opIdOf(s, r)).sort()]));
  return isDeepStrictEqual(ids(a), ids(b));
}
