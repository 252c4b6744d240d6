/**
 * Applying a frame of change entries from a peer, as one atomic commit. Nothing is
 * stored that was not verified:
 *  1. entry-check.ts: each origin's run comes from a member allowed to write, extends
 *     the held history and carries the origin's signature over the chain we compute;
 *  2. every change body is parsed completely and must be written by its origin's actor;
 *  3. each record's changes are applied through Automerge and the resulting view must
 *     satisfy the record schema. The view is derived here, from verified changes: no
 *     peer's view is ever stored.
 * An entry that fails 2 or 3 is quarantined: kept in the log (its chain and signature
 * remain valid, so the origin's later entries still verify) but never applied, with
 * the reason, on every node alike. The rest of the frame proceeds.
 */
import { isStub, stubOf, type ChangeEntry, type LoggedEntry } from '../crdt/change-entry.js';
import { holds, holdsAll, placementOf, scopeViolation, type HoldingFilter } from '../crdt/holding.js';
import { fieldsOf, inspectChange, type ChangeInfo } from '../crdt/change-info.js';
import { derivedViewFits, schemaViolation } from '../crdt/change-schema.js';
import { applyRecordChanges, cloneRecordDoc, freeDoc, materialize, misnumbered, placementAt, type RecordDoc } from '../crdt/record-doc.js';
import { isConflictField } from '../crdt/record-conflicts.js';
import { recordViewSchema, type RecordView } from '../crdt/record-schema.js';
import { applySimple, emptyView, genesisState, type RecordState } from '../crdt/record-state.js';
import { stateOfDoc } from '../crdt/state-of-doc.js';
import { CrmsyncError } from '../errors.js';
import type { Mutation, RecordMeta, RecordWriteOp } from '../store/store.js';
import type { NodeId, RecordId } from '../types.js';
import { checkFrame, type ForkEvidence, type OriginAuthority } from './entry-check.js';
import { evictLeaving } from './evict.js';
import { bodiesForStubs, fillStubs } from './stub-bodies.js';
import { partialKey } from './partial.js';
import { BASED_KEY } from './truncate.js';
import type { Writer } from './writer.js';

/** What ingesting a frame achieved. */
export interface IngestResult {
  /** Entries newly stored (quarantined ones included). */
  accepted: number;
  /** Entries stored but not applied (see the file comment). */
  quarantined: number;
  /** True if a run skipped ahead of what we hold: nothing was stored; the sender must resend from our clock. */
  gap: boolean;
  /** Origins the trust list does not know (yet): nothing was stored; the sender must send its trust statements, then resend. */
  untrusted: string[];
  /** Origins whose last entry advanced. */
  origins: string[];
  /** Third origins this frame proved to sign two histories: set aside from now on (nothing more of them is taken). */
  forks: ForkEvidence[];
  /**
   * Records held here whose history this node has only in part: a change of them came
   * as a stub, now or before they were held (a region's `want` answer completes them).
   */
  incomplete?: RecordId[];
}

interface Item {
  entry: ChangeEntry;
  chain: string;
  /** Signed and last of its origin in this frame: the signature is stored with it. */
  signed: boolean;
  info?: ChangeInfo;
  quarantined?: string;
  /** A stub (change-entry.ts): stored for the chain, never applied. */
  stub?: true;
  /**
   * Came whole but could not apply to a record not held here (its history came as stubs,
   * so this node cannot judge it), so kept as a stub (keepHeld).
   */
  unapplied?: true;
}

/**
 * Ingests a frame from `from`; resolves once it is durable. `onStaged` is called once
 * the frame's commit is queued (or nothing is to be stored): from then on the writer's
 * clock, metas and chains include it (writer.ts invariants 2, 5, 6), so the next frame
 * can be checked and applied while this one is written.
 */
