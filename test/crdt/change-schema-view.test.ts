/**
 * The receiver's document-free path does not parse the views it derives: it relies on
 * every op having passed `schemaViolation` and checks what adds up across ops with
 * `derivedViewFits` (change-schema.ts). Here random changes, honest and hostile, are
 * built on the genesis state (and on each other), and every view `applySimple` derives
 * from changes that pass the per-op check must be one `derivedViewFits` accepts exactly
 * when the view schema does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeActorId } from '../../src/crdt/actor.js';
import { decodeChange, encodeChange, type ChangeOp } from '../../src/crdt/change-codec/index.js';
import { GENESIS_OBJECTS } from '../../src/crdt/change-info.js';
import { derivedViewFits, schemaViolation } from '../../src/crdt/change-schema.js';
import { ADDRESS_FIELDS, ATOMIC_FIELDS, MAX_NOTES_LENGTH, recordViewSchema, type RecordView } from '../../src/crdt/record-schema.js';
import { applySimple, emptyView, genesisState, opIdOf, type RecordState } from '../../src/crdt/record-state.js';
import { parseNodeId, type RecordId } from '../../src/types.js';

const ORIGIN = parseNodeId('mallory');
const ACTOR = makeActorId(ORIGIN, new Uint8Array(8).fill(1));

type Scalar = string | number | boolean;
const scalar = fc.oneof(
  { arbitrary: fc.constantFrom('Ada', 'lead', 'Berlin', 'x'), weight: 6 },
  fc.string({ maxLength: 40 }),
  fc.string({ minLength: 190, maxLength: 260 }),
  fc.constantFrom('', ' ', 'lead', 'won', 'a@b.example', '+49 30 1234567', 'x'.repeat(2001)),
  fc.integer(), fc.double(), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60), fc.boolean(),
);
const customKey = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('', 'k'.repeat(64), 'k'.repeat(65)));
const tagKey = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('vip', 't'.repeat(64), 't'.repeat(65)));

/** One op as a writer (or an attacker) might put it, before preds are filled in. */
type Draft = { obj: string; key: string; value: Scalar | null } | { notes: string } | { inc: number };

/** A value the schema takes for each root key (most writes are honest). */
const VALID: Record<string, Scalar> = {
  name: 'Ada', company: 'Acme', title: 'CEO', owner: 'alice', territory: 'North', email: 'a@b.example',
  phone: '+49 30 1234567', stage: 'won', createdAt: 1_700_000_000_000, updatedAt: 1_700_000_000_001, deletedAt: 5,
  deleted: true, id: 'cust-1',
};
const draftArb: fc.Arbitrary<Draft> = fc.oneof(
  { arbitrary: fc.constantFrom(...Object.keys(VALID)).map((key) => ({ obj: '_root', key, value: VALID[key]! })), weight: 4 },
  { arbitrary: fc.record({ obj: fc.constant(GENESIS_OBJECTS.tags), key: fc.constantFrom('vip', 'trade fair'), value: fc.constant(1) }), weight: 2 },
  fc.record({ obj: fc.constant('_root'), key: fc.constantFrom(...ATOMIC_FIELDS, 'createdAt', 'updatedAt', 'deletedAt', 'deleted', 'id', 'newerField'), value: fc.option(scalar) }),
  fc.record({ obj: fc.constant(GENESIS_OBJECTS.address), key: fc.constantFrom(...ADDRESS_FIELDS, 'planet'), value: fc.option(scalar) }),
  fc.record({ obj: fc.constant(GENESIS_OBJECTS.custom), key: customKey, value: fc.option(scalar) }),
  fc.record({ obj: fc.constant(GENESIS_OBJECTS.tags), key: tagKey, value: fc.option(scalar) }),
  fc.record({ notes: fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), fc.constantFrom('😀'.repeat(40), 'é\n')) }),
  fc.record({ inc: fc.integer({ min: -5, max: 5 }) }),
);

function datatypeOf(value: Scalar): ChangeOp['datatype'] {
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'boolean';
  return Number.isSafeInteger(value) ? 'int' : 'f64';
}

