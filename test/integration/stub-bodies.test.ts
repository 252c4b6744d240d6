/**
 * A laptop that holds a record but got one of its changes as a stub (a region applied it
 * when the record was elsewhere) takes the body when a full copy arrives later, instead
 * of dropping it as already held (engine/stub-bodies.ts); and a "body" that is not the
 * one the verified chain binds is ignored: nothing stored changes. Real LevelDB, entries
 * fed through importEntries as a peer's frames would arrive.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { stubOf, type ChangeEntry, type StoredEntry } from '../../src/crdt/change-entry.js';
import type { CrmNode } from '../../src/index.js';
import { Harness } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

/** An exported entry as it travels (no local position). */
const wire = (e: StoredEntry): ChangeEntry => {
  const { localSeq: _l, chain: _c, time: _t, fields: _f, author: _a, boundary: _b, quarantined: _q, evicted: _e, place: _p, ...entry } = e;
  return entry;
};

async function setUp(): Promise<{ region: CrmNode; laptop: CrmNode; entries: ChangeEntry[] }> {
  const region = await h.open({ dataDir: await h.tempDir(), nodeId: 'region-a', listen: false });
  const laptop = await h.open({
    dataDir: await h.tempDir(), ...h.cluster.member('laptop-s', { role: 'laptop', scope: { territories: ['north', 'south'] } }),
    subscription: { territories: ['north'] }, listen: false,
  });
  await laptop.importTrust(region.exportTrust());
  await region.records.create({ id: 'c-1', name: 'Ada', territory: 'north' });
  await region.records.update('c-1', { company: 'Acme' });
  await region.records.update('c-1', { title: 'CEO' });
  const entries = (await region.exportEntries(0, 100)).filter((e) => e.record === 'c-1').map(wire);
  expect(entries).toHaveLength(3);
  return { region, laptop, entries };
}

describe('a stub of a change to a record the laptop holds', () => {
  it('is filled in when the full entry arrives later, and the record shows the change', async () => {
    const { region, laptop, entries } = await setUp();
    // The last change arrives as a stub (its signature verifies over the digest), the rest in full.
    const result = await laptop.importEntries([entries[0]!, entries[1]!, stubOf(entries[2]!)]);
    expect(result).toMatchObject({ accepted: 3, gap: false });
    expect(await laptop.records.get('c-1')).toMatchObject({ company: 'Acme' });
    expect((await laptop.records.get('c-1'))?.title).toBeUndefined();

    await laptop.importEntries([entries[2]!]);
    expect(await laptop.records.get('c-1')).toEqual(await region.records.get('c-1'));
    expect((await laptop.records.history('c-1', { limit: 10 })).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await laptop.verify()).problems).toBe(0);
    const stored = (await laptop.exportEntries(0, 10)).find((e) => e.seq === 3)!;
    expect({ digest: stored.digest, bytes: stored.change.length }).toEqual({ digest: undefined, bytes: entries[2]!.change.length });
  });

  it('is not filled by bytes the chain does not bind: refused as forged, nothing stored changes', async () => {
    const { laptop, entries } = await setUp();
    await laptop.importEntries([entries[0]!, entries[1]!, stubOf(entries[2]!)]);
    const before = { record: await laptop.records.get('c-1'), log: await laptop.exportEntries(0, 10) };
    // Another valid change of the record, and garbage, under the stub's origin and seq.
    for (const change of [entries[1]!.change, new Uint8Array(64).fill(7), new Uint8Array(0)]) {
      await expect(laptop.importEntries([{ ...entries[2]!, change }])).rejects.toMatchObject({ code: 'ERR_SIGNATURE' });
    }
    expect(await laptop.records.get('c-1')).toEqual(before.record);
    expect(await laptop.exportEntries(0, 10)).toEqual(before.log);
    expect((await laptop.verify()).problems).toBe(0);
  });
});
