/**
 * What a node keeps per record beside its document, so that the common changes never
 * need the document: its heads, the highest op counter, and the op ids of every field's
 * current values, and what it knows is in the document beyond them (state-knowledge.ts).
 * With it, a change made on exactly the state we hold (its deps are our heads), or made
 * concurrently on heads we recently moved past, whose operations are plain puts and
 * deletes of known fields (or the first text of the notes, or counter increments) is
 * applied by deriving the next view directly from the decoded operations
 * (`applySimple`), and a local write of the same kind is
 * encoded directly (record-encode.ts). Anything else goes through Automerge, after which
 * the state is read back from the document (`stateOfDoc`, state-of-doc.ts).
 *
 * The contract, checked by property tests and by `verify`: for every change this module
 * accepts, the resulting view and state are exactly what Automerge plus `materialize`
 * and `stateOfDoc` produce.
 */
import type { ChangeOp } from './change-codec/index.js';
import { GENESIS_OBJECTS } from './change-info.js';
import { GENESIS_HASH } from './genesis.js';
import { notesOf } from './record-doc.js';
import { applyCreation, fieldPath } from './record-creation.js';
import { ATOMIC_FIELDS, canonicalView, type RecordView } from './record-schema.js';
import { advanceClock, compactTimes, continuesActor, isGone, knownMaxOp, rememberChange, rememberGone, timeIndex } from './state-knowledge.js';
import { judgeConcurrent, withConflict } from './state-conflicts.js';
import { DEFAULT_MERGE_CONTEXT, isConflictField, type MergeContext } from './record-conflicts.js';
import type { RecordId } from '../types.js';

export { fieldPath };

/** An op id as [counter, index into RecordState.actors, index into RecordState.times of its change's time]. */
export type OpRef = [counter: number, actor: number, time?: number];

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
  /**
   * Per actor (parallel to `actors`, which then lists every actor that wrote): its last
   * seq and highest op counter. Absent in states stored before it was kept: those take
   * Automerge once, which reads it back (state-knowledge.ts).
   */
  clock?: [seq: number, maxOp: number][];
  /** Prefixes of changes the document holds with their highest op counter, newest last (state-knowledge.ts). */
  known?: [prefix: string, maxOp: number][];
  /** Op ids per field path that recent changes superseded (state-knowledge.ts). */
  gone?: Record<string, OpRef[]>;
  /** Times (ms) of the changes that wrote current values; op refs point into it. Absent in older states. */
  times?: number[];
}

const ROOT_NUMBERS = new Set(['createdAt', 'updatedAt', 'deletedAt']);
const ATOMIC: ReadonlySet<string> = new Set(ATOMIC_FIELDS);
const GENESIS_ACTOR = '00';

/** The state of a record nobody has written yet (the genesis document). */
export function genesisState(): RecordState {
  return { heads: [GENESIS_HASH], maxOp: 6, actors: [GENESIS_ACTOR], ops: { interactions: [[5, 0, 0]], deleted: [[6, 0, 0]] }, clock: [[1, 6]], times: [0] };
}

/** The view of a record nobody has written yet. */
export function emptyView(id: RecordId): RecordView {
  return { id, name: '', address: {}, tags: [], notes: '', interactions: 0, custom: {}, createdAt: 0, updatedAt: 0, deleted: false, conflicts: [] };
}

/** Op id string (`counter@actor`) of a ref. */
export function opIdOf(state: RecordState, ref: OpRef): string {
  return `${ref[0]}@${state.actors[ref[1]]}`;
}

function sameOps(state: RecordState, refs: OpRef[] | undefined, pred: readonly string[]): boolean {
  if ((refs?.length ?? 0) !== pred.length) return false;
  if (pred.length === 0) return true; // a field written for the first time: nothing to compare
  const current = refs!.map((r) => opIdOf(state, r)).sort();
  const sorted = [...pred].sort();
  return current.every((id, i) => id === sorted[i]);
}

/** A decoded change as applySimple reads it. */
export interface SimpleChange {
  hash: string;
  deps: readonly string[];
  actor: string;
  seq: number;
  startOp: number;
  /** The change's time (ms): merge policies compare it. */
  time: number;
  ops: readonly ChangeOp[];
}

/** The outcome of applySimple. */
export interface SimpleOutcome {
  state: RecordState;
  view: RecordView;
  touched: string[];
  /** The change was made on exactly the state before it (its deps were our heads). */
  linear: boolean;
}

