/**
 * Changes built by `encodeChange` from hand-made descriptions are accepted by
 * `A.applyChanges` on the document they were made for, read back by `A.decodeChange` as
 * described, and are byte-identical to what Automerge writes for the same edit.
 */
import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { decodeChange, encodeChange, toAutomergeShape, type ChangeInput, type ChangeOp } from '../../src/crdt/change-codec/index.js';

const WRITER = 'c0ffee0011223344';
const OTHER = '0a0b0c0d';
const TIME = 1_760_000_000;
const FIELDS = ['name', 'email', 'phone', 'company', 'title', 'stage', 'owner', 'city', 'country', 'source', 'industry', 'website'];

/** A map op with defaults for the fields that do not matter to it. */
function op(partial: Partial<ChangeOp> & Pick<ChangeOp, 'action'>): ChangeOp {
  return { obj: '_root', key: null, elemId: null, insert: false, datatype: 'null', value: null, pred: [], markName: null, expand: false, ...partial };
}

function put(key: string, value: string, pred: string[] = []): ChangeOp {
  return op({ action: 'set', key, datatype: 'str', value, pred });
}

/** Encodes, checks that Automerge decodes it as described, applies it, returns the new doc. */
function applyOurs(doc: A.Doc<any>, change: ChangeInput): { doc: A.Doc<any>; bytes: Uint8Array } {
  const bytes = encodeChange(change);
  const decoded = decodeChange(bytes);
  expect(A.decodeChange(bytes)).toEqual(toAutomergeShape(decoded));
  expect({ ...decoded, hash: undefined, otherActors: undefined, chunkType: undefined }).toEqual({
    ...change,
    deps: [...change.deps].sort(),
    hash: undefined,
    otherActors: undefined,
    chunkType: undefined,
  });
  const [next] = A.applyChanges(doc, [bytes]);
  expect(A.getMissingDeps(next, [])).toEqual([]);
  expect(A.getHeads(next)).toEqual([decoded.hash]);
  return { doc: next, bytes };
}

/** The highest op counter in a document's history. */
function maxOp(doc: A.Doc<unknown>): number {
  let max = 0;
  for (const c of A.getAllChanges(doc)) {
    const d = decodeChange(c);
    max = Math.max(max, d.startOp + d.ops.length - 1);
  }
  return max;
}

