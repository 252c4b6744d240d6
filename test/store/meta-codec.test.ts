import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { encodeWrite } from '../../src/crdt/record-encode.js';
import { writeFromInput } from '../../src/crdt/record-input.js';
import { canonicalView, recordInputSchema, recordViewSchema, validate } from '../../src/crdt/record-schema.js';
import { emptyView, genesisState, type RecordState } from '../../src/crdt/record-state.js';
import { createValueCodec } from '../../src/store/codec.js';
import { ADDRESS_KEYS, fromMetaValue, OP_PATHS, STATE_KEYS, toMetaValue, VIEW_KEYS } from '../../src/store/meta-codec.js';
import type { RecordMeta } from '../../src/store/store.js';
import { makeRecord } from '../../bench/data.js';

const codec = createValueCodec();
/** What the store does: the value through MessagePack and back. */
const roundTrip = (meta: RecordMeta): RecordMeta => fromMetaValue(codec.unpack(codec.pack(toMetaValue(meta))));
/** Key order included: views are served as JSON, byte for byte. */
const exact = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));

const ACTOR = 'aa'.repeat(16);

function realMeta(i: number): RecordMeta {
  const { id, ...fields } = makeRecord(i, 7) as { id: string } & Record<string, unknown>;
  const input = validate(recordInputSchema, { id, ...fields, custom: { tier: 'gold', score: i } }, 'record');
  const made = encodeWrite(genesisState(), emptyView(id as never), writeFromInput(input), { actor: ACTOR, now: 1_800_000_000_000 + i, id })!;
  return { state: made.state, view: made.view, snapshotAt: i % 3, pending: i % 5, ...(i % 2 ? { snapshot: true as const } : {}) };
}

describe('record meta codec (schema 3)', () => {
  it('pins the positional lists: they are part of the storage format', () => {
    expect(VIEW_KEYS.slice(0, 19)).toEqual(Object.keys(recordViewSchema.shape));
    expect(ADDRESS_KEYS).toEqual(['street', 'city', 'region', 'postcode', 'country']);
    expect(STATE_KEYS).toEqual(['heads', 'maxOp', 'actors', 'ops', 'local', 'notesLength', 'clock', 'known', 'gone', 'times']);
    expect(OP_PATHS.slice(0, 21)).toEqual([
      'name', 'email', 'phone', 'company', 'title', 'owner', 'territory', 'stage',
      'address.street', 'address.city', 'address.region', 'address.postcode', 'address.country',
      'id', 'createdAt', 'updatedAt', 'deleted', 'deletedAt', 'interactions', 'notes', 'tags',
    ]);
  });

  it('stores real records exactly as they were, in about 60% of the bytes of schema 2', () => {
    let compact = 0;
    let maps = 0;
    for (let i = 0; i < 200; i++) {
      const meta = realMeta(i);
      const back = roundTrip(meta);
      // The view byte for byte, key order included; a state's key order is read by nothing.
      expect(exact(back.view)).toBe(exact(meta.view));
      expect(back).toEqual(meta);
      compact += codec.pack(toMetaValue(meta)).length;
      maps += codec.pack(meta).length;
    }
    expect(compact / maps).toBeLessThan(0.65);
  });

  it('reads the map schema 2 stored as it is', () => {
    const meta = realMeta(3);
    const stored = codec.unpack<Record<string, unknown>>(codec.pack(meta));
    expect(fromMetaValue(stored)).toEqual(meta);
  });

  it('keeps views and states it cannot write positionally as they are (seeded)', () => {
    const text = fc.string({ maxLength: 12 });
    const hexish = fc.oneof(fc.string({ maxLength: 8 }), fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b).toString('hex')), fc.constant('ABCD'), fc.constant('abc'));
    const ref = fc.tuple(fc.nat(1000), fc.nat(4), fc.nat(4)) as fc.Arbitrary<[number, number, number]>;
    const path = fc.oneof(fc.constantFrom(...OP_PATHS), fc.string({ maxLength: 10 }).map((s) => `custom.${s}`), fc.constant('tags.2@aa'));
    const ops = fc.dictionary(path, fc.array(ref, { maxLength: 3 }));
    const state = fc.record({
      heads: fc.array(hexish, { maxLength: 2 }), maxOp: fc.nat(), actors: fc.array(hexish, { maxLength: 3 }), ops,
      local: fc.record({ actor: hexish, seq: fc.nat() }), notesLength: fc.nat(), clock: fc.array(fc.tuple(fc.nat(), fc.nat())),
      known: fc.array(fc.tuple(hexish, fc.nat())), gone: ops, times: fc.array(fc.nat()),
      future: fc.string(),
    }, { requiredKeys: ['heads', 'maxOp', 'actors', 'ops'] });
    const address = fc.dictionary(fc.constantFrom(...ADDRESS_KEYS, 'floor'), text);
    const view = fc.tuple(
      fc.dictionary(fc.constantFrom(...VIEW_KEYS.filter((k) => k !== 'address'), 'extra'), fc.oneof(text, fc.integer(), fc.boolean(), fc.array(text, { maxLength: 2 }), fc.constant(null))),
      address,
      fc.boolean(),
    ).map(([fields, addr, sorted]) => {
      const v = { ...fields, address: addr, custom: { b: 1, a: 'x' } } as Record<string, unknown>;
      return (sorted ? canonicalView(v as never) : v) as never;
    });
    let positional = 0;
    fc.assert(
      fc.property(state, view, fc.nat(), fc.nat(), (s, v, snapshotAt, pending) => {
        const meta: RecordMeta = { state: s as unknown as RecordState, view: v, snapshotAt, pending };
        const value = toMetaValue(meta);
        if (Array.isArray(value[2])) positional++;
        const back = roundTrip(meta);
        expect(exact(back.view)).toBe(exact(meta.view));
        expect(back.state).toEqual(meta.state);
        expect(back.snapshotAt).toBe(snapshotAt);
        expect(back.pending).toBe(pending);
        expect(back.snapshot).toBeUndefined();
      }),
      { seed: 20261201, numRuns: 1500 },
    );
    expect(positional).toBeGreaterThan(100); // the generator reaches the positional form, not only the fallback
  });

  it('refuses a form it does not know', () => {
    expect(() => fromMetaValue([9, [], [], 0, 0, 0])).toThrow(/record meta form 9 is unknown/);
  });

  it('is plain MessagePack: any decoder reads it', () => {
    const bytes = codec.pack(toMetaValue(realMeta(1)));
    const plain = new Packr({ useRecords: false }).unpack(bytes) as unknown[];
    expect(plain[0]).toBe(3);
    expect(Array.isArray(plain[2])).toBe(true);
  });
});
