/**
 * What a node keeps per record beside its document, so that the common changes never
 * need the document: its heads, the highest op counter, and the op ids of every field's
 * current values. With it, a change made on exactly the state we hold (its deps are our
 * heads) whose operations are plain puts and deletes of known fields (or the first text
 * of the notes, or counter increments) is applied by deriving the next view directly
 * from the decoded operations (`applySimple`), and a local write of the same kind is
 * encoded directly (record-encode.ts). Anything else goes through Automerge, after which
 * the state is read back from the document (`stateOfDoc`).
 *
 * The contract, checked by property tests and by `verify`: for every change this module
 * accepts, the resulting view and state are exactly what Automerge plus `materialize`
 * and `stateOfDoc` produce.
 */
import * as A from '@automerge/automerge';
import type { ChangeOp } from './change-codec/index.js';
import { GENESIS_OBJECTS } from './change-info.js';
import { GENESIS_HASH } from './genesis.js';
import { notesOf } from './record-doc.js';
import { ADDRESS_FIELDS, ATOMIC_FIELDS, canonicalView, type RecordView } from './record-schema.js';
import type { RecordId } from '../types.js';

/** An op id as [counter, index into RecordState.actors]. */
export type OpRef = [counter: number, actor: number];

/** The document's shape beside its view (stored in RecordMeta). */
export interface RecordState {
  /** Hex heads of the document. */
  heads: string[];
  /** Highest op counter in the document: a new change starts after it. */
  maxOp: number;
  /** Actors the op refs point into. */
  actors: string[];
  /** Op ids of the current value(s) of each tracked field path (see fieldPath). */
  ops: Record<string, OpRef[]>;
  /** The last local actor that wrote the record and its seq in this document (for encoding the next local change). */
  local?: { actor: string; seq: number };
  /** Characters of the stored notes text (the document-free path only writes notes into empty text). */
  notesLength?: number;
}

const ROOT_NUMBERS = new Set(['createdAt', 'updatedAt', 'deletedAt']);
const ATOMIC: ReadonlySet<string> = new Set(ATOMIC_FIELDS);
const ADDRESS: ReadonlySet<string> = new Set(ADDRESS_FIELDS);
const GENESIS_ACTOR = '00';

/** The state of a record nobody has written yet (the genesis document). */
export function genesisState(): RecordState {
  return { heads: [GENESIS_HASH], maxOp: 6, actors: [GENESIS_ACTOR], ops: { interactions: [[5, 0]], deleted: [[6, 0]] } };
}

/** The view of a record nobody has written yet. */
export function emptyView(id: RecordId): RecordView {
  return { id, name: '', address: {}, tags: [], notes: '', interactions: 0, custom: {}, createdAt: 0, updatedAt: 0, deleted: false, conflicts: [] };
}

/** The state field path of a map key of a genesis object; undefined for anything else. */
export function fieldPath(obj: string, key: string): string | undefined {
  if (obj === '_root') return key;
  if (obj === GENESIS_OBJECTS.address) return ADDRESS.has(key) ? `address.${key}` : undefined;
  if (obj === GENESIS_OBJECTS.custom) return `custom.${key}`;
  if (obj === GENESIS_OBJECTS.tags) return `tags.${key}`;
  return undefined;
}

/** Op id string (`counter@actor`) of a ref. */
export function opIdOf(state: RecordState, ref: OpRef): string {
  return `${ref[0]}@${state.actors[ref[1]]}`;
}

function sameOps(state: RecordState, refs: OpRef[] | undefined, pred: readonly string[]): boolean {
  const current = (refs ?? []).map((r) => opIdOf(state, r)).sort();
  if (current.length !== pred.length) return false;
  const sorted = [...pred].sort();
  return current.every((id, i) => id === sorted[i]);
}

/**
 * Applies a decoded change made on exactly our state (deps = heads) without the
 * document, or returns undefined when it is not that simple (then Automerge decides).
 */
