/**
 * Planning a log truncation (engine/truncate.ts) over a real LevelDB store with crafted
 * entries: the prefix stops before the first entry that may not go and ends at a
 * boundary where every origin's last entry is signed; its floors carry what a receiver
 * needs to recompute and verify the chain; only applied changes need their record
 * compacted. And a floor verifies only for its own seq, record and digest.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { LoggedEntry, StoredEntry } from '../../src/crdt/change-entry.js';
import { changeDigest } from '../../src/crdt/change-entry.js';
import { chainNext, chainStart, entrySigningInput } from '../../src/crdt/origin-clock.js';
import { generateNodeKeys, SignatureVerifier } from '../../src/trust/keys.js';
import { planTruncation, verifiedFloor } from '../../src/engine/truncate.js';
import type { Store } from '../../src/store/store.js';
import { parseNodeId, type RecordId } from '../../src/types.js';
import { tempDirs } from '../support/temp-dirs.js';
import { openAt } from './store-writer.js';

const dirs = tempDirs('crmsync-truncate-');
afterAll(() => dirs.cleanup());

const CLUSTER = 'test-cluster';
const keys = generateNodeKeys();
const verifier = new SignatureVerifier();
const verifyEd25519 = (key: Uint8Array, data: Uint8Array, sig: Uint8Array) => verifier.verify(key, data, sig);

/** Appends entries of the given (origin, record, flags) to the log, chained and signed where asked. */
async function append(store: Store, specs: { origin: string; record: string; sign?: boolean; boundary?: boolean; stub?: boolean }[]): Promise<StoredEntry[]> {
  const entries: LoggedEntry[] = [];
  const heads = new Map([...store.clock].map(([o, h]) => [o, h]));
  for (const spec of specs) {
    const head = heads.get(spec.origin);
    const seq = (head?.seq ?? 0) + 1;
    const change = new Uint8Array([seq, spec.record.length]);
    const digest = changeDigest(change);
    const chain = chainNext(head?.hash || chainStart(CLUSTER, spec.origin), { seq, record: spec.record }, digest);
    heads.set(spec.origin, { seq, hash: chain });
    entries.push({
      origin: parseNodeId(spec.origin), seq, record: spec.record as RecordId, change: spec.stub ? new Uint8Array(0) : change, chain, time: 1, fields: ['name'],
      ...(spec.stub ? { digest } : {}), ...(spec.sign ? { sig: keys.sign(entrySigningInput(chain)) } : {}), ...(spec.boundary ? { boundary: true } : {}),
    });
  }
  return store.commit({ records: [], entries, clock: [...heads] });
}

describe('planTruncation', () => {
  it('stops before the first entry that may not go, at the last boundary where every origin is signed', async () => {
    const { store, close } = await openAt(await dirs.make());
    await append(store, [
      { origin: 'a', record: 'r1', sign: true, boundary: true }, // 1: a cut
      { origin: 'b', record: 'r2' }, // 2
      { origin: 'a', record: 'r1', sign: true, boundary: true }, // 3: b's last unsigned: no cut
      { origin: 'b', record: 'r3', sign: true, boundary: true, stub: true }, // 4: a cut
      { origin: 'a', record: 'r4', sign: true, boundary: true }, // 5: a cut, but...
      { origin: 'b', record: 'r2', sign: true, boundary: true }, // 6: ...not eligible
    ]);
    const plan = (await planTruncation(store, CLUSTER, (e) => e.localSeq !== 6, 100))!;
    expect(plan.through).toBe(5);
    // With 5 ineligible, the cut is 4; with 2 ineligible, 1 (3 is no cut: b's last entry there is unsigned).
    expect((await planTruncation(store, CLUSTER, (e) => e.localSeq < 5, 100))!.through).toBe(4);
    expect((await planTruncation(store, CLUSTER, (e) => e.localSeq !== 2, 100))!.through).toBe(1);
    expect(await planTruncation(store, CLUSTER, () => false, 100)).toBeUndefined();
    // At most about maxEntries: the first cut at or past it.
    expect((await planTruncation(store, CLUSTER, () => true, 2))!.through).toBe(4);

    expect(plan.entries.map((e) => [e.origin, e.seq, e.localSeq])).toEqual([['a', 1, 1], ['b', 1, 2], ['a', 2, 3], ['b', 2, 4], ['a', 3, 5]]);
    // Records to compact: applied changes only (the stub of r3 is no part of a document), at their last position.
    expect([...plan.records]).toEqual([['r1', 3], ['r2', 2], ['r4', 5]]);
    // Each floor is the origin's last entry, with what its chain is computed from; it verifies.
    const floors = new Map(plan.floors);
    expect([...floors.keys()]).toEqual(['a', 'b']);
    expect(floors.get('b')).toMatchObject({ seq: 2, record: 'r3', chain: (await store.readLog(4, 1, 1e6))[0]!.chain });
    for (const [origin, floor] of floors) {
      expect(verifiedFloor({ origin, ...floor }, keys.publicKey, verifyEd25519)?.chain).toBe(floor.chain);
    }
    await close();
  });

  it('a floor verifies for its own seq, record and digest only', async () => {
    const { store, close } = await openAt(await dirs.make());
    await append(store, [{ origin: 'a', record: 'r1', sign: true, boundary: true }, { origin: 'a', record: 'r2', sign: true, boundary: true }]);
    const [[, floor]] = (await planTruncation(store, CLUSTER, () => true, 100))!.floors as [[string, never]];
    const base = { origin: 'a', ...(floor as object) } as Parameters<typeof verifiedFloor>[0];
    expect(base.prev).toBe((await store.chainAt('a', 1))!);
    expect(verifiedFloor(base, keys.publicKey, verifyEd25519)).toBeDefined();
    for (const altered of [{ seq: 3 }, { seq: 1 }, { record: 'r1' }, { digest: 'ab'.repeat(32) }, { prev: chainStart(CLUSTER, 'a') }, { prev: 'not hex' }]) {
      expect(verifiedFloor({ ...base, ...altered }, keys.publicKey, verifyEd25519), JSON.stringify(altered)).toBeUndefined();
    }
    expect(verifiedFloor(base, generateNodeKeys().publicKey, verifyEd25519)).toBeUndefined();
    await close();
  });
});
