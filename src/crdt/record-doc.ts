/**
 * Customer records as Automerge documents: loading, writing field-level changes,
 * materialising the plain view, and reading conflicts. Pure: no I/O, no clocks (the
 * caller passes `now`), no module state.
 */
import * as A from '@automerge/automerge';
import { CrmsyncError } from '../errors.js';
import type { RecordId } from '../types.js';
import { GENESIS_BYTES } from './genesis.js';
import { ChangeIndex, conflictPaths, conflictsAt, containerAt, DEFAULT_MERGE_CONTEXT, isRealConflict, winningValue, type MergeContext } from './record-conflicts.js';
import { REOPEN_KEY } from './merge-policy.js';
import { ADDRESS_FIELDS, ATOMIC_FIELDS, canonicalView, type AtomicField, type RecordView, type Stage } from './record-schema.js';

type Atomic = A.ImmutableString;
type CustomValue = Atomic | number | boolean;

/** The atomic fields of the document: one per field of the record schema's table. */
type AtomicShape = { [K in AtomicField]?: Atomic };

/** The document shape. Nested objects come from the shared genesis change. */
export interface RecordShape extends AtomicShape {
  id?: Atomic;
  address: Partial<Record<(typeof ADDRESS_FIELDS)[number], Atomic>>;
  /** Tag -> generation (bumped by every explicit add, see applyTags). */
  tags: Record<string, number>;
  /**
   * The notes as collaborative text, stored with one trailing newline when not empty
   * (see writeNotes): small edits merge character by character, and two whole
   * replacements made concurrently stay readable, one after the other.
   */
  notes: string;
  interactions: A.Counter;
  custom: Record<string, CustomValue>;
  deleted: boolean;
  deletedAt?: number;
  /** Time of the last explicit stage reopen (merge-policy.ts: a reopen's change carries it). */
  stageReopen?: number;
  createdAt?: number;
  updatedAt?: number;
}

/** A live Automerge record document. */
export type RecordDoc = A.Doc<RecordShape>;

/** The normalised description of one write; every part optional. `null` clears. */
export interface RecordWrite {
  atomic?: Partial<Record<(typeof ATOMIC_FIELDS)[number], string | null>>;
  address?: Partial<Record<(typeof ADDRESS_FIELDS)[number], string | null>>;
  /** Replace the whole address: parts not given are cleared. */
  replaceAddress?: boolean;
  custom?: Record<string, string | number | boolean | null>;
  /** Replace all custom fields: keys not given are removed. */
  replaceCustom?: boolean;
  addTags?: string[];
  removeTags?: string[];
  /** Make the tag set exactly this (adds and removes as needed). */
  setTags?: string[];
  notes?: string;
  setInteractions?: number;
  incrementInteractions?: number;
  deleted?: boolean;
  /** Marks a stage change as an explicit reopen (the `monotonic` policy lets it move the stage back). */
  reopen?: boolean;
}

/** The outcome of a write that changed something. */
export interface WriteOutcome {
  doc: RecordDoc;
  /** The Automerge change bytes. */
  change: Uint8Array;
  /** Hex hash of the change (also the document's only head afterwards). */
  hash: string;
  /** Hex heads before the change. */
  deps: string[];
  /** Field paths the change touched, for history. */
  fields: string[];
}

/** A copy of a (genesis) document writing as `actor`. */
export function cloneRecordDoc(doc: RecordDoc, actor: string): RecordDoc {
  return A.clone(doc, { actor });
}

/** Loads a record document from its stored chunks (the genesis is implicit). */
export function loadRecordDoc(chunks: readonly Uint8Array[], actor: string): RecordDoc {
  let total = GENESIS_BYTES.length;
  for (const chunk of chunks) total += chunk.length;
  const bytes = new Uint8Array(total);
  bytes.set(GENESIS_BYTES, 0);
  let offset = GENESIS_BYTES.length;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  try {
    return A.load<RecordShape>(bytes, { actor });
  } catch (cause) {
    throw new CrmsyncError('ERR_CORRUPT', 'stored record document failed to load', { cause });
  }
}

const str = (value: unknown): string | undefined =>
  value === undefined || value === null ? undefined : A.isImmutableString(value) ? value.val : String(value);

