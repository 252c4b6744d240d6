/**
 * Local writes without the document: a write of plain field values (what creates and
 * most edits are) is turned straight into an Automerge change, from the record's state
 * (record-state.ts), with the change codec. The change is exactly what a writer on the
 * document could have made: deps are the heads, ops start after the highest op counter,
 * and every put or delete names the current op ids of its field as predecessors. The
 * new view and state come from `applySimple` on that very change, the function that
 * takes the same change on every other node. Anything this cannot write (notes edits,
 * re-adding a present tag) returns undefined and goes through Automerge (record-doc.ts).
 */
import { codePointLength, encodeHashedChange, NO_PREDS, type ChangeOp, type ScalarValue } from './change-codec/index.js';
import { fieldsOf, GENESIS_OBJECTS } from './change-info.js';
import { tagPlan, type RecordWrite } from './record-doc.js';
import { ADDRESS_FIELDS, type RecordView } from './record-schema.js';
import { applySimple, opIdOf, type RecordState } from './record-state.js';
import { actorClock } from './state-knowledge.js';

/** A change written without the document, with what it leads to. */
export interface EncodedWrite {
  change: Uint8Array;
  hash: string;
  state: RecordState;
  view: RecordView;
  fields: string[];
}

type Put = { obj: string; key: string; value?: ScalarValue; datatype?: ChangeOp['datatype']; action: 'set' | 'del' | 'inc' };

/**
 * Encodes `write` as a change on `state`/`view`, as `actor` at `now` (ms) with `author`
 * as its message; undefined when the write needs the document, or changes nothing.
 */
export function encodeWrite(state: RecordState, view: RecordView, write: RecordWrite, context: { actor: string; now: number; author?: string | undefined; id: string }): EncodedWrite | undefined {
  const puts = plan(state, view, write, context.now, context.id);
  if (!puts) return undefined;
  if (puts.length === 0) return undefined;
  const startOp = state.maxOp + 1;
  // A state without a clock (stored before it was kept) is refused by applySimple below.
  const seq = (actorClock(state, context.actor)?.[0] ?? 0) + 1;
  const ops: ChangeOp[] = [];
  for (const put of puts) {
    const path = put.obj === GENESIS_OBJECTS.notes ? undefined : pathOf(put.obj, put.key);
    if (put.obj === GENESIS_OBJECTS.notes) {
      // One run of characters, each inserted after the one before: one op object for all
      // of them (ChangeOp.run), which the codec expands and applySimple reads as a run.
      // plan() writes notes only into empty text, so the run starts at the head.
      const text = put.value as string;
      const run = codePointLength(text);
      if (run > 0) ops.push({ ...op('set', put.obj, null, '_head', true, 'str', text, []), run });
      continue;
    }
    const refs = state.ops[path!];
    // A field written for the first time (every op of a created record): the shared empty preds.
    const pred = refs === undefined ? NO_PREDS : refs.map((ref) => opIdOf(state, ref)).sort(byOpId);
    if (put.action === 'set') ops.push(op('set', put.obj, put.key, null, false, put.datatype!, put.value!, pred));
    else if (put.action === 'del') ops.push(op('del', put.obj, put.key, null, false, 'null', null, pred));
    else ops.push(op('inc', put.obj, put.key, null, false, 'int', put.value!, pred));
  }
  const deps = [...state.heads].sort();
  const { change, hash } = encodeHashedChange({ actor: context.actor, seq, startOp, time: context.now, message: context.author ?? null, deps, ops });
  const applied = applySimple(state, view, { hash, deps, actor: context.actor, seq, startOp, time: context.now, ops });
  if (!applied) return undefined;
  // applySimple's state is a new object: it takes `local` in place of a copy with it
  // (the same key order: kept where the state had it, else last).
  applied.state.local = { actor: context.actor, seq };
  return { change, hash, state: applied.state, view: applied.view, fields: fieldsOf(ops) };
}

function op(action: ChangeOp['action'], obj: string, key: string | null, elemId: string | null, insert: boolean, datatype: ChangeOp['datatype'], value: ScalarValue, pred: string[]): ChangeOp {
  return { action, obj, key, elemId, insert, datatype, value, pred, markName: null, expand: false };
}

function pathOf(obj: string, key: string): string {
  if (obj === GENESIS_OBJECTS.address) return `address.${key}`;
  if (obj === GENESIS_OBJECTS.custom) return `custom.${key}`;
  if (obj === GENESIS_OBJECTS.tags) return `tags.${key}`;
  return key;
}

/** Op ids in the order the change format wants preds: by counter, then actor. */
function byOpId(a: string, b: string): number {
  const [ca, aa] = a.split('@') as [string, string];
  const [cb, ab] = b.split('@') as [string, string];
  return Number(ca) - Number(cb) || (aa < ab ? -1 : aa > ab ? 1 : 0);
}

/** The datatype a plain value is written with, as writeRecord writes it. */
function datatypeOf(value: string | number | boolean): ChangeOp['datatype'] {
  return typeof value === 'string' ? 'str' : typeof value === 'boolean' ? 'boolean' : Number.isSafeInteger(value) ? 'int' : 'f64';
}

