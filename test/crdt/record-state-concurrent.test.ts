/**
 * Concurrent changes without the document (record-state.ts, state-knowledge.ts): taken
 * when they merge exactly as Automerge merges them, refused (so Automerge judges them)
 * whenever Automerge would refuse them or would do something the state cannot see. A
 * member's forged change must never be applied here and refused elsewhere: that would
 * split the record between nodes.
 */
import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { makeActorId } from '../../src/crdt/actor.js';
import { decodeChange, encodeChange, type ChangeOp } from '../../src/crdt/change-codec/index.js';
import { applyRecordChanges, freeDoc, loadRecordDoc, materialize, misnumbered, type RecordDoc } from '../../src/crdt/record-doc.js';
import { encodeWrite } from '../../src/crdt/record-encode.js';
import type { RecordView } from '../../src/crdt/record-schema.js';
import { DEFAULT_MERGE_POLICIES } from '../../src/crdt/merge-policy.js';
import type { MergeContext } from '../../src/crdt/record-conflicts.js';
import { applySimple, emptyView, genesisState, opIdOf, type RecordState } from '../../src/crdt/record-state.js';
import { stateOfDoc } from '../../src/crdt/state-of-doc.js';
import { parseNodeId, parseRecordId } from '../../src/types.js';

const ID = parseRecordId('cust-9');
const north = makeActorId(parseNodeId('north'), new Uint8Array(8).fill(1));
const laptop = makeActorId(parseNodeId('laptop-3'), new Uint8Array(8).fill(2));

interface Side { state: RecordState; view: RecordView; doc: RecordDoc }

/** North creates the record; the laptop has it too; north then edits the phone. */
function setup(): { north: Side; laptop: Side; created: Uint8Array } {
  const created = encodeWrite(genesisState(), emptyView(ID), { atomic: { name: 'Ada', phone: '1', owner: 'kim' } }, { actor: north, now: 1000, id: ID })!;
  const doc = applyRecordChanges(loadRecordDoc([], north), [created.change]);
  const edit = encodeWrite(created.state, created.view, { atomic: { phone: '2' } }, { actor: north, now: 2000, id: ID })!;
  return {
    north: { state: edit.state, view: edit.view, doc: applyRecordChanges(doc, [edit.change]) },
    laptop: { state: created.state, view: created.view, doc: applyRecordChanges(loadRecordDoc([], laptop), [created.change]) },
    created: created.change,
  };
}

/** The laptop's change made offline on the created record. */
function laptopEdit(side: Side, write: Parameters<typeof encodeWrite>[2], now = 1500) {
  return encodeWrite(side.state, side.view, write, { actor: laptop, now, id: ID })!;
}

/** Re-encodes a change with some of its header or ops replaced (a forgery by its writer). */
function forge(change: Uint8Array, patch: { seq?: number; startOp?: number; deps?: string[]; ops?: (ops: ChangeOp[]) => ChangeOp[] }): Uint8Array {
  const d = decodeChange(change);
  return encodeChange({ actor: d.actor, seq: patch.seq ?? d.seq, startOp: patch.startOp ?? d.startOp, time: d.time, message: d.message, deps: patch.deps ?? d.deps, ops: patch.ops ? patch.ops(d.ops) : d.ops });
}

function automergeTakes(doc: RecordDoc, change: Uint8Array): boolean {
  try {
    freeDoc(applyRecordChanges(A.clone(doc), [change]));
    return true;
  } catch {
    return false;
  }
}

