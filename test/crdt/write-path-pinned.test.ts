/**
 * Pins the bytes and objects the bulk write path makes, so that work on its allocations
 * (record-encode.ts, record-creation.ts, change-codec, indexes.ts, meta-codec.ts) cannot
 * change a stored byte unnoticed: seeded writes, first and later ones, each digested as
 * its change bytes, hash, state, view (key order and prototype-free dictionaries
 * included), fields, index delta and stored meta (its value and its bytes). The digests were taken from the code
 * before that work (commit 5829ab2); a change that moves one changes what is stored.
 */
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeActorId } from '../../src/crdt/actor.js';
import { tagPlan, type RecordWrite } from '../../src/crdt/record-doc.js';
import { encodeWrite } from '../../src/crdt/record-encode.js';
import { ADDRESS_FIELDS, ATOMIC_FIELDS, type RecordView } from '../../src/crdt/record-schema.js';
import { emptyView, genesisState, type RecordState } from '../../src/crdt/record-state.js';
import { indexDelta } from '../../src/store/indexes.js';
import { createValueCodec } from '../../src/store/codec.js';
import { toMetaValue } from '../../src/store/meta-codec.js';
import { parseNodeId, parseRecordId } from '../../src/types.js';

const ID = parseRecordId('cust-0000042');
const ACTOR = makeActorId(parseNodeId('node-a'), new Uint8Array(8).fill(3));

/** JSON that tells a prototype-free dictionary from a plain object and keeps every key's order. */
function exact(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') };
    return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === null ? { dictionary: Object.entries(v) } : v;
  });
}

const word = fc.constantFrom('Ada', 'Grace Hopper', 'ada@example.com', 'Lovelace Ltd', 'Müller', 'Zürich 8', '😀 é\u0301', '');
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const nullable = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, fc.constant(null));
const tag = fc.constantFrom('vip', 'lead', 'trade fair 2024', 'Zeta', 'älter');
const field = <K extends string>(keys: readonly K[], values: fc.Arbitrary<string | null>) =>
  fc.record(Object.fromEntries(keys.map((k) => [k, values])) as Record<K, fc.Arbitrary<string | null>>, { requiredKeys: [] });

const writeArb: fc.Arbitrary<RecordWrite> = fc.record({
  atomic: maybe(field(ATOMIC_FIELDS, nullable(word))),
  address: maybe(field(ADDRESS_FIELDS, nullable(word))),
  replaceAddress: maybe(fc.boolean()),
  custom: maybe(fc.dictionary(fc.constantFrom('tier', 'score', '__proto__', 'b', 'a'), nullable(fc.oneof(word, fc.integer({ min: -5, max: 5 }), fc.double({ min: 0.5, max: 2, noNaN: true }), fc.boolean())), { maxKeys: 3 })),
  replaceCustom: maybe(fc.boolean()),
  addTags: maybe(fc.array(tag, { maxLength: 3 })),
  removeTags: maybe(fc.array(tag, { maxLength: 2 })),
  setTags: maybe(fc.array(tag, { maxLength: 4 })),
  notes: maybe(fc.constantFrom('', 'call back', 'Ωmega ✓ 😀')),
  incrementInteractions: maybe(fc.integer({ min: -2, max: 3 })),
  setInteractions: maybe(fc.integer({ min: 0, max: 4 })),
  deleted: maybe(fc.boolean()),
}, { requiredKeys: [] });

/** Runs seeded sequences of writes through encodeWrite (a record each) and digests all they make. */
function digestOfWrites(seed: number): { digest: string; written: number } {
  const hash = createHash('sha256');
  const codec = createValueCodec();
  let written = 0;
  const sequences = fc.sample(fc.array(writeArb, { minLength: 1, maxLength: 6 }), { seed, numRuns: 300 });
  for (const writes of sequences) {
    let state: RecordState = genesisState();
    let view: RecordView | undefined;
    let now = 1_700_000_000_000;
    for (const write of writes) {
      now += 1001;
      const encoded = encodeWrite(state, view ?? emptyView(ID), write, { actor: ACTOR, now, author: written % 3 === 0 ? 'import:x' : undefined, id: ID });
      hash.update(encoded === undefined ? 'undefined' : exact(encoded));
      if (!encoded) continue;
      hash.update(exact(indexDelta(view, encoded.view)));
      const meta = toMetaValue({ state: encoded.state, view: encoded.view, snapshotAt: 0, pending: 1 });
      hash.update(exact(meta));
      hash.update(codec.pack(meta)); // the stored bytes
      state = encoded.state;
      view = encoded.view;
      written++;
    }
  }
  return { digest: hash.digest('hex'), written };
}

describe('the bulk write path\'s output is pinned', () => {
  it('encodeWrite, indexDelta and the stored meta give the same bytes and objects as before', () => {
    const { digest, written } = digestOfWrites(20261203);
    expect(written).toBeGreaterThan(500);
    expect(digest).toBe('8a71289be5babf9995983a18456b73cdd0bac8337f5d94cd5de4f2916a189246');
  });

  it('tagPlan gives the same tags, in the same order, as before', () => {
    const hash = createHash('sha256');
    for (const [write, present] of fc.sample(fc.tuple(writeArb, fc.uniqueArray(tag, { maxLength: 4 })), { seed: 7, numRuns: 500 })) {
      const { add, ensure, remove } = tagPlan(write, present);
      hash.update(JSON.stringify([[...add], [...ensure], [...remove]]));
    }
    expect(hash.digest('hex')).toBe('fed086343df0ff070b4e46477359b2f93f348eb327f86e2af1ff9cf199fbf59f');
  });
});