export async function ingest(writer: Writer, entries: ChangeEntry[], from: NodeId, authority: OriginAuthority, onStaged?: () => void): Promise<IngestResult> {
  const staged = await writer.run(async () => {
    // Bodies of changes held here only as stubs, of records held here (stub-bodies.ts):
    // queued first, so what follows in this frame builds on them.
    await fillStubs(writer, await bodiesForStubs(writer, entries), from, authority, (id, meta, items, scopeOf) => applyToRecord(writer, id, meta, items, scopeOf, undefined));
    const context = { sender: from, self: writer.nodeId, setAside: writer.setAside, floors: writer.floors };
    const check = await checkFrame(entries, writer.heads, authority, (origin, seq) => writer.chainAt(origin, seq), context);
    if (!('runs' in check)) {
      const untrusted = 'untrusted' in check ? check.untrusted : [];
      return { result: { accepted: 0, quarantined: 0, gap: 'gap' in check, untrusted, origins: [], forks: [] }, durable: undefined };
    }
    const forks = check.forks;
    for (const evidence of forks) writer.setAside.set(evidence.origin, writer.heads.get(evidence.origin)?.seq ?? 0);
    const items = new Map<ChangeEntry, Item>();
    for (const run of check.runs) {
      run.fresh.forEach((entry, i) => {
        const signed = i === run.fresh.length - 1;
        // A stub stands for a change this node does not hold: its chain verified, nothing to apply.
        // An erased record (or one whose tombstone was collected) never comes back: its
        // entries, verified with their bodies above, are kept as stubs only.
        const kept = !isStub(entry) && writer.gone.isGone(entry.record) ? stubOf(entry) : entry;
        items.set(entry, isStub(kept) ? { entry: kept, chain: run.chains[i]!, signed, stub: true } : inspect(kept, run.chains[i]!, signed));
      });
    }
    const ordered = entries.filter((e) => items.has(e)).map((e) => items.get(e)!);
    for (const item of ordered) if (item.info) writer.clock.observe(item.info.time);
    // Nothing new, but what we hold of it may sit in a commit still queued (taken from
    // another peer a moment ago): resolve once that is durable, so the ack reports it.
    if (ordered.length === 0) return { result: { accepted: 0, quarantined: 0, gap: false, untrusted: [], origins: [], forks }, durable: writer.settled() };
    const records = await keepHeld(writer, await applyByRecord(writer, ordered, authority), ordered);
    const logged = ordered.map(toLogged);
    logged[logged.length - 1]!.boundary = true;
    const clock = new Map<string, { seq: number; hash: string }>();
    for (const item of ordered) clock.set(item.entry.origin, { seq: item.entry.seq, hash: item.chain });
    for (const [origin, head] of clock) writer.advance(origin, head);
    const mutation: Mutation = { records, entries: logged, clock: [...clock] };
    await evictLeaving(writer, mutation); // records this frame moves out of our holding
    const incomplete = await markPartial(writer, mutation, ordered);
    const quarantined = ordered.filter((i) => i.quarantined !== undefined).length;
    return { result: { accepted: ordered.length, quarantined, gap: false, untrusted: [], origins: [...clock.keys()], forks, incomplete }, durable: writer.commit(mutation, from) };
  });
  onStaged?.();
  if (staged.durable) await staged.durable;
  return staged.result;
}

/**
 * A subscriber keeps the changes of records outside its holding as stubs, and nodes
 * apply concurrent changes in different orders: a record can come to be held here through
 * some of its changes while others were kept as stubs, and no peer sends those again (the
 * clock counts them). So every record a stub (or an eviction) leaves with part of its
 * history is marked (partial.ts, in the same mutation), and the records held after this
 * commit that are marked, or got a stub now, are returned: the session asks a region for
 * their whole documents (`want`), and adopting one clears the mark.
 *
 * A mark is put again for a record already marked (reading it first would cost a read per
 * stub to save a ~40-byte put beside the stub's own ~80-byte log entry). Measured with
 * `npm run bench -- --phases subs --n 100000` (90,000 records stubbed once each): the
 * laptop's directory is 25.5 MiB with marks and 25.4 MiB without, catch-up 12.0 s both
 * (both runs beside a busy test loop; 6.6 to 8.5 s idle).
 */