export function applySimple(
  state: RecordState, view: RecordView,
  change: { hash: string; deps: readonly string[]; actor: string; startOp: number; ops: readonly ChangeOp[] },
): { state: RecordState; view: RecordView; touched: string[] } | undefined {
  if (change.startOp !== state.maxOp + 1 || !sameSet(change.deps, state.heads)) return undefined;
  const next: RecordState = { ...state, actors: [...state.actors], ops: dictionaryOf(state.ops) };
  let actor = next.actors.indexOf(change.actor);
  if (actor < 0) actor = next.actors.push(change.actor) - 1;
  // Working copies without prototypes (dictionaryOf); canonicalView returns a plain view.
  const v = dictionaryOf(view);
  v.address = dictionaryOf(view.address);
  v.custom = dictionaryOf(view.custom);
  v.tags = [...view.tags];
  v.conflicts = [...view.conflicts];
  const touched = new Set<string>();
  let notesRun = -1; // op counter (of change.actor) the next notes insert must follow; 0: '_head'
  const suffix = `@${change.actor}`;
  let text = '';
  let at = 0; // counter offset of the op after this one (an op may stand for a run: ChangeOp.run)
  for (let i = 0; i < change.ops.length; i++) {
    const op = change.ops[i]!;
    const offset = at;
    at += op.run ?? 1;
    if (op.obj === GENESIS_OBJECTS.notes) {
      // Only text written into empty notes: one run of character inserts, each after the
      // last. Checked without building op id strings: notes are one op per character.
      if (notesRun < 0) notesRun = (next.notesLength ?? 0) === 0 && !touched.has('notes') ? 0 : -2;
      const follows = notesRun === 0 ? op.elemId === '_head' : notesRun > 0 && isOpId(op.elemId, notesRun, suffix);
      if (!follows || op.action !== 'set' || !op.insert || op.pred.length > 0 || op.datatype !== 'str' || typeof op.value !== 'string') return undefined;
      text += op.value;
      notesRun = change.startOp + at - 1;
      touched.add('notes');
      continue;
    }
    const ref: OpRef = [change.startOp + offset, actor];
    if (op.key === null) return undefined;
    if (op.obj === '_root' && op.key === 'interactions' && op.action === 'inc') {
      if (!sameOps(next, next.ops.interactions, op.pred) || typeof op.value !== 'number') return undefined;
      v.interactions += op.value;
      touched.add('interactions');
      continue;
    }
    const path = fieldPath(op.obj, op.key);
    if (path === undefined || (op.action !== 'set' && op.action !== 'del') || !sameOps(next, next.ops[path], op.pred)) return undefined;
    if (op.action === 'set' && !setValue(v, path, op)) return undefined;
    if (op.action === 'del' && !deleteValue(v, path)) return undefined;
    // `delete` only when there is something to delete: it turns the object into a slow dictionary.
    if (op.action === 'set') next.ops[path] = [ref];
    else if (next.ops[path] !== undefined) delete next.ops[path];
    touched.add(path);
  }
  // deletedAt shows only while deleted: a change flipping `deleted` alone would reveal or
  // hide a value this state does not keep; leave that to Automerge.
  if (touched.has('deleted') && !touched.has('deletedAt') && next.ops.deletedAt) return undefined;
  if (!v.deleted && v.deletedAt !== undefined) delete v.deletedAt;
  if (touched.has('notes')) {
    const stored = text;
    v.notes = notesOf(stored);
    next.notesLength = stored.length;
  }
  v.tags.sort();
  v.conflicts = v.conflicts.filter((f) => !touched.has(f));
  next.heads = [change.hash];
  next.maxOp = change.startOp + at - 1;
  return { state: next, view: canonicalView(v), touched: [...touched] };
}

/**
 * A copy of `o` without a prototype: V8 keeps such an object as a hash table from the
 * start. Fields are added in every order records happen to have, and on a plain object
 * each order is a new chain of hidden classes: adding them cost more than the rest of
 * applySimple (measured at 18 ops a record: 31.5 µs a change, 18.5 µs with `ops` a
 * dictionary, and 10.5 µs with the view's working copies ones too).
 */
function dictionaryOf<T extends object>(o: T): T {
  const copy = Object.create(null) as Record<string, unknown>;
  for (const key in o) copy[key] = o[key];
  return copy as T;
}

/** Whether `id` is the op id `${counter}${suffix}` (suffix: '@' + actor), without allocating. */
function isOpId(id: string | null, counter: number, suffix: string): boolean {
  if (id === null || !id.endsWith(suffix)) return false;
  let n = 0;
  const digits = id.length - suffix.length;
  if (digits <= 0 || digits > 15) return false;
  for (let i = 0; i < digits; i++) {
    const d = id.charCodeAt(i) - 48;
    if (d < 0 || d > 9 || (d === 0 && i === 0 && digits > 1)) return false;
    n = n * 10 + d;
  }
  return n === counter;
}

