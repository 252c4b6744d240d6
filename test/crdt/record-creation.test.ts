/**
 * The shortcut for a record's first change (record-creation.ts) against the general
 * document-free path: whenever the shortcut answers, its outcome must be exactly the
 * general path's, key order and prototype-free dictionaries included; whatever it
 * declines, the general path decides as before. Writes come from encodeWrite (what a
 * bulk load and an import make) and from hand-built op lists a peer could send.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeActorId } from '../../src/crdt/actor.js';
import { decodeChange, type ChangeOp } from '../../src/crdt/change-codec/index.js';
import { GENESIS_OBJECTS } from '../../src/crdt/change-info.js';
import { GENESIS_HASH } from '../../src/crdt/genesis.js';
import { applyCreation } from '../../src/crdt/record-creation.js';
import type { RecordWrite } from '../../src/crdt/record-doc.js';
import { encodeWrite } from '../../src/crdt/record-encode.js';
import { ADDRESS_FIELDS, ATOMIC_FIELDS } from '../../src/crdt/record-schema.js';
import { applyGeneral, applySimple, emptyView, genesisState, type SimpleChange, type SimpleOutcome } from '../../src/crdt/record-state.js';
import { parseNodeId, parseRecordId } from '../../src/types.js';

const ID = parseRecordId('cust-1');
const ACTOR = makeActorId(parseNodeId('node-a'), new Uint8Array(8).fill(7));
const HASH = 'ab'.repeat(32);

/** JSON that tells a prototype-free dictionary from a plain object and keeps every key's order. */
function exact(outcome: SimpleOutcome | undefined): string {
  return JSON.stringify(outcome, (_key, value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) === null
      ? { dictionary: Object.entries(value) } : value);
}

function expectSameAsGeneral(change: SimpleChange): SimpleOutcome | undefined {
  const general = applyGeneral(genesisState(), emptyView(ID), change);
  const created = applyCreation(genesisState(), emptyView(ID), change);
  if (created !== undefined) expect(exact(created)).toBe(exact(general));
  expect(exact(applySimple(genesisState(), emptyView(ID), change))).toBe(exact(general));
  return created;
}

const word = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => s.trim().length > 0);
const writeArb: fc.Arbitrary<RecordWrite> = fc.record({
  atomic: fc.record(Object.fromEntries(ATOMIC_FIELDS.map((f) => [f, word])) as Record<(typeof ATOMIC_FIELDS)[number], fc.Arbitrary<string>>, { requiredKeys: ['name'] }),
  address: fc.record(Object.fromEntries(ADDRESS_FIELDS.map((f) => [f, word])) as Record<(typeof ADDRESS_FIELDS)[number], fc.Arbitrary<string>>, { requiredKeys: [] }),
  custom: fc.dictionary(fc.constantFrom('b', 'a', '__proto__', 'constructor', 'z9', 'Ä'), fc.oneof(word, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()), { maxKeys: 4 }),
  setTags: fc.uniqueArray(fc.constantFrom('vip', 'b2b', 'Zeta', 'älter', 'trade fair'), { maxLength: 4 }),
  notes: fc.oneof(fc.constant(''), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constant('😀 é\u0301 x')),
  setInteractions: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1e6 })),
}, { requiredKeys: ['atomic'] });