/** The change of `drafts` on `state` (preds: the field's current values, as a writer names them). */
function build(state: RecordState, drafts: Draft[], seq: number, time: number): Uint8Array {
  const ops: ChangeOp[] = [];
  const written = new Map<string, string>(); // path → op id written in this change
  let counter = state.maxOp;
  let notesWritten = false;
  for (const d of drafts) {
    if ('notes' in d) {
      if (notesWritten) continue;
      notesWritten = true;
      const run = [...d.notes].length;
      ops.push({ action: 'set', obj: GENESIS_OBJECTS.notes, key: null, elemId: '_head', insert: true, datatype: 'str', value: d.notes, pred: [], markName: null, expand: false, run });
      counter += run;
      continue;
    }
    const path = 'inc' in d ? 'interactions' : d.obj === '_root' ? d.key : `${d.obj}:${d.key}`;
    const stateRefs = state.ops['inc' in d ? 'interactions' : fieldOf(d.obj, d.key)] ?? [];
    const pred = written.has(path) ? [written.get(path)!] : stateRefs.map((ref) => opIdOf(state, ref));
    counter++;
    written.set(path, `${counter}@${ACTOR}`);
    const base = { elemId: null, insert: false, markName: null, expand: false, pred: sortPreds(pred) };
    if ('inc' in d) ops.push({ ...base, action: 'inc', obj: '_root', key: 'interactions', datatype: 'int', value: d.inc });
    else if (d.value === null) ops.push({ ...base, action: 'del', obj: d.obj, key: d.key, datatype: 'null', value: null });
    else ops.push({ ...base, action: 'set', obj: d.obj, key: d.key, datatype: datatypeOf(d.value), value: d.value });
  }
  return encodeChange({ actor: ACTOR, seq, startOp: state.maxOp + 1, time, message: null, deps: [...state.heads].sort(), ops });
}

function fieldOf(obj: string, key: string): string {
  if (obj === GENESIS_OBJECTS.address) return `address.${key}`;
  if (obj === GENESIS_OBJECTS.custom) return `custom.${key}`;
  if (obj === GENESIS_OBJECTS.tags) return `tags.${key}`;
  return key;
}

function sortPreds(ids: string[]): string[] {
  return [...ids].sort((a, b) => Number(a.split('@')[0]) - Number(b.split('@')[0]) || (a < b ? -1 : a > b ? 1 : 0));
}

describe('views the document-free path derives from checked changes', () => {
  it('derivedViewFits accepts a view exactly when the view schema does (seeded)', () => {
    let derived = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        fc.constantFrom('cust-1', 'a.b:c-d_e', 'bad id', '-leading', 'x'.repeat(129)),
        fc.array(fc.array(draftArb, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 3 }),
        (id, changes) => {
          let state = genesisState();
          let view: RecordView = emptyView(id as RecordId);
          for (const [k, drafts] of changes.entries()) {
            let bytes: Uint8Array;
            try {
              bytes = build(state, drafts, k + 1, 1_700_000_000_000 + k);
            } catch {
              return; // not a change at all (e.g. a key that is not a well-formed string)
            }
            const change = decodeChange(bytes, { textRuns: true });
            if (schemaViolation(change.ops, ORIGIN) !== undefined) return; // quarantined before any view
            const next = applySimple(state, view, change);
            if (!next) return; // Automerge's path, which parses its views
            derived++;
            const fits = derivedViewFits(next.view);
            if (!fits) refused++;
            expect(fits).toBe(recordViewSchema.safeParse(next.view).success);
            state = next.state;
            view = next.view;
          }
        },
      ),
      { seed: 20261201, numRuns: 2000 },
    );
    // Meaningful only if many views were derived, and the id part refused some.
    expect(derived).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(50);
  });

  it('counts the notes in code points, as the schema does', () => {
    const at = { ...emptyView('cust-1' as RecordId), notes: '😀'.repeat(MAX_NOTES_LENGTH) };
    const over = { ...at, notes: `${at.notes}y` };
    expect(at.notes.length).toBe(2 * MAX_NOTES_LENGTH);
    expect([derivedViewFits(at), recordViewSchema.safeParse(at).success]).toEqual([true, true]);
    expect([derivedViewFits(over), recordViewSchema.safeParse(over).success]).toEqual([false, false]);
  });
});
