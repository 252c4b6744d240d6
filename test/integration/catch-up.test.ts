/**
 * One region, several laptops dialling at once (issue 9): with one catch-up slot the
 * region streams to one laptop at a time, the others wait in order (its status shows
 * where each stands), and every laptop still ends with every record.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CrmNode, PeerStatus } from '../../src/index.js';
import { Harness, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

const RECORDS = 600;
const LAPTOPS = 3;

describe('concurrent catch-ups', () => {
  it('streams to one laptop at a time, in arrival order, and every laptop converges', async () => {
    const limits = { maxConcurrentCatchUps: 1, catchUpThresholdChanges: 20, batchChanges: 10 };
    const region = await h.open({ dataDir: await h.tempDir(), nodeId: 'region', limits });
    for (let start = 0; start < RECORDS; start += 100) {
      await region.records.upsertMany(Array.from({ length: 100 }, (_, i) => ({ id: `c-${start + i}`, fields: { name: `Customer ${start + i}` } })));
    }
    const laptops: CrmNode[] = [];
    for (let i = 0; i < LAPTOPS; i++) laptops.push(await h.open({ dataDir: await h.tempDir(), nodeId: `laptop-${i}` }));
    // Every laptop dials in the same tick: opened one after another with the region as a
    // peer, the first could finish its catch-up before the next had dialled (seen once on a
    // loaded machine), and nobody would ever have waited.
    for (const laptop of laptops) laptop.addPeer(region.url!);

    // Watch the region's view of its peers until every laptop holds everything.
    let maxActive = 0;
    let sawWaiting = false;
    const complete: string[] = [];
    await vi.waitFor(async () => {
      const rows: PeerStatus[] = (await region.status()).peers;
      maxActive = Math.max(maxActive, rows.filter((r) => r.catchUp?.state === 'active').length);
      if (rows.some((r) => r.catchUp?.state === 'waiting')) sawWaiting = true;
      for (const laptop of laptops) {
        if (!complete.includes(laptop.id) && (await laptop.status()).records.live === RECORDS) complete.push(laptop.id);
      }
      expect(complete).toHaveLength(LAPTOPS);
    }, { timeout: 60_000, interval: 2 });

    expect(maxActive).toBe(1);
    expect(sawWaiting).toBe(true);
    await waitForConvergence([region, ...laptops]);
    const rows = (await region.status()).peers;
    expect(rows.every((r) => r.catchUp === null)).toBe(true); // every slot was given back
  });
});