/** Applies a write as one Automerge change, touching only values that differ. Null if nothing changed. `now` in ms. */
export function writeRecord(doc: RecordDoc, id: RecordId, write: RecordWrite, now: number, author?: string): WriteOutcome | null {
  const deps = A.getHeads(doc);
  const fields: string[] = [];
  // The change's time field carries ms (not Automerge's customary seconds) and its
  // message the author: both then travel inside the signed change bytes.
  const options: A.ChangeOptions<RecordShape> = author === undefined ? { time: now } : { time: now, message: author };
  const next = A.change(doc, options, (r) => {
    applyAtomic(r, write, fields);
    applyAddress(r, write, fields);
    applyCustom(r, write, fields);
    applyTags(r, write, fields);
    applyCounterAndNotes(r, write, fields);
    if (write.reopen && fields.includes('stage')) r[REOPEN_KEY] = Math.max(now, (r[REOPEN_KEY] ?? 0) + 1);
    if (write.deleted !== undefined && (r.deleted !== write.deleted || contested(r, 'deleted'))) {
      r.deleted = write.deleted;
      if (write.deleted) r.deletedAt = now;
      else if (r.deletedAt !== undefined) delete r.deletedAt;
      fields.push('deleted');
    }
    if (fields.length > 0) {
      if (str(r.id) !== id) r.id = new A.ImmutableString(id);
      if (r.createdAt === undefined) r.createdAt = now;
      r.updatedAt = now;
    }
  });
  if (fields.length === 0) return null;
  const change = A.getLastLocalChange(next);
  if (!change) throw new TypeError('writeRecord: change produced no bytes');
  const [hash] = A.getHeads(next);
  return { doc: next, change, hash: hash!, deps, fields };
}

/**
 * True when `key` of `obj` holds concurrent values: a write there always writes, even a
 * value equal to the one Automerge lists first, because writing is what resolves the
 * conflict (the new value supersedes every concurrent one).
 */
function contested(obj: object, key: string): boolean {
  const values = A.getConflicts(obj as A.Doc<unknown>, key);
  return values !== undefined && Object.keys(values).length > 1;
}

function applyAtomic(r: RecordShape, write: RecordWrite, fields: string[]): void {
  for (const [key, value] of Object.entries(write.atomic ?? {}) as [(typeof ATOMIC_FIELDS)[number], string | null][]) {
    if (value === undefined || (str(r[key]) === (value ?? undefined) && !contested(r, key))) continue;
    if (value === null) delete r[key];
    else r[key] = new A.ImmutableString(value);
    fields.push(key);
  }
}

function applyAddress(r: RecordShape, write: RecordWrite, fields: string[]): void {
  if (!write.address && !write.replaceAddress) return;
  for (const part of ADDRESS_FIELDS) {
    const given = write.address?.[part];
    const value = given === undefined ? (write.replaceAddress ? null : undefined) : given;
    if (value === undefined || (str(r.address[part]) === (value ?? undefined) && !contested(r.address, part))) continue;
    if (value === null) delete r.address[part];
    else r.address[part] = new A.ImmutableString(value);
    fields.push(`address.${part}`);
  }
}

function applyCustom(r: RecordShape, write: RecordWrite, fields: string[]): void {
  const wanted = write.custom ?? {};
  if (write.replaceCustom) {
    for (const key of Object.keys(r.custom)) {
      if (!(key in wanted)) {
        delete r.custom[key];
        fields.push(`custom.${key}`);
      }
    }
  }
  for (const [key, value] of Object.entries(wanted)) {
    if (value === undefined) continue;
    const current = r.custom[key];
    const same = typeof value === 'string' ? str(current) === value && A.isImmutableString(current) : current === (value ?? undefined);
    if (same && !contested(r.custom, key)) continue;
    if (value === null) {
      if (current === undefined) continue;
      delete r.custom[key];
    } else {
      r.custom[key] = typeof value === 'string' ? new A.ImmutableString(value) : value;
    }
    fields.push(`custom.${key}`);
  }
}

/** The tags a write adds explicitly, makes sure of (setTags) and removes, given the present ones. */
export function tagPlan(write: RecordWrite, present: Iterable<string>): { add: Set<string>; ensure: Set<string>; remove: Set<string> } {
  const add = new Set(write.addTags ?? []);
  const ensure = new Set<string>();
  const remove = new Set(write.removeTags ?? []);
  if (write.setTags) {
    const wanted = new Set(write.setTags);
    for (const tag of wanted) ensure.add(tag);
    for (const tag of present) if (!wanted.has(tag)) remove.add(tag);
  }
  return { add, ensure, remove };
}