function setValue(v: RecordView, path: string, op: ChangeOp): boolean {
  const { value, datatype } = op;
  if (typeof value === 'bigint') return false;
  const isNumber = (datatype === 'int' || datatype === 'uint' || datatype === 'f64') && typeof value === 'number';
  if (ATOMIC.has(path)) {
    if (datatype !== 'str' || typeof value !== 'string') return false;
    (v as unknown as Record<string, string>)[path] = value;
    return true;
  }
  if (path === 'id') return datatype === 'str';
  if (ROOT_NUMBERS.has(path)) {
    if (!isNumber) return false;
    (v as unknown as Record<string, number>)[path] = value as number;
    return true;
  }
  if (path === 'deleted') {
    if (datatype !== 'boolean') return false;
    v.deleted = value === true;
    return true;
  }
  if (path.startsWith('address.')) {
    if (datatype !== 'str' || typeof value !== 'string') return false;
    v.address[path.slice(8) as keyof RecordView['address']] = value;
    return true;
  }
  if (path.startsWith('custom.')) {
    if (datatype === 'str' && typeof value === 'string') v.custom[path.slice(7)] = value;
    else if (isNumber) v.custom[path.slice(7)] = value as number;
    else if (datatype === 'boolean' && typeof value === 'boolean') v.custom[path.slice(7)] = value;
    else return false;
    return true;
  }
  if (path.startsWith('tags.')) {
    if (!isNumber) return false;
    const tag = path.slice(5);
    if (!v.tags.includes(tag)) v.tags.push(tag);
    return true;
  }
  return false; // another root key (a newer version's field): Automerge
}

function deleteValue(v: RecordView, path: string): boolean {
  if (ATOMIC.has(path)) {
    if (path === 'name') v.name = '';
    else delete (v as unknown as Record<string, unknown>)[path];
    return true;
  }
  if (path === 'createdAt' || path === 'updatedAt') {
    v[path] = 0;
    return true;
  }
  if (path === 'deletedAt') {
    delete v.deletedAt;
    return true;
  }
  if (path.startsWith('address.')) {
    delete v.address[path.slice(8) as keyof RecordView['address']];
    return true;
  }
  if (path.startsWith('custom.')) {
    delete v.custom[path.slice(7)];
    return true;
  }
  if (path.startsWith('tags.')) {
    v.tags = v.tags.filter((t) => t !== path.slice(5));
    return true;
  }
  return false; // id, deleted, interactions: never deleted by crmsync
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

/**
 * Reads the state back from a document (after Automerge applied what applySimple would
 * not take). `maxOp` is carried: the caller raises it by the changes it applied.
 */
export function stateOfDoc(doc: A.Doc<unknown>, maxOp: number, local: RecordState['local']): RecordState {
  const backend = A.getBackend(doc);
  const state: RecordState = { heads: A.getHeads(doc), maxOp, actors: [], ops: {}, ...(local ? { local } : {}) };
  const actorIndex = new Map<string, number>();
  const refOf = (opId: string): OpRef => {
    const at = opId.indexOf('@');
    const actor = opId.slice(at + 1);
    let index = actorIndex.get(actor);
    if (index === undefined) {
      index = state.actors.push(actor) - 1;
      actorIndex.set(actor, index);
    }
    return [Number(opId.slice(0, at)), index];
  };
  const track = (obj: string, key: string, path: string) => {
    const values = backend.getAll(obj, key);
    if (values.length > 0) state.ops[path] = values.map((v) => refOf(String(v[v.length - 1]))).sort(byRef);
  };
  for (const key of backend.keys('_root')) {
    if (key === 'address' || key === 'tags' || key === 'custom' || key === 'notes') continue;
    track('_root', key, key);
  }
  for (const key of backend.keys(GENESIS_OBJECTS.address)) if (ADDRESS.has(key)) track(GENESIS_OBJECTS.address, key, `address.${key}`);
  for (const key of backend.keys(GENESIS_OBJECTS.custom)) track(GENESIS_OBJECTS.custom, key, `custom.${key}`);
  for (const key of backend.keys(GENESIS_OBJECTS.tags)) track(GENESIS_OBJECTS.tags, key, `tags.${key}`);
  const notesLength = backend.length(GENESIS_OBJECTS.notes);
  if (notesLength > 0) state.notesLength = notesLength;
  return state;
}

function byRef(a: OpRef, b: OpRef): number {
  return a[0] - b[0] || a[1] - b[1];
}