/**
 * Applies a decoded change without the document, or returns undefined when it is not
 * that simple (then Automerge decides). Two kinds are taken:
 *  - linear: made on exactly our state (deps = heads), every op superseding exactly the
 *    field's current values;
 *  - concurrent: made on heads we moved past (state-knowledge.ts proves its deps and
 *    preds are in the document), where every field it writes ends with one value, or
 *    with several of which the view shows one without a merge policy (updatedAt and
 *    createdAt show Automerge's winner, the highest op id; a tag shows its presence).
 *    A field left with concurrent values a merge policy must judge takes Automerge.
 * Both require the change to continue its actor's sequence (state-knowledge.ts).
 */
export function applySimple(state: RecordState, view: RecordView, change: SimpleChange, merge: MergeContext = DEFAULT_MERGE_CONTEXT): SimpleOutcome | undefined {
  // A record's first change (bulk loads, imports, catch-ups): the same outcome, cheaper.
  return applyCreation(state, view, change) ?? applyGeneral(state, view, change, merge);
}

/** applySimple without its shortcut for first changes (record-creation.ts); exported for the test that holds the two equal. */
export function applyGeneral(state: RecordState, view: RecordView, change: SimpleChange, merge: MergeContext = DEFAULT_MERGE_CONTEXT): SimpleOutcome | undefined {
  const linear = sameSet(change.deps, state.heads);
  if (linear ? change.startOp !== state.maxOp + 1 : !concurrentReady(state, change)) return undefined;
  // A state stored before the clock and the times were kept takes Automerge once (state-of-doc.ts reads them back).
  if (!state.times || !continuesActor(state, change)) return undefined;
  const next: RecordState & { times: number[] } = { ...state, times: state.times, actors: [...state.actors], ops: dictionaryOf(state.ops) };
  let actor = next.actors.indexOf(change.actor);
  if (actor < 0) actor = next.actors.push(change.actor) - 1;
  const time = timeIndex(next, change.time);
  // Working copies without prototypes (dictionaryOf); canonicalView returns a plain view.
  const v = dictionaryOf(view);
  v.address = dictionaryOf(view.address);
  v.custom = dictionaryOf(view.custom);
  // The tags as a set while ops come in, v.tags made from it at the end: a change may add
  // or delete thousands of them, and includes() / filter() on the array per op made that
  // quadratic (99,000 new tags in one change took 19 s).
  const tags = new Set(view.tags);
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
    const ref: OpRef = [change.startOp + offset, actor, time];
    if (op.key === null) return undefined;
    if (op.obj === '_root' && op.key === 'interactions' && op.action === 'inc') {
      if (!sameOps(next, next.ops.interactions, op.pred) || typeof op.value !== 'number') return undefined;
      v.interactions += op.value;
      touched.add('interactions');
      continue;
    }
    const path = fieldPath(op.obj, op.key);
    if (path === undefined || (op.action !== 'set' && op.action !== 'del')) return undefined;
    const current = next.ops[path] ?? [];
    let remaining: OpRef[];
    if (linear) {
      if (!sameOps(next, current, op.pred)) return undefined;
      remaining = [];
    } else {
      const split = splitByPred(next, path, current, op.pred);
      if (!split) return undefined;
      remaining = split.remaining;
    }
    const superseded = remaining.length === 0 ? current : current.filter((r) => !remaining.includes(r));
    if (op.action === 'set') {
      // With other values left, the view shows the one Automerge or the merge policy picks.
      let shows = true;
      if (remaining.length > 0 && !path.startsWith('tags.')) {
        if (isConflictField(path)) {
          const judged = remaining.length === 1 && current.length === 1
            ? judgeConcurrent(next, v, path, current[0]!, { ref, op, time: change.time }, merge) : undefined;
          // A losing value must still be one a view could show: Automerge reads every value.
          if (!judged || !setValue(probeView(), path, op, new Set())) return undefined;
          shows = judged.incomingWins;
          if (judged.conflict) v.conflicts = withConflict(v.conflicts, path);
        } else {
          if (path !== 'updatedAt' && path !== 'createdAt') return undefined;
          shows = beatsShown(next, current, ref);
        }
      }
      if (shows && !setValue(v, path, op, tags)) return undefined;
      next.ops[path] = remaining.length === 0 ? [ref] : [...remaining, ref].sort(byRef);
    } else {
      // A delete leaving other values: only one that supersedes nothing keeps the view as is.
      if (remaining.length > 0 && superseded.length > 0) return undefined;
      if (remaining.length === 0 && !deleteValue(v, path, tags)) return undefined;
      // `delete` only when there is something to delete: it turns the object into a slow dictionary.
      if (remaining.length > 0) next.ops[path] = remaining;
      else if (next.ops[path] !== undefined) delete next.ops[path];
    }
    rememberGone(next, path, superseded);
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
  v.tags = [...tags].sort();
  compactTimes(next);
  // A field stays in conflict while it keeps several values (the ones a change left alone).
  v.conflicts = v.conflicts.filter((f) => !touched.has(f) || (next.ops[f]?.length ?? 0) > 1);
  const lastOp = change.startOp + at - 1;
  rememberChange(next, change.hash, lastOp);
  next.heads = [...next.heads.filter((h) => !change.deps.includes(h)), change.hash].sort();
  next.maxOp = Math.max(next.maxOp, lastOp);
  advanceClock(next, actor, change.seq, lastOp);
  return { state: next, view: canonicalView(v), touched: [...touched], linear };
}