async function markPartial(writer: Writer, mutation: Mutation, items: Item[]): Promise<RecordId[]> {
  if (holdsAll(writer.holding)) return [];
  const stubbed = new Set(items.filter((i) => i.stub).map((i) => i.entry.record));
  const marks = [...stubbed, ...(mutation.evictions ?? []).map((e) => e.id)];
  if (marks.length > 0) mutation.state = [...(mutation.state ?? []), ...marks.map((id): [string, unknown] => [partialKey(id), true])];
  const applied = new Set(mutation.records.map((op) => op.id));
  const incomplete = new Set(mutation.records.filter((op) => stubbed.has(op.id)).map((op) => op.id));
  const heldBefore = [...stubbed].filter((id) => !applied.has(id));
  const metas = await writer.metasFor(heldBefore);
  heldBefore.forEach((id, i) => { if (metas[i]) incomplete.add(id); });
  const fresh = mutation.records.filter((op) => !op.before && !stubbed.has(op.id)).map((op) => op.id);
  const marked = await Promise.all(fresh.map((id) => writer.stateOf(partialKey(id))));
  fresh.forEach((id, i) => { if (marked[i] === true) incomplete.add(id); });
  // After a bootstrap skipped history (truncate.ts BASED_KEY), a record held here for the
  // first time may have changes below a floor that no stub marked: ask for the whole.
  if (fresh.length > 0 && (await writer.stateOf(BASED_KEY)) === true) for (const id of fresh) incomplete.add(id);
  // A change sent whole that could not apply here, to a record not held: the sender put it
  // in our holding (at that change or one before it), and it may be the change that moves
  // the record in, on top of history this node skipped while the record was elsewhere (or
  // while the sender still knew an older subscription of ours). Only a region's whole
  // document can tell: ask for it too; an answer placed outside the holding stores nothing.
  for (const item of items) if (item.unapplied && !applied.has(item.entry.record)) incomplete.add(item.entry.record);
  return [...incomplete];
}

/** Step 2: parse the change and check who wrote it. */
function inspect(entry: ChangeEntry, chain: string, signed: boolean): Item {
  const item: Item = { entry, chain, signed };
  try {
    item.info = inspectChange(entry.change);
    if (item.info.node !== entry.origin) item.quarantined = `written by actor ${item.info.actor.slice(0, 40)}, not by origin ${entry.origin}`;
    // Judged on the change's own operations, so every node decides alike (change-schema.ts).
    else item.quarantined = schemaViolation(item.info.ops, entry.origin);
  } catch (err) {
    item.quarantined = err instanceof CrmsyncError ? err.message : 'the change does not parse';
  }
  return item;
}

/**
 * A node holding a subset keeps only records of its holding (crdt/holding.ts): a record
 * it did not hold that this frame would leave outside its holding is not stored (its
 * entries become stubs), and an entry of a record it does not hold that cannot apply
 * (its history was skipped as stubs) is a stub here, not quarantined: quarantine is a
 * verdict every node must reach alike, and a subscriber lacks the history to judge.
 */
async function keepHeld(writer: Writer, ops: RecordWriteOp[], items: Item[]): Promise<RecordWriteOp[]> {
  const holding = writer.holding;
  if (holdsAll(holding)) return ops;
  // A quarantined change of a record held here stays quarantined: this node can judge it.
  const refused = [...new Set(items.filter((i) => i.quarantined !== undefined && !i.stub).map((i) => i.entry.record))];
  const metas = await writer.metasFor(refused);
  const held = new Set(refused.filter((_, i) => metas[i] !== undefined));
  const dropped = new Set<RecordId>();
  const kept = ops.filter((op) => {
    if (op.before || holds(holding, placementOf(op.after.view))) return true;
    dropped.add(op.id);
    writer.cache.evict(op.id);
    return false;
  });
  for (const item of items) {
    if (item.stub) continue;
    const unapplied = item.quarantined !== undefined && !held.has(item.entry.record);
    if (!dropped.has(item.entry.record) && !unapplied) continue;
    item.entry = stubOf(item.entry);
    item.stub = true;
    if (unapplied) item.unapplied = true;
    delete item.quarantined;
  }
  return kept;
}

/** The scope an origin's changes must stay within (trust list), or undefined. */
type ScopeOf = (origin: string) => HoldingFilter | undefined;

