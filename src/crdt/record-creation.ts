/**
 * The first change of a record, applied to the genesis state without the general
 * machinery of `applySimple` (record-state.ts): a bulk load, an import and a new node's
 * catch-up are almost all first changes, and there the general path paid for working
 * copies it never needed. Such a change is linear on the genesis heads, and each op
 * writes a field nobody wrote before (so it supersedes nothing), except the counter's
 * increments; the view is built in its canonical key order directly.
 *
 * The contract: for every change this accepts, the outcome is exactly `applySimple`'s
 * (the same view, key order included, the same state, key order included);
 * test/crdt/record-creation.test.ts holds it to the general path on random changes.
 * Anything else (a repeated field, a delete, a `deleted` flag, deletedAt, notes in more
 * than one run, a field this version does not know) returns undefined, and the
 * general path decides.
 */
import type { ChangeOp } from './change-codec/index.js';
import { GENESIS_OBJECTS } from './change-info.js';
import { GENESIS_HASH } from './genesis.js';
import { notesOf } from './record-doc.js';
import { ADDRESS_FIELDS, ATOMIC_FIELDS, type RecordView } from './record-schema.js';
import type { OpRef, RecordState, SimpleChange, SimpleOutcome } from './record-state.js';
import { KNOWN_HASH_CHARS } from './state-knowledge.js';

const ATOMIC: ReadonlySet<string> = new Set(ATOMIC_FIELDS);
/** Each address part's field path, made once rather than per op (fieldPath). */
const ADDRESS_PATHS: ReadonlyMap<string, string> = new Map(ADDRESS_FIELDS.map((part) => [part, `address.${part}`]));
const GENESIS_ACTOR = '00';
/** The genesis document's op ids: the interaction counter (5@00) and the deleted flag (6@00). */
const GENESIS_MAX_OP = 6;
const INTERACTIONS_OP = `5@${GENESIS_ACTOR}`;

type Atomic = Partial<Record<(typeof ATOMIC_FIELDS)[number], string>>;
type Address = RecordView['address'];

/**
 * The outcome of the record's first change on the genesis state and an empty view, or
 * undefined when `state`/`view` are not those or the change is not a plain first change.
 */
