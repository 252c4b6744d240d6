/**
 * Reading a record's state back from its document, after Automerge applied what
 * applySimple would not take (record-state.ts): the op ids of every field's current values
 * with their change times, the actor clock, and what the heads superseded
 * (state-knowledge.ts). Given the state before and the changes just applied, the clock and
 * times come from them instead of from the whole history.
 */
import * as A from '@automerge/automerge';
import type { ChangeOp } from './change-codec/index.js';
import { GENESIS_OBJECTS } from './change-info.js';
import { ADDRESS_FIELDS } from './record-schema.js';
import { byRef, fieldPath, opIdOf, type OpRef, type RecordState } from './record-state.js';
import { rememberChange, rememberGone, rememberedMaxOp, timeIndex } from './state-knowledge.js';

const ADDRESS: ReadonlySet<string> = new Set(ADDRESS_FIELDS);

/** A change Automerge just applied, as ChangeInfo describes it (stateOfDoc reads it instead of the document). */
export interface AppliedChange {
  hash: string;
  deps: readonly string[];
  actor: string;
  seq: number;
  startOp: number;
  opCount: number;
  time: number;
  ops: readonly ChangeOp[];
}

/**
 * Reads the state back from a document (after Automerge applied what applySimple would
 * not take). `maxOp` is carried: the caller raises it by the changes it applied. With
 * `since` (the state before and the changes applied to it), the actor clock and the head
 * changes are taken from them instead of read from the whole history.
 */
export function stateOfDoc(doc: A.Doc<unknown>, maxOp: number, local: RecordState['local'], since?: { state: RecordState; applied: readonly AppliedChange[] }): RecordState {
  const backend = A.getBackend(doc);
  const state: RecordState & { times: number[] } = { heads: A.getHeads(doc), maxOp, actors: [], ops: {}, ...(local ? { local } : {}), clock: [], known: [], times: [] };
  // The whole history's metadata, read at most once: for the clock of a state that has
  // none, and for the times of values neither the state before nor the changes applied wrote.
  let history: A.ChangeMetadata[] | undefined;
  const metas = () => (history ??= backend.getChangesMeta([]));
  const actorIndex = new Map<string, number>();
  const indexOf = (actor: string): number => {
    let index = actorIndex.get(actor);
    if (index === undefined) {
      index = state.actors.push(actor) - 1;
      actorIndex.set(actor, index);
      state.clock!.push([0, 0]);
    }
    return index;
  };
  const raise = (actor: string, seq: number, top: number) => {
    const entry = state.clock![indexOf(actor)]!;
    if (seq > entry[0]) entry[0] = seq;
    if (top > entry[1]) entry[1] = top;
  };
  // Every actor that wrote, with its last seq and highest op (state-knowledge.ts).
  const before = since?.state;
  if (before?.clock) {
    before.actors.forEach((actor, i) => { if (before.clock![i]) raise(actor, before.clock![i]![0], before.clock![i]![1]); });
    for (const c of since!.applied) raise(c.actor, c.seq, c.startOp + c.opCount - 1);
  } else {
    for (const meta of metas()) raise(meta.actor, meta.seq, meta.maxOp);
  }
  const refOf = (opId: string): OpRef => {
    const at = opId.indexOf('@');
    return [Number(opId.slice(0, at)), indexOf(opId.slice(at + 1))];
  };
  // The heads, what they depend on, and the ops their preds name are in the document.
  const applied = new Map((since?.applied ?? []).map((c) => [c.hash, c]));
  const maxOpOf = (hash: string) => {
    const c = applied.get(hash);
    if (c) return c.startOp + c.opCount - 1;
    return (before && rememberedMaxOp(before, hash)) ?? backend.getChangeMetaByHash(hash)?.maxOp;
  };
  for (const head of state.heads) {
    const change = applied.get(head) ?? backend.getDecodedChangeByHash(head);
    if (!change) continue;
    for (const dep of change.deps) {
      const top = maxOpOf(dep);
      if (top !== undefined) rememberChange(state, dep, top);
    }
    rememberChange(state, head, maxOpOf(head) ?? maxOp);
    for (const op of change.ops) {
      const path = typeof op.key !== 'string' ? undefined : fieldPath(op.obj, op.key);
      if (path !== undefined) rememberGone(state, path, op.pred.map(refOf));
    }
  }
  const timeOf = changeTimes(metas, since);
  const track = (obj: string, key: string, path: string) => {
    const values = backend.getAll(obj, key);
    if (values.length === 0) return;
    state.ops[path] = values.map((v) => {
      const opId = String(v[v.length - 1]);
      const ref = refOf(opId);
      ref.push(timeIndex(state, timeOf(opId)));
      return ref;
    }).sort(byRef);
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

/**
 * The time of the change that wrote an op: from the state before and the changes just
 * applied when they say (a current value is one of theirs), else from the history.
 */
function changeTimes(metas: () => readonly A.ChangeMetadata[], since: { state: RecordState; applied: readonly AppliedChange[] } | undefined): (opId: string) => number {
  const known = new Map<string, number>();
  const before = since?.state;
  if (before?.times) {
    for (const path in before.ops) {
      for (const ref of before.ops[path]!) if (ref[2] !== undefined) known.set(opIdOf(before, ref), before.times[ref[2]]!);
    }
  }
  let history: Map<string, { startOp: number; maxOp: number; time: number }[]> | undefined;
  const ranges = (actor: string) => {
    if (!history) {
      history = new Map();
      for (const meta of metas()) {
        const list = history.get(meta.actor) ?? [];
        list.push(meta);
        history.set(meta.actor, list);
      }
    }
    return history.get(actor) ?? [];
  };
  return (opId) => {
    const time = known.get(opId);
    if (time !== undefined) return time;
    const at = opId.indexOf('@');
    const counter = Number(opId.slice(0, at));
    const actor = opId.slice(at + 1);
    const change = since?.applied.find((c) => c.actor === actor && c.startOp <= counter && counter < c.startOp + c.opCount)
      ?? ranges(actor).find((m) => m.startOp <= counter && counter <= m.maxOp);
    return change?.time ?? 0;
  };
}