/** Step 3, per record: one Automerge application of all its changes, or a careful one on failure. */
async function applyByRecord(writer: Writer, items: Item[], authority: OriginAuthority): Promise<RecordWriteOp[]> {
  const scopeOf: ScopeOf = (origin) => authority.writer(origin)?.scope;
  const byRecord = new Map<RecordId, Item[]>();
  for (const item of items) {
    if (item.quarantined !== undefined || item.stub) continue;
    const list = byRecord.get(item.entry.record);
    if (list) list.push(item);
    else byRecord.set(item.entry.record, [item]);
  }
  const ids = [...byRecord.keys()];
  const metas = await writer.metasFor(ids);
  const simple = ids.map((id, i) => applyAllSimple(writer, id, metas[i], byRecord.get(id)!, scopeOf));
  // The records that need their documents (concurrent changes, after a reconnect): read
  // at once, not one LevelDB round trip after the other.
  await writer.warmDocuments(ids.flatMap((id, i) => (simple[i] ? [] : [[id, metas[i]] as const])));
  const ops: RecordWriteOp[] = [];
  for (let i = 0; i < ids.length; i++) {
    const op = await applyToRecord(writer, ids[i]!, metas[i], byRecord.get(ids[i]!)!, scopeOf, simple[i]);
    if (op) ops.push(op);
  }
  return ops;
}

/** `simple`: the document-free result (applyAllSimple), or undefined to take the document. */
async function applyToRecord(writer: Writer, id: RecordId, meta: RecordMeta | undefined, items: Item[], scopeOf: ScopeOf, simple: SimpleResult | undefined): Promise<RecordWriteOp | undefined> {
  if (simple) {
    writer.cache.evict(id); // a cached document would now be behind: it is reloaded when needed
    return writer.recordOp(id, meta, simple, items.length);
  }
  // Changes of scoped writers are judged one by one, each at its own dependencies.
  const scoped = items.some((i) => scopeOf(i.entry.origin) !== undefined);
  const doc = await writer.docFor(id, meta);
  const all: ReturnType<typeof tryApply> = scoped ? { reason: 'scoped writers' } : tryApply(writer, doc, id, meta, items);
  if ('doc' in all) {
    writer.cache.set(id, all.doc);
    return writer.recordOp(id, meta, all.next, items.length, all.doc);
  }
  // Something in the batch is bad: start again from the stored state, one change at a time,
  // each tried on a copy, so a refused change leaves nothing behind and costs no reload.
  // The others are all tried: a change that depends on a refused one fails by itself
  // (missing dependencies), while an unrelated one that a sender happened to put after it
  // must not be refused here and applied by a node that got the same entries framed otherwise.
  writer.cache.evict(id);
  const stored = await writer.docFor(id, meta);
  let current = stored;
  const good: Item[] = [];
  let next: { state: RecordState; view: RecordView } | undefined;
  for (const item of items) {
    const scope = scopeOf(item.entry.origin);
    // Where the record was when its writer made the change: at the change's dependencies.
    const before = scope && placementAt(current, item.info!.deps);
    const trial = cloneRecordDoc(current, writer.actor);
    const applied = tryApply(writer, trial, id, { ...(meta ?? genesisMeta(id)), ...(next ?? {}) }, [item], good);
    const refused = !('doc' in applied) ? applied.reason : scope && scopeViolation(scope, before, placementOf(applied.next.view));
    if (refused !== undefined || !('doc' in applied)) {
      item.quarantined = refused ?? 'the change does not apply';
      freeQuietly('doc' in applied ? applied.doc : trial);
      continue;
    }
    if (current !== stored) freeDoc(current);
    current = applied.doc;
    next = applied.next;
    good.push(item);
  }
  if (current !== stored) writer.cache.evict(id); // the stored version is superseded: free it
  writer.cache.set(id, current);
  if (good.length === 0 || !next) return undefined;
  return writer.recordOp(id, meta, next, good.length, current);
}

/**
 * The document-free path (record-state.ts): each change of plain field operations, made on
 * exactly the state before it or concurrently with what the state knows, gives the next
 * view directly. Undefined as soon as one is not that simple, or the record's changes
 * since its snapshot have piled up.
 */
type SimpleResult = { state: RecordState; view: RecordView };