function applyTags(r: RecordShape, write: RecordWrite, fields: string[]): void {
  // An explicit add re-writes a tag even if present: that write is concurrent with any
  // remove we have not seen, and Automerge keeps a put over a concurrent delete (add-wins).
  // The value is a generation number because Automerge skips a put of an identical value.
  const { add, ensure, remove } = tagPlan(write, Object.keys(r.tags));
  let touched = false;
  for (const tag of add) {
    r.tags[tag] = (r.tags[tag] ?? 0) + 1;
    touched = true;
  }
  for (const tag of ensure) {
    if (add.has(tag) || tag in r.tags) continue;
    r.tags[tag] = 1;
    touched = true;
  }
  for (const tag of remove) {
    if (add.has(tag) || ensure.has(tag) || !(tag in r.tags)) continue;
    delete r.tags[tag];
    touched = true;
  }
  if (touched) fields.push('tags');
}

function applyCounterAndNotes(r: RecordShape, write: RecordWrite, fields: string[]): void {
  let delta = write.incrementInteractions ?? 0;
  if (write.setInteractions !== undefined) delta += write.setInteractions - r.interactions.value;
  if (delta !== 0) {
    r.interactions.increment(delta);
    fields.push('interactions');
  }
  if (write.notes !== undefined && notesOf(r.notes) !== write.notes) {
    writeNotes(r, write.notes);
    fields.push('notes');
  }
}

/**
 * How much of the old note must stay in place (its common start and end with the new
 * one) for a write to count as an edit, not a replacement: appending to a note or fixing
 * a word keeps most of it; pasting a different note keeps little.
 */
export const NOTES_EDIT_SHARE = 0.5;

/**
 * Writes new notes. An edit (most of the text stays) becomes character splices, so two
 * people editing different parts offline both keep their edits. A replacement deletes
 * everything and inserts the new text as one run: two replacements made concurrently
 * then stand one after the other, each intact, instead of two diffs interleaving
 * character by character. The stored text ends with one newline (the view drops it),
 * so concurrent replacements are separated by a line break.
 */
function writeNotes(r: RecordShape, notes: string): void {
  const stored = notes === '' ? '' : `${notes}\n`;
  const old = r.notes;
  let prefix = 0;
  while (prefix < old.length && prefix < stored.length && old[prefix] === stored[prefix]) prefix++;
  let suffix = 0;
  while (suffix < old.length - prefix && suffix < stored.length - prefix && old[old.length - 1 - suffix] === stored[stored.length - 1 - suffix]) suffix++;
  const kept = prefix + suffix;
  if (old.length > 0 && kept >= NOTES_EDIT_SHARE * old.length) {
    A.updateText(r, ['notes'], stored);
    return;
  }
  A.splice(r, ['notes'], 0, old.length);
  if (stored.length > 0) A.splice(r, ['notes'], 0, 0, stored);
}