/**
 * A concurrent change can be judged here: its deps are in the document (state-knowledge.ts),
 * it is not already, and its ops are numbered above those of its deps.
 */
function concurrentReady(state: RecordState, change: SimpleChange): boolean {
  if (change.deps.length === 0 || knownMaxOp(state, change.hash) !== undefined) return false;
  for (const dep of change.deps) {
    const maxOp = knownMaxOp(state, dep);
    if (maxOp === undefined || change.startOp <= maxOp) return false;
  }
  return true;
}

/**
 * A concurrent op's pred split against the field's current values: each pred must be a
 * current value or a value recently superseded (state-knowledge.ts), so it names an op of
 * this field that the document holds. Undefined otherwise.
 */
function splitByPred(state: RecordState, path: string, current: readonly OpRef[], pred: readonly string[]): { remaining: OpRef[] } | undefined {
  const named = new Set<OpRef>();
  for (const id of pred) {
    const at = id.indexOf('@');
    const counter = Number(id.slice(0, at));
    const actor = state.actors.indexOf(id.slice(at + 1));
    if (actor < 0) return undefined;
    const ref = current.find((r) => r[0] === counter && r[1] === actor);
    if (ref) named.add(ref);
    else if (!isGone(state, path, counter, actor)) return undefined;
  }
  return { remaining: current.filter((r) => !named.has(r)) };
}

/**
 * For updatedAt and createdAt, which no merge policy judges: they show Automerge's own
 * winner, the highest op id. Whether the new op `ref` beats the value shown now (the
 * highest of `current`); if not, that value stays shown. A pred's counter is always below
 * its op's (the codec checks it), so a change that supersedes the shown value outranks it,
 * and a value that remains never outranks the one shown.
 */
function beatsShown(state: RecordState, current: readonly OpRef[], ref: OpRef): boolean {
  const shown = current.reduce((a, b) => (compareRefs(state, a, b) >= 0 ? a : b));
  return compareRefs(state, ref, shown) > 0;
}

/** A scratch view for checking that a value could be shown (setValue). */
function probeView(): RecordView {
  return { address: {}, custom: {}, tags: [] } as unknown as RecordView;
}

/** Automerge's op order: counter, then actor id. */
function compareRefs(state: RecordState, a: OpRef, b: OpRef): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  const x = state.actors[a[1]]!, y = state.actors[b[1]]!;
  return x < y ? -1 : x > y ? 1 : 0;
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

/** Sets `path` of `v` (its tags: of `tags`) from a `set` op; false when a view cannot show it. */
function setValue(v: RecordView, path: string, op: ChangeOp, tags: Set<string>): boolean {
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
    tags.add(path.slice(5));
    return true;
  }
  return false; // another root key (a newer version's field): Automerge
}

function deleteValue(v: RecordView, path: string, tags: Set<string>): boolean {
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
    tags.delete(path.slice(5));
    return true;
  }
  return false; // id, deleted, interactions: never deleted by crmsync
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

/** Orders op refs by counter, then actor index (as stateOfDoc stores them). */
export function byRef(a: OpRef, b: OpRef): number {
  return a[0] - b[0] || a[1] - b[1];
}