function applyAllSimple(writer: Writer, id: RecordId, meta: RecordMeta | undefined, items: Item[], scopeOf: ScopeOf): SimpleResult | undefined {
  if ((meta?.pending ?? 0) + items.length > writer.maxPendingChanges) return undefined;
  let state = meta?.state ?? genesisState();
  let view = meta?.view ?? emptyView(id);
  for (const item of items) {
    const next = applySimple(state, view, item.info!, writer.merge);
    if (!next) return undefined;
    // A scoped writer's change is judged where the record was at its dependencies: `view`
    // is that only for a linear change; a concurrent one takes the document.
    const scope = scopeOf(item.entry.origin);
    if (scope && (!next.linear || scopeViolation(scope, placementOf(view), placementOf(next.view)) !== undefined)) return undefined;
    state = next.state;
    view = next.view;
  }
  // Every op passed schemaViolation (inspect): the view can only leave the schema through
  // what adds up across ops (change-schema.ts). If it does, Automerge's path says why.
  return derivedViewFits(view) ? { state, view } : undefined;
}

function genesisMeta(id: RecordId): RecordMeta {
  return { state: genesisState(), view: emptyView(id), snapshotAt: 0, pending: 0 };
}

/**
 * Applies changes through Automerge (after `earlier`, already in `doc`). On failure (the
 * changes do not apply, or the view leaves the record schema) the reason is returned and
 * `doc` must not be used again.
 */
function tryApply(writer: Writer, doc: RecordDoc, id: RecordId, meta: Pick<RecordMeta, 'state' | 'view'> | undefined, items: Item[], earlier: Item[] = []): { doc: RecordDoc; next: { state: RecordState; view: RecordView } } | { reason: string } {
  const numbering = misnumbered(doc, items.map((i) => i.info!));
  if (numbering) return { reason: numbering };
  let next: RecordDoc;
  try {
    next = applyRecordChanges(doc, items.map((i) => i.entry.change));
  } catch (err) {
    return { reason: err instanceof CrmsyncError ? err.message : 'the change does not apply' };
  }
  // A conflict needs a new concurrent write to its field, so only fields these changes
  // touched, and fields already in conflict, can be in conflict after the merge.
  const touched = [...earlier, ...items].flatMap((i) => fieldsOf(i.info!.ops));
  const candidates = new Set([...(meta?.view.conflicts ?? []), ...touched].filter(isConflictField));
  let view;
  try {
    view = materialize(next, id, [...candidates], writer.merge);
  } catch {
    // A document that no longer has a record's shape (a peer's change replaced or deleted
    // a container) cannot be shown: refused like any other change outside the schema.
    return { reason: 'the change would leave a document that does not have the shape of a record' };
  }
  const valid = recordViewSchema.safeParse(view);
  if (!valid.success) {
    const issue = valid.error.issues[0];
    return { reason: `the change would give the record a value outside the record schema (${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''})` };
  }
  const maxOp = Math.max(meta?.state.maxOp ?? genesisState().maxOp, ...items.map((i) => i.info!.startOp + i.info!.opCount - 1));
  // The clock and head changes come from the state before and these changes (stateOfDoc).
  const since = { state: meta?.state ?? genesisState(), applied: items.map((i) => i.info!) };
  return { doc: next, next: { state: stateOfDoc(next, maxOp, meta?.state.local, since), view } };
}

/** Frees a document a failed change may have left half-updated (Automerge can panic midway). */
function freeQuietly(doc: RecordDoc): void {
  try {
    freeDoc(doc);
  } catch {
    // already unusable: nothing left to free
  }
}

function toLogged(item: Item): LoggedEntry {
  const { entry, info } = item;
  const logged: LoggedEntry = {
    origin: entry.origin, seq: entry.seq, record: entry.record, change: entry.change, chain: item.chain,
    time: info?.time ?? 0, fields: info ? fieldsOf(info.ops) : [],
  };
  if (item.signed && entry.sig) logged.sig = entry.sig;
  if (info?.message) logged.author = info.message;
  if (item.quarantined !== undefined) logged.quarantined = item.quarantined;
  if (entry.ext) logged.ext = entry.ext;
  if (entry.digest !== undefined) logged.digest = entry.digest;
  return logged;
}
