/**
 * Anti-entropy between real nodes (real LevelDB in temp dirs, real sockets on port 0):
 * identical holdings compare in one round trip; a record made different behind sync's
 * back (its stored heads and view rewritten to an older state while the node was
 * stopped, so both clocks still claim the same holdings) is found in O(log n) round
 * trips and repaired, after which the digests agree again.
 */
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import { createValueCodec } from '../../src/store/codec.js';
import { fromMetaValue, toMetaValue } from '../../src/store/meta-codec.js';
import type { RecordMeta } from '../../src/store/store.js';
import { Harness, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

const TERRITORIES = ['north', 'south', undefined] as const;

async function seed(node: CrmNode, n: number): Promise<void> {
  for (let i = 0; i < n; i += 500) {
    await node.records.upsertMany(Array.from({ length: Math.min(500, n - i) }, (_, j) => {
      const territory = TERRITORIES[(i + j) % 3];
      return { id: `c-${i + j}`, fields: { name: `Customer ${i + j}`, ...(territory ? { territory } : {}) } };
    }));
  }
}

/** Reads or rewrites one record's stored meta in a stopped node's data directory. */
async function withMeta(dir: string, id: string, change?: (meta: RecordMeta) => RecordMeta): Promise<RecordMeta> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  const rec = db.sublevel<string, Uint8Array>('rec', { keyEncoding: 'utf8', valueEncoding: 'view' });
  const codec = createValueCodec();
  try {
    const meta = fromMetaValue(codec.unpack((await rec.get(id))!));
    if (change) await rec.put(id, codec.pack(toMetaValue(change(meta))));
    return meta;
  } finally {
    await db.close();
  }
}

async function pair(n: number): Promise<{ a: CrmNode; b: CrmNode; dirB: string }> {
  const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', antiEntropyIntervalMs: 0 });
  await seed(a, n);
  const dirB = await h.tempDir();
  const b = await h.open({ dataDir: dirB, nodeId: 'b', peers: [a.url!], antiEntropyIntervalMs: 0 });
  await waitForConvergence([a, b]);
  return { a, b, dirB };
}

describe('anti-entropy', () => {
  it('finds no difference between identical holdings, in one round trip', async () => {
    const { a, b } = await pair(600);
    const result = await a.verifyPeer('b');
    expect(result).toMatchObject({ peer: 'b', roundTrips: 1, compared: 600, differing: 0, repaired: 0, remaining: 0, differingIds: [] });
    expect((await b.status()).antiEntropy.refusedRequests).toBe(0);
    expect((await a.status()).antiEntropy).toMatchObject({ intervalMs: 0, runs: 1, failures: 0, last: { differing: 0 } });
  });

  it('finds a record whose stored state differs in O(log n) round trips, repairs it, and then agrees', async () => {
    const n = 3000;
    const { a, b, dirB } = await pair(n);
    const old = (await b.records.get('c-1234'))!;
    await b.close();
    const before = await withMeta(dirB, 'c-1234');
    const b2 = await h.open({ dataDir: dirB, nodeId: 'b', peers: [a.url!], antiEntropyIntervalMs: 0 });
    await a.records.update('c-1234', { name: 'Renamed' });
    await waitForConvergence([a, b2]);
    await b2.close();
    // b's log and clock hold the rename; its stored heads and view go back to before it.
    await withMeta(dirB, 'c-1234', (meta) => ({ ...meta, state: { ...meta.state, heads: before.state.heads }, view: before.view }));
    const b3 = await h.open({ dataDir: dirB, nodeId: 'b', peers: [a.url!], antiEntropyIntervalMs: 0 });
    await expect.poll(async () => (await b3.status()).peers.some((p) => p.state === 'connected')).toBe(true);
    expect((await b3.records.get('c-1234'))!.name).toBe(old.name);
    expect((await b3.status()).clock).toEqual((await a.status()).clock);

    const result = await b3.verifyPeer('a');
    expect(result).toMatchObject({ differing: 1, differingIds: ['c-1234'], repaired: 1, remaining: 0, compared: n });
    // groups, two levels of children (1,000 records per territory: 16^2 buckets hold ~4),
    // one listing, compare, repair, compare again.
    expect(result.roundTrips).toBeLessThanOrEqual(Math.ceil(Math.log(n) / Math.log(16)) + 5);
    expect((await b3.records.get('c-1234'))!.name).toBe('Renamed');
    const again = await a.verifyPeer('b');
    expect(again).toMatchObject({ differing: 0, roundTrips: 1 });
  });

  it('compares only what both keep: a laptop holding one territory differs from its region in nothing else, and a real difference there is still found', async () => {
    const region = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', antiEntropyIntervalMs: 0 });
    await seed(region, 300); // 100 north, 100 south, 100 without a territory
    const dirL = await h.tempDir();
    const member = h.cluster.member('laptop-n', { role: 'laptop', scope: { territories: ['north', 'south'] } });
    const laptopOn = () => h.open({ dataDir: dirL, ...member, subscription: { territories: ['north'] }, peers: [region.url!], antiEntropyIntervalMs: 0 });
    let laptop = await laptopOn();
    await expect.poll(async () => (await laptop.status()).clock).toEqual((await region.status()).clock);
    expect(await laptop.verifyPeer('a')).toMatchObject({ compared: 100, differing: 0, remaining: 0 });
    expect(await region.verifyPeer('laptop-n')).toMatchObject({ compared: 100, differing: 0, remaining: 0 });

    // A north record (c-3) made different behind sync's back on the laptop is found and repaired.
    await laptop.close();
    const stale = await withMeta(dirL, 'c-3');
    laptop = await laptopOn();
    await region.records.update('c-3', { name: 'Renamed' });
    await expect.poll(async () => (await laptop.records.get('c-3'))?.name).toBe('Renamed');
    await laptop.close();
    await withMeta(dirL, 'c-3', (meta) => ({ ...meta, state: { ...meta.state, heads: stale.state.heads }, view: stale.view }));
    laptop = await laptopOn();
    await expect.poll(async () => (await laptop.status()).peers.some((p) => p.state === 'connected')).toBe(true);
    expect(await laptop.verifyPeer('a')).toMatchObject({ compared: 100, differing: 1, differingIds: ['c-3'], repaired: 1, remaining: 0 });
    expect((await laptop.records.get('c-3'))!.name).toBe('Renamed');
  });

  it('reports ERR_NOT_FOUND for a peer without an open session', async () => {
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', antiEntropyIntervalMs: 0 });
    await expect(a.verifyPeer('nobody')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    expect((await a.status()).antiEntropy.lastError).toBeNull();
  });
});