describe('change codec: changes built by encodeChange', () => {
  it('creates a 12-field record on a fresh doc, byte-identical to the same edit made through Automerge', () => {
    const values = FIELDS.map((f) => `${f} value ü`);
    const change: ChangeInput = {
      actor: WRITER,
      seq: 1,
      startOp: 1,
      time: TIME,
      message: null,
      deps: [],
      ops: FIELDS.map((f, i) => put(f, values[i]!)),
    };
    const { doc, bytes } = applyOurs(A.init({ actor: WRITER }), change);
    expect(A.toJS(doc)).toEqual(Object.fromEntries(FIELDS.map((f, i) => [f, new A.ImmutableString(values[i]!)])));
    const theirs = A.change(A.init<any>({ actor: WRITER }), { time: TIME }, (d) => {
      FIELDS.forEach((f, i) => (d[f] = new A.ImmutableString(values[i]!)));
    });
    expect(bytes).toEqual(A.getLastLocalChange(theirs));
  });

  it('edits a record written by another actor: preds, deps and the actor table are right', () => {
    const base = A.from<any>({ name: new A.ImmutableString('Ada'), email: new A.ImmutableString('a@x') }, { actor: OTHER, time: TIME } as never);
    const baseOps = decodeChange(A.getLastLocalChange(base)!).ops;
    const nameOp = `${baseOps.findIndex((o) => o.key === 'name') + 1}@${OTHER}`;
    const { doc, bytes } = applyOurs(base, {
      actor: WRITER,
      seq: 1,
      startOp: maxOp(base) + 1,
      time: TIME + 5,
      message: 'rename',
      deps: A.getHeads(base),
      ops: [put('name', 'Ada Lovelace', [nameOp]), op({ action: 'del', key: 'email', pred: [`${baseOps.findIndex((o) => o.key === 'email') + 1}@${OTHER}`] })],
    });
    expect(A.toJS(doc)).toEqual({ name: new A.ImmutableString('Ada Lovelace') });
    // The pred made it an overwrite: no conflict remains (getConflicts is undefined for one value).
    expect(A.getConflicts(doc, 'name')).toBeUndefined();
    expect(decodeChange(bytes).otherActors).toEqual([OTHER]);
    const theirs = A.change(A.clone(base, { actor: WRITER }), { time: TIME + 5, message: 'rename' }, (d) => {
      d.name = new A.ImmutableString('Ada Lovelace');
      delete d.email;
    });
    expect(bytes).toEqual(A.getLastLocalChange(theirs));
  });

  it('creates collaborative text, a nested map, a list and a counter, then edits them in a second change', () => {
    const notes = 'Met at the fair 🎪, call back';
    const chars = [...notes];
    const t = 1; // op 1 makes the text object; op 2 + i inserts character i
    const ops: ChangeOp[] = [op({ action: 'makeText', key: 'notes' })];
    chars.forEach((ch, i) => {
      ops.push(op({ action: 'set', obj: `${t}@${WRITER}`, elemId: i === 0 ? '_head' : `${t + i}@${WRITER}`, insert: true, datatype: 'str', value: ch }));
    });
    const m = ops.length + 1;
    ops.push(op({ action: 'makeMap', key: 'address' }), op({ action: 'set', obj: `${m}@${WRITER}`, key: 'zip', datatype: 'uint', value: 10115 }));
    const l = ops.length + 1;
    ops.push(op({ action: 'makeList', key: 'tags' }), op({ action: 'set', obj: `${l}@${WRITER}`, elemId: '_head', insert: true, datatype: 'boolean', value: true }));
    const c = ops.length + 1;
    ops.push(op({ action: 'set', key: 'visits', datatype: 'counter', value: 2 }), op({ action: 'set', key: 'seen', datatype: 'timestamp', value: 1_700_000_000_000 }));
    const first = applyOurs(A.init({ actor: WRITER }), { actor: WRITER, seq: 1, startOp: 1, time: TIME, message: null, deps: [], ops });
    expect(A.toJS(first.doc)).toEqual({ notes, address: { zip: 10115n }, tags: [true], visits: new A.Counter(2), seen: new Date(1_700_000_000_000) });

    const firstHash = decodeChange(first.bytes).hash;
    const start = ops.length + 1;
    const second = applyOurs(first.doc, {
      actor: WRITER,
      seq: 2,
      startOp: start,
      time: TIME + 60,
      message: null,
      deps: [firstHash],
      ops: [
        op({ action: 'inc', key: 'visits', datatype: 'int', value: -3, pred: [`${c}@${WRITER}`] }),
        op({ action: 'del', obj: `${t}@${WRITER}`, elemId: `${t + 1}@${WRITER}`, pred: [`${t + 1}@${WRITER}`] }),
        op({ action: 'set', obj: `${t}@${WRITER}`, elemId: `${t + 1}@${WRITER}`, insert: true, datatype: 'str', value: 'm' }),
        op({ action: 'set', obj: `${l}@${WRITER}`, elemId: `${l + 1}@${WRITER}`, datatype: 'f64', value: 0.5, pred: [`${l + 1}@${WRITER}`] }),
      ],
    });
    expect(A.toJS(second.doc)).toMatchObject({ notes: `m${notes.slice(1)}`, tags: [0.5], visits: new A.Counter(-1) });
  });

  it('refuses to build an invalid change (programmer error: TypeError)', () => {
    const base: ChangeInput = { actor: WRITER, seq: 1, startOp: 1, time: TIME, message: null, deps: [], ops: [put('a', 'x')] };
    const bad: Array<Partial<ChangeInput>> = [
      { actor: 'XYZ' },
      { seq: 0 },
      { startOp: 2 ** 32 },
      { deps: ['00'] },
      { deps: ['ab'.repeat(32), 'ab'.repeat(32)] },
      { ops: [op({ action: 'set', key: 'a', datatype: 'int', value: 1.5 })] },
      { ops: [op({ action: 'set', key: 'a', datatype: 'str', value: '\ud800' })] },
      { ops: [op({ action: 'set', key: 'a', datatype: 'uint', value: -1n })] },
      { ops: [op({ action: 'del', key: 'a', datatype: 'str', value: 'x' })] },
      { ops: [op({ action: 'set', key: 'a', pred: [`1@${WRITER}`] })] }, // pred not older than the op
      { ops: [op({ action: 'set', key: 'a', elemId: '_head' })] },
      { ops: [op({ action: 'set', key: 'a', insert: true })] },
      { ops: [op({ action: 'inc', key: 'a', datatype: 'uint', value: 1 })] },
      { ops: [op({ action: 'set', key: 'a', expand: true })] },
      { ops: [op({ action: 'makeMap', obj: 'root', key: 'a' })] },
    ];
    for (const patch of bad) expect(() => encodeChange({ ...base, ...patch }), JSON.stringify(patch, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).toThrow(TypeError);
  });
});
