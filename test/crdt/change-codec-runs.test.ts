/**
 * Text runs in encodeChange: one op standing for n character inserts (ChangeOp.run) must
 * encode to exactly the bytes of the n inserts, and a run that is not a plain run of
 * inserts, or whose text has another length, is refused.
 */
import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { decodeChange, encodeChange, type ChangeInput, type ChangeOp } from '../../src/crdt/change-codec/index.js';

const actor = 'ab'.repeat(8);
const text: ChangeOp = { action: 'makeText', obj: '_root', key: 'notes', elemId: null, insert: false, datatype: 'null', value: null, pred: [], markName: null, expand: false };

function insert(value: string, elemId: string, extra: Partial<ChangeOp> = {}): ChangeOp {
  return { action: 'set', obj: `1@${actor}`, key: null, elemId, insert: true, datatype: 'str', value, pred: [], markName: null, expand: false, ...extra };
}

function change(ops: ChangeOp[]): ChangeInput {
  return { actor, seq: 1, startOp: 1, time: 0, message: null, deps: [], ops };
}

describe('text runs in encodeChange', () => {
  it('encodes a run byte for byte like its character inserts, and Automerge reads the text', () => {
    for (const value of ['call back Monday', 'Ωmega ✓ 😀 done', 'x']) {
      const chars = [...value];
      const single = chars.map((c, k) => insert(c, k === 0 ? '_head' : `${k + 1}@${actor}`));
      const expanded = encodeChange(change([text, ...single]));
      const run = encodeChange(change([text, { ...insert(value, '_head'), run: chars.length }]));
      expect(Buffer.from(run).equals(Buffer.from(expanded))).toBe(true);
      const [doc] = A.applyChanges(A.init<{ notes: string }>(), [run]);
      expect(doc.notes).toBe(value);
      // And the decoder's runs give the run back.
      const decoded = decodeChange(run, { textRuns: true });
      expect(decoded.ops[1]).toMatchObject({ value, run: chars.length });
    }
  });

  it('encodes a change after a large one (its writers grown, then let go) as Automerge writes it', () => {
    const big = 'Long notes, line after line. '.repeat(2500); // 72,500 characters (under MAX_CHANGE_OPS): past the writers' kept size
    const small = 'call back Monday';
    for (const value of [small, big, small, big.slice(0, 3000), small]) {
      const bytes = encodeChange(change([text, { ...insert(value, '_head'), run: value.length }]));
      const [doc] = A.applyChanges(A.init<{ notes: string }>(), [bytes]);
      expect(doc.notes === value).toBe(true);
      // Automerge's hash of the bytes (it checks the checksum too) is the one we computed.
      expect(A.decodeChange(bytes).hash).toBe(decodeChange(bytes).hash);
      expect(A.getHeads(doc)).toEqual([decodeChange(bytes).hash]);
    }
  });

  it('numbers the ops after a run on from its last character', () => {
    const value = 'héllo';
    const after: ChangeOp = { action: 'set', obj: '_root', key: 'name', elemId: null, insert: false, datatype: 'str', value: 'Ada', pred: [], markName: null, expand: false };
    const bytes = encodeChange(change([text, { ...insert(value, '_head'), run: 5 }, after]));
    const decoded = decodeChange(bytes);
    expect(decoded.ops).toHaveLength(7);
    expect(decoded.ops[6]).toMatchObject({ key: 'name', value: 'Ada' });
    const [doc] = A.applyChanges(A.init<{ notes: string; name: string }>(), [bytes]);
    expect(String(doc.name)).toBe('Ada');
    expect(A.getChangesMetaSince(doc, [])[0]!.maxOp).toBe(7);
  });

  it('refuses a run whose text has another length, and runs of anything but plain inserts', () => {
    expect(() => encodeChange(change([text, { ...insert('abc', '_head'), run: 2 }]))).toThrow(/run of 2 needs exactly 2 characters, not 3/);
    expect(() => encodeChange(change([text, { ...insert('abc', '_head'), run: 4 }]))).toThrow(/run of 4/);
    expect(() => encodeChange(change([text, { ...insert('ab', '_head'), run: 0 }]))).toThrow(/run must be an integer/);
    expect(() => encodeChange(change([text, { ...insert('ab', '_head', { action: 'del', insert: false, datatype: 'null', value: null }), run: 2 }]))).toThrow(/only a run of text inserts/);
    expect(() => encodeChange(change([text, { ...insert('ab', '_head', { pred: [`1@${actor}`] }), run: 2 }]))).toThrow(/only a run of text inserts/);
  });
});
