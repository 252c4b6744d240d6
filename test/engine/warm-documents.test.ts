/**
 * Writer.warmDocuments: the documents a frame of concurrent changes needs are read at
 * once (not one LevelDB round trip after the other), into at most half the cache, and
 * records with a queued commit are left to docFor.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { makeActorId } from '../../src/crdt/actor.js';
import { genesisState } from '../../src/crdt/record-state.js';
import { Writer } from '../../src/engine/writer.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { silentLogger } from '../../src/log.js';
import type { RecordMeta } from '../../src/store/store.js';
import { parseNodeId, parseRecordId, type RecordId } from '../../src/types.js';
import { tempDirs } from '../support/temp-dirs.js';
import { metaOf, openAt, put } from './store-writer.js';

const dirs = tempDirs('crmsync-warm-');
afterAll(() => dirs.cleanup());

/** A stored record whose document is the genesis document alone (it loads without history). */
const genesisMeta = (id: string): RecordMeta => ({ ...metaOf(id, []), state: genesisState() });

describe('warming documents', () => {
  it('reads the documents at once, into at most half the cache, skipping records with a queued commit', async () => {
    const dir = await dirs.make();
    const { store, writer: setup, close } = await openAt(dir);
    const ids = Array.from({ length: 6 }, (_, i) => `r${i}`);
    for (const id of ids) await put(setup, id, genesisMeta(id));
    await setup.drain();
    // A writer with a cache of 8: at most 4 warmed.
    const writer = new Writer({ store, actor: makeActorId(parseNodeId('a'), new Uint8Array(8)), limits: { ...DEFAULT_LIMITS, docCacheSize: 8 }, logger: silentLogger(), identity: { cluster: 'c', sign: () => new Uint8Array(64) } });
    let inFlight = 0;
    let most = 0;
    const read = store.documentParts.bind(store);
    store.documentParts = async (id, meta) => {
      most = Math.max(most, ++inFlight);
      try {
        return await read(id, meta);
      } finally {
        inFlight--;
      }
    };
    const metas = await writer.metasFor(ids.map(parseRecordId));
    await writer.run(async () => {
      // r0 has a commit queued: warming leaves it alone.
      const staged = writer.commit({ records: [{ id: parseRecordId('r0'), before: metas[0], after: genesisMeta('r0') }], entries: [], clock: [] });
      await writer.warmDocuments(ids.map((id, i) => [parseRecordId(id), metas[i]] as const));
      await staged;
    });
    const cached = ids.filter((id) => writer.cache.has(id as RecordId));
    expect(cached).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(most).toBe(4);
    writer.close();
    await close();
  });
});