/** The notes as readers see them: the stored text without its trailing newline. */
export function notesOf(text: string): string {
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

/**
 * The current plain view of a record, including which fields are in conflict; a
 * conflicted field shows the value its merge policy picks (record-conflicts.ts).
 * `onlyConflictsIn`: after a local change, pass the previous view's conflicts. A local
 * change can resolve conflicts but never create one (that takes concurrent changes),
 * so only those fields need checking — saving ~15 getConflicts calls per write.
 */
export function materialize(doc: RecordDoc, id: RecordId, onlyConflictsIn?: readonly string[], context: MergeContext = DEFAULT_MERGE_CONTEXT): RecordView {
  // Read through the backend, not the document's proxies: after some merges the proxies'
  // cached value of a key differs from the backend's (seen with a root number whose
  // concurrent writers merged in several steps), and every node must read the same.
  const backend = A.getBackend(doc);
  const root = (key: string) => backend.get('_root', key);
  const address = containerAt(backend, 'address', 'map');
  const custom = containerAt(backend, 'custom', 'map');
  const view: RecordView = {
    id,
    name: plainString(root('name')) ?? '',
    address: {},
    tags: backend.keys(containerAt(backend, 'tags', 'map')).sort(),
    notes: notesOf(backend.text(containerAt(backend, 'notes', 'text'))),
    interactions: Number(root('interactions') ?? 0),
    custom: {},
    createdAt: Number(root('createdAt') ?? 0),
    updatedAt: Number(root('updatedAt') ?? 0),
    deleted: root('deleted') === true,
    conflicts: [],
  };
  for (const field of ATOMIC_FIELDS) {
    const value = plainString(root(field));
    if (value !== undefined && field !== 'name') (view as unknown as Record<string, string>)[field] = value;
  }
  if (view.stage !== undefined) view.stage = view.stage as Stage;
  for (const part of ADDRESS_FIELDS) {
    const value = plainString(backend.get(address, part));
    if (value !== undefined) view.address[part] = value;
  }
  for (const key of backend.keys(custom)) {
    const value = backend.get(custom, key);
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') view.custom[key] = value;
    else throw new TypeError(`custom.${key} is not a plain value`);
  }
  // Filtering the canonical list (not mapping the given one) keeps the order every node uses.
  const only = onlyConflictsIn && new Set(onlyConflictsIn);
  const paths = only ? conflictPaths(doc).filter((path) => only.has(path.join('.'))) : conflictPaths(doc);
  let index: ChangeIndex | undefined;
  for (const path of paths) {
    const values = conflictsAt(doc, path);
    if (!isRealConflict(values)) continue;
    const field = path.join('.');
    view.conflicts.push(field);
    index ??= new ChangeIndex(doc);
    showValue(view, path, winningValue(field, values, index, context));
  }
  const deletedAt = root('deletedAt');
  if (view.deleted && deletedAt !== undefined) view.deletedAt = Number(deletedAt);
  return canonicalView(view);
}

/** A string scalar as a string (undefined when absent). */
function plainString(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

/** Puts a conflicted field's winning value into the view. */
function showValue(view: RecordView, path: string[], value: string | number | boolean | null): void {
  const [head, key] = path as [string, string | undefined];
  if (head === 'address') view.address[key as (typeof ADDRESS_FIELDS)[number]] = String(value);
  else if (head === 'custom') view.custom[key!] = value ?? '';
  else if (head === 'deleted') view.deleted = value === true;
  else if (head === 'name') view.name = String(value ?? '');
  else (view as unknown as Record<string, unknown>)[head] = value;
}

/** Territory and owner of the record at `heads` (a past state), or undefined when the document lacks those heads. */
export function placementAt(doc: RecordDoc, heads: readonly string[]): { territory?: string; owner?: string } | undefined {
  try {
    const past = A.view(doc, [...heads]);
    const territory = str(past.territory);
    const owner = str(past.owner);
    return { ...(territory === undefined ? {} : { territory }), ...(owner === undefined ? {} : { owner }) };
  } catch {
    return undefined;
  }
}

/** Hex heads of a document. */
export function headsOf(doc: RecordDoc): string[] {
  return A.getHeads(doc);
}

/** Applies received changes (any order Automerge accepts). Throws ERR_PROTOCOL if deps are missing. */
export function applyRecordChanges(doc: RecordDoc, changes: Uint8Array[]): RecordDoc {
  let next: RecordDoc;
  try {
    [next] = A.applyChanges(doc, changes);
  } catch (cause) {
    throw new CrmsyncError('ERR_PROTOCOL', 'peer sent an Automerge change that does not apply', { cause });
  }
  if (A.getMissingDeps(next, []).length > 0) {
    throw new CrmsyncError('ERR_PROTOCOL', 'peer sent a change whose dependencies were never sent');
  }
  return next;
}

/**
 * Why one of `changes` numbers its ops at or below those of a change it depends on, or
 * undefined. Every writer numbers a change's ops above everything it has seen; Automerge
 * applies a change that does not, and then cannot load the document again, so such a
 * change (only a forgery makes one) is refused before it is applied.
 */
export function misnumbered(doc: RecordDoc, changes: readonly { hash: string; deps: readonly string[]; startOp: number; opCount: number }[]): string | undefined {
  const backend = A.getBackend(doc);
  const inBatch = new Map(changes.map((c) => [c.hash, c.startOp + c.opCount - 1]));
  for (const change of changes) {
    for (const dep of change.deps) {
      const maxOp = inBatch.get(dep) ?? backend.getChangeMetaByHash(dep)?.maxOp;
      if (maxOp !== undefined && change.startOp <= maxOp) return `the change numbers its operations from ${change.startOp}, not above those of a change it depends on (up to ${maxOp})`;
    }
  }
  return undefined;
}

/** Saves the whole document as one compact snapshot chunk. */
export function snapshot(doc: RecordDoc): Uint8Array {
  return A.save(doc);
}

/** Frees the document's wasm memory; the doc must not be used afterwards. */
export function freeDoc(doc: RecordDoc): void {
  A.free(doc);
}

/** True if two head sets are equal (order-insensitive). */
export function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  if (a.length === 1) return a[0] === b[0];
  const set = new Set(a);
  return b.every((h) => set.has(h));
}
