import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { makeActorId } from '../../src/crdt/actor.js';
import { applyRecordChanges, loadRecordDoc, materialize, writeRecord, type RecordDoc } from '../../src/crdt/record-doc.js';
import { recordConflicts } from '../../src/crdt/record-conflicts.js';
import { writeFromInput, writeFromPatch } from '../../src/crdt/record-input.js';
import { recordInputSchema, recordPatchSchema, validate } from '../../src/crdt/record-schema.js';
import { hasCode, type CrmsyncError } from '../../src/errors.js';
import { parseNodeId, parseRecordId } from '../../src/types.js';

const id = parseRecordId('cust-1');
const actorOf = (node: string, n: number) => makeActorId(parseNodeId(node), new Uint8Array(8).fill(n));

function created(node = 'a'): RecordDoc {
  const doc = loadRecordDoc([], actorOf(node, 1));
  const input = validate(recordInputSchema, { name: 'Ada Lovelace', email: 'ADA@Example.com ', stage: 'lead', tags: ['vip'], notes: 'Met at the fair.', address: { city: 'London' } }, 'record');
  return writeRecord(doc, id, writeFromInput(input), 1000)!.doc;
}

/** Forks a document onto another node (another actor), like a replica that synced it. */
function fork(doc: RecordDoc, node: string): RecordDoc {
  return A.clone(doc, { actor: actorOf(node, 2) });
}

function patch(doc: RecordDoc, value: object, now = 2000): RecordDoc {
  return writeRecord(doc, id, writeFromPatch(validate(recordPatchSchema, value, 'patch')), now)!.doc;
}

function merge(a: RecordDoc, b: RecordDoc): RecordDoc {
  return applyRecordChanges(A.clone(a), A.getChanges(A.init(), b));
}

