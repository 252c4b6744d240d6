/**
 * Keys that are all there is to an entry (indexes, histories) are stored with a one-byte
 * value, never an empty one: classic-level 3.0.0 leaks a small native allocation for
 * every zero-length value it is handed (see MARKER_VALUE in src/store/level-store.ts),
 * and a node writes about 14 of them per created record. This reads a real data directory
 * back, byte for byte, after the writes that make such keys.
 */
import { join } from 'node:path';
import { Level } from 'level';
import { afterAll, describe, expect, it } from 'vitest';
import { openNode } from '../../src/index.js';
import { MARKER_VALUE } from '../../src/store/level-store.js';
import { createTestCluster } from '../../src/testing.js';
import { tempDirs } from '../support/temp-dirs.js';

const dirs = tempDirs('crmsync-marker-');
afterAll(() => dirs.cleanup());

describe('stored values', () => {
  it('are never empty: index, history and away keys carry the one-byte marker', async () => {
    const dataDir = join(await dirs.make(), 'node');
    const cluster = createTestCluster();
    const node = await openNode({ dataDir, ...cluster.member('marker'), listen: false });
    await node.records.upsertMany(Array.from({ length: 40 }, (_, i) => ({
      id: `m${i}`,
      fields: { name: `Person ${i} Example`, company: `Firm ${i % 5}`, email: `p${i}@firm${i % 5}.example`, stage: 'lead', territory: `T${i % 3}`, owner: 'ana', tags: ['vip'], custom: { tier: i % 4 } },
    })));
    for (let i = 0; i < 10; i++) await node.records.update(`m${i}`, { name: `Renamed ${i}`, stage: 'won' });
    await node.records.delete('m39');
    // Records outside the subscription leave; this node's own changes to them stay whole (`away`).
    const { evicted } = await node.subscribe({ territories: ['T0'] });
    expect(evicted).toBeGreaterThan(0);
    // A listing writes the index keys still waiting (src/store/index-backlog.ts).
    expect((await node.records.list({ territory: 'T0', limit: 100 })).records.length).toBeGreaterThan(0);
    await node.close();

    const db = new Level<string, Uint8Array>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const empty: string[] = [];
    const markers = new Map<string, number>();
    for await (const [key, value] of db.iterator()) {
      if (value.length === 0) empty.push(key);
      const sublevel = key.split('!')[1]!;
      if (value.length === 1 && value[0] === MARKER_VALUE[0]) markers.set(sublevel, (markers.get(sublevel) ?? 0) + 1);
    }
    await db.close();
    expect(empty).toEqual([]);
    // 40 created, 10 renamed, 1 deleted: one history key per change, kept apart for the evicted.
    expect((markers.get('hist') ?? 0) + (markers.get('away') ?? 0)).toBe(51);
    expect(markers.get('away')).toBeGreaterThan(0);
    // territory, owner, stage, updated and text tokens for each record still held.
    expect(markers.get('idx')).toBeGreaterThan(10 * 5);
  });
});