describe('applyCreation: a record\'s first change', () => {
  it('gives exactly the general path\'s outcome for the first writes encodeWrite makes, and takes them', () => {
    let taken = 0;
    fc.assert(fc.property(writeArb, fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2e12 })), (write, now) => {
      const encoded = encodeWrite(genesisState(), emptyView(ID), write, { actor: ACTOR, now, id: ID });
      if (!encoded) return;
      const d = decodeChange(encoded.change, { textRuns: true });
      const change: SimpleChange = { hash: d.hash, deps: d.deps, actor: d.actor, seq: d.seq, startOp: d.startOp, time: d.time, ops: d.ops };
      if (expectSameAsGeneral(change) !== undefined) taken++;
      // encodeWrite's own outcome (through applySimple) is the general path's too.
      const general = applyGeneral(genesisState(), emptyView(ID), change)!;
      expect(JSON.stringify(encoded.view)).toBe(JSON.stringify(general.view));
    }), { seed: 4242, numRuns: 400 });
    // Plain first writes are what the shortcut is for: it must not quietly decline them all.
    expect(taken).toBeGreaterThan(300);
  });

  const root = (key: string, value: ChangeOp['value'], datatype: ChangeOp['datatype'] = 'str'): ChangeOp =>
    ({ action: 'set', obj: '_root', key, elemId: null, insert: false, datatype, value, pred: [], markName: null, expand: false });
  const opArb: fc.Arbitrary<ChangeOp> = fc.oneof(
    fc.constantFrom(...ATOMIC_FIELDS, 'id', 'createdAt', 'updatedAt', 'deletedAt', 'deleted', 'interactions', 'futureField').chain((key) =>
      fc.tuple(fc.oneof(word, fc.integer(), fc.boolean()), fc.constantFrom<ChangeOp['datatype']>('str', 'int', 'f64', 'boolean', 'uint'))
        .map(([value, datatype]) => root(key, value, datatype))),
    fc.tuple(fc.constantFrom(...ADDRESS_FIELDS, 'planet'), word).map(([key, value]) => ({ ...root(key, value), obj: GENESIS_OBJECTS.address })),
    fc.tuple(fc.constantFrom('vip', 'b2b'), fc.constantFrom<ChangeOp['datatype']>('int', 'str')).map(([key, datatype]) => ({ ...root(key, datatype === 'int' ? 1 : 'x', datatype), obj: GENESIS_OBJECTS.tags })),
    fc.tuple(fc.constantFrom('a', '__proto__'), fc.oneof(word, fc.integer(), fc.boolean())).map(([key, value]) =>
      ({ ...root(key, value, typeof value === 'string' ? 'str' : typeof value === 'boolean' ? 'boolean' : 'int'), obj: GENESIS_OBJECTS.custom })),
    fc.tuple(word, fc.constantFrom('_head', `7@${ACTOR}`), fc.integer({ min: 1, max: 3 })).map(([value, elemId, run]) =>
      ({ ...root('', value), key: null, obj: GENESIS_OBJECTS.notes, elemId, insert: true, run })),
    fc.tuple(fc.integer({ min: -5, max: 5 }), fc.constantFrom<string[]>(['5@00'], [], ['6@00'])).map(([value, pred]) => ({ ...root('interactions', value, 'int'), action: 'inc' as const, pred })),
    fc.constantFrom<ChangeOp>({ ...root('email', null, 'null'), action: 'del' }, { ...root('deleted', true, 'boolean'), pred: ['6@00'] }, { ...root('phone', 'x'), pred: ['9@00'] }, { ...root('title', 'x'), insert: true }),
  );

  it('declines what it does not know and agrees with the general path on every change it takes', () => {
    let taken = 0;
    let declined = 0;
    fc.assert(fc.property(
      fc.array(opArb, { minLength: 1, maxLength: 6 }),
      // Mostly a valid first change's header, so that the ops decide.
      fc.record({ time: fc.constantFrom(0, 1_700_000_000_000), seq: fc.constantFrom(1, 1, 1, 1, 1, 1, 1, 2), startOp: fc.constantFrom(7, 7, 7, 7, 7, 7, 7, 8), deps: fc.constantFrom([GENESIS_HASH], [GENESIS_HASH], [GENESIS_HASH], [GENESIS_HASH], [GENESIS_HASH], [GENESIS_HASH], [HASH], []) }),
      (ops, header) => {
        if (expectSameAsGeneral({ hash: HASH, actor: ACTOR, ...header, ops }) === undefined) declined++;
        else taken++;
      },
    ), { seed: 777, numRuns: 3000 });
    // Both sides of the shortcut are exercised.
    expect(taken).toBeGreaterThan(200);
    expect(declined).toBeGreaterThan(200);
  });

  it('sorts many tags as the general path does', () => {
    // A peer's change may carry many tags, in any order (size 'max': fast-check's default
    // size keeps arrays to about 10 elements).
    const tagKey = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 });
    fc.assert(fc.property(fc.uniqueArray(tagKey, { minLength: 1, maxLength: 60, size: 'max' }), (keys) => {
      const ops = [root('name', 'Ada'), ...keys.map((key) => ({ ...root(key, 1, 'int'), obj: GENESIS_OBJECTS.tags }))];
      const created = expectSameAsGeneral({ hash: HASH, actor: ACTOR, deps: [GENESIS_HASH], seq: 1, startOp: 7, time: 1_700_000_000_000, ops });
      expect(created?.view.tags).toEqual([...keys].sort());
    }), { seed: 1616, numRuns: 200 });
  });

  it('declines a state or a view that is not the genesis one', () => {
    const change: SimpleChange = { hash: HASH, deps: [GENESIS_HASH], actor: ACTOR, seq: 1, startOp: 7, time: 5, ops: [{ ...root('name', 'Ada') }] };
    expect(applyCreation(genesisState(), emptyView(ID), change)).toBeDefined();
    expect(applyCreation({ ...genesisState(), notesLength: 0 }, emptyView(ID), change)).toBeUndefined();
    expect(applyCreation({ ...genesisState(), maxOp: 7 }, emptyView(ID), change)).toBeUndefined();
    expect(applyCreation(genesisState(), { ...emptyView(ID), name: 'Bob' }, change)).toBeUndefined();
    expect(applyCreation(genesisState(), { ...emptyView(ID), deletedAt: 3 }, change)).toBeUndefined();
    expect(applyCreation(genesisState(), { ...emptyView(ID), custom: { a: 1 } }, change)).toBeUndefined();
    expect(applyCreation(genesisState(), emptyView(ID), { ...change, actor: '00' })).toBeUndefined();
  });
});