describe('record documents', () => {
  it('validates input at the boundary with field-level errors', () => {
    let error: CrmsyncError | undefined;
    try {
      validate(recordInputSchema, { name: '', email: 'nope', stage: 'sleeping', extra: 1 }, 'record');
    } catch (err) {
      error = err as CrmsyncError;
    }
    expect(hasCode(error, 'ERR_VALIDATION')).toBe(true);
    expect(error!.details!.map((d) => d.field).sort()).toEqual(['(root)', 'email', 'name', 'stage']);
  });

  it('materialises a plain view with normalised values', () => {
    const view = materialize(created(), id);
    expect(view).toMatchObject({ id, name: 'Ada Lovelace', email: 'ada@example.com', stage: 'lead', tags: ['vip'], notes: 'Met at the fair.', address: { city: 'London' }, interactions: 0, deleted: false, conflicts: [] });
  });

  it('writes nothing when a patch changes nothing', () => {
    const doc = created();
    expect(writeRecord(doc, id, writeFromPatch({ name: 'Ada Lovelace', stage: 'lead' }), 5000)).toBeNull();
  });

  it('keeps both concurrent edits to different fields', () => {
    const base = created();
    const a = patch(fork(base, 'a'), { phone: '+44 20 7946 0000' });
    const b = patch(fork(base, 'b'), { stage: 'won' });
    const ab = materialize(merge(a, b), id);
    const ba = materialize(merge(b, a), id);
    expect(ab.phone).toBe('+44 20 7946 0000');
    expect(ab.stage).toBe('won');
    expect(ab).toEqual(ba);
  });

  it('resolves a same-field conflict identically and keeps the loser visible with its node', () => {
    const base = created();
    const a = patch(fork(base, 'a'), { title: 'CEO' });
    const b = patch(fork(base, 'b'), { title: 'CTO' });
    const ab = merge(a, b);
    const ba = merge(b, a);
    expect(materialize(ab, id).title).toBe(materialize(ba, id).title);
    expect(materialize(ab, id).conflicts).toContain('title');
    const conflicts = recordConflicts(ab);
    const title = conflicts.find((c) => c.field === 'title')!;
    expect(title.values.map((v) => [v.value, v.node]).sort()).toEqual([['CEO', 'a'], ['CTO', 'b']]);
    expect(title.values.filter((v) => v.winner)).toHaveLength(1);
    expect(recordConflicts(ba)).toEqual(conflicts);
  });

  it('merges concurrent notes edits, tag adds over removes, and counter increments', () => {
    const base = created();
    const a = patch(fork(base, 'a'), { notes: 'Anna: Met at the fair.', removeTags: ['vip'], incrementInteractions: 2 });
    const b = patch(fork(base, 'b'), { notes: 'Met at the fair. Follow up in May.', addTags: ['vip', 'fintech'], incrementInteractions: 3 });
    const view = materialize(merge(a, b), id);
    expect(view.notes).toBe('Anna: Met at the fair. Follow up in May.');
    expect(view.tags).toEqual(['fintech', 'vip']);
    expect(view.interactions).toBe(5);
  });

  it('keeps two concurrent whole replacements of the notes readable, one after the other, never interleaved', () => {
    const base = patch(created(), { notes: 'Old note about the first meeting.' });
    const a = patch(fork(base, 'a'), { notes: 'Anna: budget approved, send the contract draft.' });
    const b = patch(fork(base, 'b'), { notes: 'Ben: wants a demo of the ERP integration next week.' });
    const notes = materialize(merge(a, b), id).notes;
    expect(notes.split('\n').sort()).toEqual(['Anna: budget approved, send the contract draft.', 'Ben: wants a demo of the ERP integration next week.']);
    // The same on every node: the merge is deterministic whichever side merges.
    expect(materialize(merge(b, a), id).notes).toBe(notes);
  });

  it('keeps a record deleted when an edit races the delete, and restore shows the edit', () => {
    const base = created();
    const a = writeRecord(fork(base, 'a'), id, { deleted: true }, 3000)!.doc;
    const b = patch(fork(base, 'b'), { company: 'Analytical Engines Ltd' });
    const merged = merge(a, b);
    expect(materialize(merged, id).deleted).toBe(true);
    const restored = writeRecord(merged, id, { deleted: false }, 4000)!.doc;
    expect(materialize(restored, id)).toMatchObject({ deleted: false, company: 'Analytical Engines Ltd' });
  });

  it('merges independently created records field by field thanks to the shared genesis', () => {
    const a = patch(created('a'), { address: { street: '1 Main St' } });
    const b = patch(fork(loadRecordDoc([], actorOf('b', 3)), 'b'), { name: 'Ada L.', address: { postcode: 'N1 9GU' } });
    const view = materialize(merge(a, b), id);
    expect(view.address).toMatchObject({ street: '1 Main St', postcode: 'N1 9GU', city: 'London' });
  });
});

describe('conflict reporting', () => {
  it('does not report concurrent writes of the same value as a conflict', () => {
    const base = created();
    const a = patch(fork(base, 'a'), { title: 'CEO', company: 'Acme' });
    const b = patch(fork(base, 'b'), { title: 'CEO', company: 'Globex' });
    const merged = merge(a, b);
    expect(materialize(merged, id).conflicts).toEqual(['company']);
    expect(recordConflicts(merged).map((c) => c.field)).toEqual(['company']);
  });
});

describe('materialising after a local write', () => {
  it('checks only the previous conflicts and still matches a full scan', () => {
    const base = created();
    const a = patch(fork(base, 'a'), { title: 'CEO', custom: { 'plan.tier': 'gold' } });
    const b = patch(fork(base, 'b'), { title: 'CTO', custom: { 'plan.tier': 'silver' } });
    const merged = merge(a, b);
    const before = materialize(merged, id);
    expect(before.conflicts.sort()).toEqual(['custom.plan.tier', 'title']);
    const after = patch(merged, { title: 'CFO' }, 9000);
    expect(materialize(after, id, before.conflicts)).toEqual(materialize(after, id));
    expect(materialize(after, id, before.conflicts).conflicts).toEqual(['custom.plan.tier']);
  });
});