export function applyCreation(state: RecordState, view: RecordView, change: SimpleChange): SimpleOutcome | undefined {
  if (!isGenesis(state) || !isEmpty(view)) return undefined;
  // Linear on the genesis heads, the actor's first change (continuesActor), ops after genesis's.
  if (change.deps.length !== 1 || change.deps[0] !== GENESIS_HASH || change.startOp !== GENESIS_MAX_OP + 1) return undefined;
  if (change.seq !== 1 || change.actor === GENESIS_ACTOR || change.ops.length === 0) return undefined;
  const withTime = change.time !== 0; // a time of 0 is genesis's own: no new entry in `times`
  const time = withTime ? 1 : 0;
  const ops = Object.create(null) as Record<string, OpRef[]>; // a dictionary, as applySimple's
  ops.interactions = state.ops.interactions!;
  ops.deleted = state.ops.deleted!;
  const atomic: Atomic = {};
  const address: Address = {};
  let custom: Record<string, string | number | boolean> | undefined;
  const tags: string[] = [];
  const touched: string[] = [];
  let notes: string | undefined;
  let interactions = 0;
  let incremented = false; // a flag, not touched.includes() per op: a change may carry thousands of increments
  let createdAt = 0;
  let updatedAt = 0;
  let refs = 0;
  let at = 0; // counter offset of the op after this one (ChangeOp.run)
  for (let i = 0; i < change.ops.length; i++) {
    const op = change.ops[i]!;
    const offset = at;
    at += op.run ?? 1;
    if (op.obj === GENESIS_OBJECTS.notes) {
      // One run of characters into the empty notes, starting at the head.
      const firstRun = notes === undefined && op.elemId === '_head' && op.insert && op.pred.length === 0;
      if (!firstRun || op.action !== 'set' || op.datatype !== 'str' || typeof op.value !== 'string') return undefined;
      notes = op.value;
      touched.push('notes');
      continue;
    }
    if (op.key === null) return undefined;
    if (op.obj === '_root' && op.key === 'interactions' && op.action === 'inc') {
      if (op.pred.length !== 1 || op.pred[0] !== INTERACTIONS_OP || typeof op.value !== 'number') return undefined;
      if (!incremented) touched.push('interactions');
      incremented = true;
      interactions += op.value;
      continue;
    }
    const path = fieldPath(op.obj, op.key);
    if (path === undefined || path in ops || op.action !== 'set' || op.insert || op.pred.length > 0) return undefined;
    if (!setField(op, op.key, path)) return undefined;
    ops[path] = [[change.startOp + offset, 1, time]];
    touched.push(path);
    refs++;
  }
  if (tags.length > 1) tags.sort();
  const lastOp = change.startOp + at - 1;
  const next: RecordState = {
    heads: [change.hash], maxOp: lastOp, actors: [GENESIS_ACTOR, change.actor], ops, clock: [state.clock![0]!, [1, lastOp]],
    // A time no op points to is dropped (compactTimes): an increment or notes alone make no op ref.
    times: withTime && refs > 0 ? [0, change.time] : [0],
  };
  if (notes !== undefined) next.notesLength = notes.length;
  next.known = [[change.hash.slice(0, KNOWN_HASH_CHARS), lastOp]];
  return { state: next, view: canonical(), touched, linear: true };

  /** Sets the view's value of `path` from a `set` op, as applySimple's setValue does; false when it cannot show it. */
  function setField(op: ChangeOp, key: string, path: string): boolean {
    const { value, datatype } = op;
    if (typeof value === 'bigint') return false;
    const isNumber = (datatype === 'int' || datatype === 'uint' || datatype === 'f64') && typeof value === 'number';
    if (ATOMIC.has(path)) {
      if (datatype !== 'str' || typeof value !== 'string') return false;
      atomic[path as keyof Atomic] = value;
    } else if (path === 'id') {
      return datatype === 'str';
    } else if (path === 'createdAt' || path === 'updatedAt') {
      if (!isNumber) return false;
      if (path === 'createdAt') createdAt = value as number;
      else updatedAt = value as number;
    } else if (path.startsWith('address.')) {
      if (datatype !== 'str' || typeof value !== 'string') return false;
      address[key as keyof Address] = value;
    } else if (path.startsWith('custom.')) {
      if (!((datatype === 'str' && typeof value === 'string') || isNumber || (datatype === 'boolean' && typeof value === 'boolean'))) return false;
      // Prototype-free, as the general path's working copy: a key such as `__proto__` is a field like any other.
      custom ??= Object.create(null) as Record<string, string | number | boolean>;
      custom[key] = value as string | number | boolean;
    } else if (path.startsWith('tags.')) {
      if (!isNumber) return false;
      tags.push(key); // each tag path is new in this change, so each tag is too
    } else {
      return false; // deleted, deletedAt, another root key: the general path
    }
    return true;
  }

  /** The view in canonicalView's order: the schema's keys, the address's parts, custom keys sorted. */
  function canonical(): RecordView {
    const out: Record<string, unknown> = { id: view.id };
    out.name = atomic.name ?? view.name;
    for (let i = 1; i < ATOMIC_FIELDS.length; i++) {
      const field = ATOMIC_FIELDS[i]!;
      if (atomic[field] !== undefined) out[field] = atomic[field];
    }
    const parts: Address = {};
    for (const part of ADDRESS_FIELDS) if (address[part] !== undefined) parts[part] = address[part];
    out.address = parts;
    out.tags = tags;
    out.notes = notes === undefined ? view.notes : notesOf(notes);
    out.interactions = view.interactions + interactions;
    out.custom = custom === undefined ? {} : Object.fromEntries(Object.entries(custom).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    out.createdAt = createdAt;
    out.updatedAt = updatedAt;
    out.deleted = false;
    out.conflicts = [];
    return out as unknown as RecordView;
  }
}

/** The state field path of a map key of a genesis object; undefined for anything else. */
export function fieldPath(obj: string, key: string): string | undefined {
  if (obj === '_root') return key;
  if (obj === GENESIS_OBJECTS.address) return ADDRESS_PATHS.get(key);
  if (obj === GENESIS_OBJECTS.custom) return `custom.${key}`;
  if (obj === GENESIS_OBJECTS.tags) return `tags.${key}`;
  return undefined;
}

/** Exactly the state `genesisState()` returns. */
function isGenesis(s: RecordState): boolean {
  const interactions = s.ops.interactions;
  const deleted = s.ops.deleted;
  return s.heads.length === 1 && s.heads[0] === GENESIS_HASH && s.maxOp === GENESIS_MAX_OP
    && s.actors.length === 1 && s.actors[0] === GENESIS_ACTOR
    && s.clock?.length === 1 && s.clock[0]![0] === 1 && s.clock[0]![1] === GENESIS_MAX_OP
    && s.times?.length === 1 && s.times[0] === 0
    && s.local === undefined && s.notesLength === undefined && s.known === undefined && s.gone === undefined
    && ownKeyCount(s.ops) === 2 && isRef(interactions, 5) && isRef(deleted, 6)
    && ownKeyCount(s) === 6;
}

function isRef(refs: OpRef[] | undefined, counter: number): boolean {
  return refs?.length === 1 && refs[0]![0] === counter && refs[0]![1] === 0 && refs[0]![2] === 0 && refs[0]!.length === 3;
}

/** Exactly the view `emptyView(id)` returns. */
function isEmpty(v: RecordView): boolean {
  return v.name === '' && v.notes === '' && v.interactions === 0 && v.createdAt === 0 && v.updatedAt === 0 && v.deleted === false
    && v.tags.length === 0 && v.conflicts.length === 0 && ownKeyCount(v.address) === 0 && ownKeyCount(v.custom) === 0
    && ownKeyCount(v) === 11;
}

/**
 * `Object.keys(object).length` without the array: applyCreation checks the state and the
 * view it starts from on every write, and those key arrays were 0.36 KB per created
 * record (micro-measured).
 */
function ownKeyCount(object: object): number {
  let count = 0;
  for (const key in object) if (Object.hasOwn(object, key)) count++;
  return count;
}