// Puts are built whole by these two rather than spread from a `{ value, datatype }`
// temporary: with Object.entries' pairs and two closures per call, that made plan()
// allocate about 3.6 KB per created bench record (alloc profile, 10,000 records).
function setPut(obj: string, key: string, value: string | number | boolean): Put {
  return { obj, key, action: 'set', value, datatype: datatypeOf(value) };
}

function delPut(obj: string, key: string): Put {
  return { obj, key, action: 'del' };
}

/** Whether a field holds concurrent values: such a field is always written, as writing resolves the conflict. */
function contested(state: RecordState, path: string): boolean {
  return (state.ops[path]?.length ?? 0) > 1;
}

/** Appends the put of `value` (null: a delete) unless it is undefined or already shown (`current`) and uncontested. */
function planSet(state: RecordState, puts: Put[], obj: string, key: string, value: string | number | boolean | null | undefined, current: unknown): void {
  if (value === undefined || ((value ?? undefined) === current && !contested(state, pathOf(obj, key)))) return;
  puts.push(value === null ? delPut(obj, key) : setPut(obj, key, value));
}

/** The operations `writeRecord` would make, in its order; undefined when it needs the document. */
function plan(state: RecordState, view: RecordView, write: RecordWrite, now: number, id: string): Put[] | undefined {
  if (write.reopen) return undefined; // the reopen mark is written with the document (record-doc.ts)
  const puts: Put[] = [];
  const atomicView = view as unknown as Record<string, string | undefined>;
  if (write.atomic) {
    for (const key of Object.keys(write.atomic)) {
      const value = write.atomic[key as keyof typeof write.atomic];
      planSet(state, puts, '_root', key, value, key === 'name' ? (state.ops.name ? view.name : undefined) : atomicView[key]);
    }
  }
  if (write.address || write.replaceAddress) {
    for (const part of ADDRESS_FIELDS) {
      const given = write.address?.[part];
      planSet(state, puts, GENESIS_OBJECTS.address, part, given === undefined ? (write.replaceAddress ? null : undefined) : given, view.address[part]);
    }
  }
  const custom = write.custom ?? {};
  if (write.replaceCustom) for (const key of Object.keys(view.custom)) if (!(key in custom)) puts.push(delPut(GENESIS_OBJECTS.custom, key));
  for (const key of Object.keys(custom)) {
    const value = custom[key];
    if (value === undefined) continue;
    const current = view.custom[key];
    // A string becomes an ImmutableString; a number or boolean stays itself (as writeRecord does).
    if (value !== null && current === value && !contested(state, `custom.${key}`)) continue;
    if (value === null && current === undefined) continue;
    puts.push(value === null ? delPut(GENESIS_OBJECTS.custom, key) : setPut(GENESIS_OBJECTS.custom, key, value));
  }
  if (!planTags(view, write, puts)) return undefined;
  let delta = write.incrementInteractions ?? 0;
  if (write.setInteractions !== undefined) delta += write.setInteractions - view.interactions;
  if (delta !== 0) puts.push({ obj: '_root', key: 'interactions', action: 'inc', value: delta });
  if (write.notes !== undefined && write.notes !== view.notes) {
    // Only text written into empty notes; an edit of existing text needs the document.
    if (view.notes !== '' || (state.notesLength ?? 0) > 0) return undefined;
    puts.push({ obj: GENESIS_OBJECTS.notes, key: '', action: 'set', value: `${write.notes}\n` });
  }
  if (write.deleted !== undefined && (view.deleted !== write.deleted || contested(state, 'deleted'))) {
    puts.push(setPut('_root', 'deleted', write.deleted));
    if (write.deleted) puts.push(setPut('_root', 'deletedAt', now));
    else if (state.ops.deletedAt) puts.push(delPut('_root', 'deletedAt'));
  }
  if (puts.length === 0) return [];
  if (!state.ops.id) puts.push(setPut('_root', 'id', id));
  if (!state.ops.createdAt) puts.push(setPut('_root', 'createdAt', now));
  puts.push(setPut('_root', 'updatedAt', now));
  return puts;
}

/** Tag operations, as writeRecord makes them; false when one needs the document (re-adding a present tag bumps a value we do not keep). */
function planTags(view: RecordView, write: RecordWrite, puts: Put[]): boolean {
  const present = new Set(view.tags);
  const { add, ensure, remove } = tagPlan(write, present);
  for (const tag of add) {
    if (present.has(tag)) return false;
    puts.push(setPut(GENESIS_OBJECTS.tags, tag, 1));
  }
  for (const tag of ensure) {
    if (add.has(tag) || present.has(tag)) continue;
    puts.push(setPut(GENESIS_OBJECTS.tags, tag, 1));
  }
  for (const tag of remove) {
    if (add.has(tag) || ensure.has(tag) || !present.has(tag)) continue;
    puts.push(delPut(GENESIS_OBJECTS.tags, tag));
  }
  return true;
}