describe('concurrent changes without the document', () => {
  it('takes a concurrent edit of another field, with the view and state Automerge gives', () => {
    const { north: n, laptop: l } = setup();
    const edit = laptopEdit(l, { atomic: { owner: 'lee' } });
    const out = applySimple(n.state, n.view, decodeChange(edit.change));
    expect(out?.linear).toBe(false);
    const merged = applyRecordChanges(n.doc, [edit.change]);
    expect(JSON.stringify(out!.view)).toBe(JSON.stringify(materialize(merged, ID)));
    expect(out!.view).toMatchObject({ phone: '2', owner: 'lee', conflicts: [] });
    const truth = stateOfDoc(merged, out!.state.maxOp, undefined);
    expect([...out!.state.heads].sort()).toEqual([...truth.heads].sort());
    // updatedAt keeps both values; the view shows Automerge's winner (checked above).
    expect(out!.state.ops.updatedAt!.map((r) => opIdOf(out!.state, r)).sort()).toEqual(truth.ops.updatedAt!.map((r) => opIdOf(truth, r)).sort());
    freeDoc(merged);
  });

  it('judges a same-field conflict by the merge policy, as materialize does, roles included', () => {
    for (const [northRole, laptopRole] of [['region', 'laptop'], ['laptop', 'region'], [undefined, undefined]] as const) {
      const { north: n, laptop: l } = setup();
      const merge: MergeContext = { policies: DEFAULT_MERGE_POLICIES, roleOf: (node) => (node === 'north' ? northRole : laptopRole) };
      // The laptop's owner is written earlier than north's name edit: owner-region decides owner.
      const edit = laptopEdit(l, { atomic: { phone: '3', owner: 'lee' } });
      const ownerEdit = encodeWrite(n.state, n.view, { atomic: { owner: 'sam' } }, { actor: north, now: 2500, id: ID })!;
      const doc = applyRecordChanges(n.doc, [ownerEdit.change]);
      const out = applySimple(ownerEdit.state, ownerEdit.view, decodeChange(edit.change), merge);
      expect(out?.linear).toBe(false);
      const merged = applyRecordChanges(doc, [edit.change]);
      const truth = materialize(merged, ID, undefined, merge);
      expect(JSON.stringify(out!.view)).toBe(JSON.stringify(truth));
      expect(truth.conflicts).toEqual(['phone', 'owner']);
      expect(truth.owner).toBe(laptopRole === 'region' ? 'lee' : 'sam'); // a region beats a laptop; else the later write
      freeDoc(merged);
    }
  });

  it('leaves to Automerge a field already in conflict and stage (its rule reads reopen marks)', () => {
    const { north: n, laptop: l } = setup();
    const first = laptopEdit(l, { atomic: { phone: '3' } });
    const once = applySimple(n.state, n.view, decodeChange(first.change))!;
    expect(once.view.conflicts).toEqual(['phone']);
    const second = laptopEdit({ state: first.state, view: first.view, doc: l.doc }, { atomic: { phone: '4' } }, 1600);
    // Made on the laptop's own value only: north's value stays beside it, still in conflict.
    expect(applySimple(once.state, once.view, decodeChange(second.change))).toBeUndefined();
    const stage = laptopEdit(l, { atomic: { stage: 'won' } });
    const northStage = encodeWrite(n.state, n.view, { atomic: { stage: 'lost' } }, { actor: north, now: 2500, id: ID })!;
    expect(applySimple(northStage.state, northStage.view, decodeChange(stage.change))).toBeUndefined();
  });

  it('refuses a forged second change under a seq its actor already used, as Automerge does', () => {
    const { north: n, laptop: l } = setup();
    const first = laptopEdit(l, { atomic: { owner: 'lee' } });
    const out = applySimple(n.state, n.view, decodeChange(first.change))!;
    const doc = applyRecordChanges(n.doc, [first.change]);
    // The same seq again, on the same deps, with other ops: a fork of the laptop's history.
    const fork = forge(laptopEdit(l, { atomic: { email: 'x@example.com' } }).change, {});
    expect(decodeChange(fork).seq).toBe(decodeChange(first.change).seq);
    expect(automergeTakes(doc, fork)).toBe(false);
    expect(applySimple(out.state, out.view, decodeChange(fork))).toBeUndefined();
    // A replay of the very same change is refused too (it is already in the document).
    expect(applySimple(out.state, out.view, decodeChange(first.change))).toBeUndefined();
    freeDoc(doc);
  });

  it('refuses a pred that names another field\'s current value (Automerge would delete that value)', () => {
    const { north: n, laptop: l } = setup();
    const phoneOp = opIdOf(n.state, n.state.ops.phone![0]!);
    const edit = laptopEdit(l, { atomic: { owner: 'lee' } });
    // Numbered above north's ops, so the pred is below the op's own counter, as decoding requires.
    const forged = forge(edit.change, { startOp: 50, ops: (ops) => ops.map((op) => (op.key === 'owner' ? { ...op, pred: [...op.pred, phoneOp].sort() } : op)) });
    const merged = applyRecordChanges(n.doc, [forged]);
    expect(materialize(merged, ID).phone).toBeUndefined(); // what Automerge does with it
    expect(applySimple(n.state, n.view, decodeChange(forged))).toBeUndefined();
    freeDoc(merged);
  });

  it('refuses a pred naming an op the document does not hold, deps it does not hold, and reused op ids', () => {
    const { north: n, laptop: l } = setup();
    const edit = laptopEdit(l, { atomic: { owner: 'lee' } });
    const stranger = `1@${makeActorId(parseNodeId('ghost'), new Uint8Array(8))}`;
    const badPred = forge(edit.change, { ops: (ops) => ops.map((op) => (op.key === 'owner' ? { ...op, pred: [stranger] } : op)) });
    expect(automergeTakes(n.doc, badPred)).toBe(false);
    expect(applySimple(n.state, n.view, decodeChange(badPred))).toBeUndefined();
    const badDeps = forge(edit.change, { deps: ['ab'.repeat(32)] });
    expect(applySimple(n.state, n.view, decodeChange(badDeps))).toBeUndefined();
    // Ops numbered from 7: ids the laptop's actor never used, but below the counters of the
    // change it depends on. Automerge takes it and then cannot load the document: refused here.
    const custom = (ops: ChangeOp[]): ChangeOp[] => [{ ...ops[0]!, obj: '4@00', key: 'tier', pred: [] }];
    const lowOps = forge(edit.change, { startOp: 7, ops: custom });
    expect(applySimple(n.state, n.view, decodeChange(lowOps))).toBeUndefined();
    // The Automerge path refuses it too (ingest quarantines it on every node alike).
    expect(misnumbered(n.doc, [{ ...decodeChange(lowOps), opCount: 1 }])).toMatch(/numbers its operations from 7/);
    const reload = (change: Uint8Array) => () => A.load(A.save(applyRecordChanges(A.clone(n.doc), [change])));
    expect(reload(lowOps)).toThrow();
    expect(reload(edit.change)).not.toThrow();
    expect(applySimple(n.state, n.view, decodeChange(forge(edit.change, { startOp: 40, ops: custom })))?.linear).toBe(false);
  });

  it('knows a merged state\'s history after Automerge (stateOfDoc remembers what the heads superseded)', () => {
    const { north: n, laptop: l } = setup();
    const conflict = laptopEdit(l, { atomic: { phone: '3' } });
    const merged = applyRecordChanges(n.doc, [conflict.change]);
    const state = stateOfDoc(merged, Math.max(n.state.maxOp, decodeChange(conflict.change).startOp + 4), undefined);
    const view = materialize(merged, ID);
    // A second laptop change made before it heard from north: concurrent with north's edit.
    const later = laptopEdit({ state: conflict.state, view: conflict.view, doc: l.doc }, { atomic: { owner: 'lee' } }, 1600);
    const out = applySimple(state, view, decodeChange(later.change));
    expect(out?.linear).toBe(false);
    const both = applyRecordChanges(merged, [later.change]);
    expect(JSON.stringify(out!.view)).toBe(JSON.stringify(materialize(both, ID)));
    freeDoc(both);
  });

  it('sends changes for a state stored before the clock was kept through Automerge once, which reads the clock back', () => {
    const { north: n, laptop: l } = setup();
    const { clock: _clock, known: _known, times: _times, gone: _gone, ...legacy } = n.state;
    const edit = laptopEdit(l, { atomic: { owner: 'lee' } });
    expect(applySimple(legacy, n.view, decodeChange(edit.change))).toBeUndefined();
    const local = encodeWrite(legacy, n.view, { atomic: { title: 'CTO' } }, { actor: north, now: 3000, id: ID });
    expect(local).toBeUndefined(); // the write takes the document too
    const merged = applyRecordChanges(n.doc, [edit.change]);
    const info = { ...decodeChange(edit.change), opCount: decodeChange(edit.change).ops.length };
    const read = stateOfDoc(merged, n.state.maxOp + 10, undefined, { state: legacy, applied: [info] });
    expect(read.clock).toEqual(stateOfDoc(merged, n.state.maxOp + 10, undefined).clock);
    expect(read.times!.length).toBeGreaterThan(0);
    freeDoc(merged);
  });
});
