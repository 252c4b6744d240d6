/**
 * A write to a field in conflict supersedes every concurrent value, even when it writes
 * the value shown: through Automerge (writeRecord) and without the document
 * (encodeWrite), the conflict is gone on the writer and on a replica that receives it.
 */
import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { makeActorId } from '../../src/crdt/actor.js';
import { decodeChange } from '../../src/crdt/change-codec/index.js';
import { applyRecordChanges, loadRecordDoc, materialize, writeRecord, type RecordDoc, type RecordWrite } from '../../src/crdt/record-doc.js';
import { encodeWrite } from '../../src/crdt/record-encode.js';
import { wouldChange } from '../../src/crdt/record-input.js';
import { stateOfDoc } from '../../src/crdt/state-of-doc.js';
import { parseNodeId, parseRecordId } from '../../src/types.js';

const id = parseRecordId('cust-1');
const actorOf = (node: string) => makeActorId(parseNodeId(node), new Uint8Array(8).fill(node.length));

/** Two replicas that wrote `apart` concurrently (each its own value per field), merged on `a`. */
function conflicted(apart: [RecordWrite, RecordWrite[]]): { merged: RecordDoc; other: RecordDoc } {
  const base = writeRecord(loadRecordDoc([], actorOf('a')), id, { atomic: { name: 'Ada' } }, 1000)!.doc;
  const a = writeRecord(base, id, apart[0], 2000)!.doc;
  const b = apart[1].reduce((doc, write, i) => writeRecord(doc, id, write, 2000 + i)!.doc, A.clone(base, { actor: actorOf('bb') }));
  return { merged: applyRecordChanges(A.clone(a), A.getChanges(A.init(), b)), other: b };
}

const CASES: [string, [RecordWrite, RecordWrite[]]][] = [
  ['email', [{ atomic: { email: 'a@example.com' } }, [{ atomic: { email: 'b@example.com' } }]]],
  ['address.city', [{ address: { city: 'Oslo' } }, [{ address: { city: 'Lyon' } }]]],
  ['custom.score', [{ custom: { score: 3 } }, [{ custom: { score: 4 } }]]],
  // One node deletes while the other deletes and restores: true and false are concurrent.
  ['deleted', [{ deleted: true }, [{ deleted: true }, { deleted: false }]]],
];

function keepShown(field: string, view: ReturnType<typeof materialize>): RecordWrite {
  if (field === 'email') return { atomic: { email: view.email! } };
  if (field === 'address.city') return { address: { city: view.address.city! } };
  if (field === 'custom.score') return { custom: { score: view.custom.score! } };
  return { deleted: view.deleted };
}

describe('a write to a field in conflict', () => {
  for (const [field, apart] of CASES) {
    it(`supersedes every concurrent value of ${field}, even with the value shown (document path)`, () => {
      const { merged, other } = conflicted(apart);
      const before = materialize(merged, id);
      expect(before.conflicts).toEqual([field]);
      const write = keepShown(field, before);
      expect(wouldChange(before, write)).toBe(true);
      const outcome = writeRecord(merged, id, write, 3000);
      expect(outcome).not.toBeNull();
      expect(outcome!.fields).toContain(field);
      const after = materialize(outcome!.doc, id);
      expect(after.conflicts).toEqual([]);
      const received = applyRecordChanges(applyRecordChanges(other, A.getChanges(A.init(), merged)), [outcome!.change]);
      expect(materialize(received, id)).toEqual(after);
    });

    it(`supersedes every concurrent value of ${field}, even with the value shown (document-free path)`, () => {
      const { merged } = conflicted(apart);
      const view = materialize(merged, id);
      const maxOp = A.getChangesMetaSince(merged, []).reduce((max, c) => Math.max(max, c.maxOp), 0);
      const state = stateOfDoc(merged, maxOp, { actor: actorOf('a'), seq: 2 });
      const fast = encodeWrite(state, view, keepShown(field, view), { actor: actorOf('a'), now: 3000, id });
      expect(fast).toBeDefined();
      expect(fast!.view.conflicts).toEqual([]);
      const applied = applyRecordChanges(merged, [fast!.change]);
      expect(materialize(applied, id)).toEqual(fast!.view);
      expect(decodeChange(fast!.change).ops.some((op) => op.pred.length === 2)).toBe(true);
    });
  }

  it('is still skipped when the field is not in conflict and the value is unchanged', () => {
    const doc = writeRecord(loadRecordDoc([], actorOf('a')), id, { atomic: { name: 'Ada', email: 'a@example.com' } }, 1000)!.doc;
    expect(writeRecord(doc, id, { atomic: { email: 'a@example.com' } }, 2000)).toBeNull();
    expect(wouldChange(materialize(doc, id), { atomic: { email: 'a@example.com' } })).toBe(false);
  });
});
