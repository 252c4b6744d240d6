/**
 * Index keys written behind the records (src/store/index-backlog.ts), against a real
 * LevelStore: whatever mix of writes, renames, erasures, evictions, reindexing, bursts of
 * commits not awaited, reopens and searches, the index keys stored are exactly those of
 * the stored views, except for the records `idxq` names, which have none of their keys
 * (created, not indexed yet) or exactly their equality keys (search tokens waiting); a
 * scan writes those first, and then every key is there.
 */
import fc from 'fast-check';
import { MemoryLevel } from 'memory-level';
import { describe, expect, it } from 'vitest';
import type { RecordView } from '../../src/crdt/record-schema.js';
import { equalityDelta, indexKeysOf } from '../../src/store/indexes.js';
import { openLevelStore } from '../../src/store/level-store.js';
import type { Mutation, RecordMeta, Store } from '../../src/store/store.js';
import { parseNodeId, type RecordId } from '../../src/types.js';
import { mutation } from './store-conformance.js';

const KEY = 'ed25519:' + 'A'.repeat(43);
type Db = MemoryLevel<string, Uint8Array>;
const open = (db: Db, indexBacklog?: number) => openLevelStore(db, {
  createIdentity: () => ({ nodeId: parseNodeId('a'), key: KEY, founder: KEY }),
  logTailSize: 8,
  groupCommitMax: 4,
  ...(indexBacklog === undefined ? {} : { indexBacklog }),
});
const raw = async (db: Db, sublevel: string) => (await db.sublevel<string, Uint8Array>(sublevel, { keyEncoding: 'utf8', valueEncoding: 'view' }).keys().all()).sort();

const id = fc.constantFrom('r1', 'r2', 'r3', 'r4');
const fields = fc.record({
  name: fc.constantFrom('Ada Lovelace', 'Grace Hopper', 'Émile Zoë', 'x'),
  company: fc.constantFrom(undefined, 'Acme Corp', 'Globex', '株式会社 東京'),
  email: fc.constantFrom(undefined, 'ada@acme.com', 'grace@globex.example'),
  territory: fc.constantFrom(undefined, 'emea', 'apac'),
  stage: fc.constantFrom<RecordView['stage']>(undefined, 'lead', 'won'),
}).map((f) => Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as Partial<RecordView>);
const command = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('write' as const), id, fields }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('burst' as const), writes: fc.array(fc.record({ id, fields }), { minLength: 2, maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('drop' as const, 'evict' as const, 'reindex' as const), id }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('scan' as const), index: fc.constantFrom('text', 'territory', 'updated') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
);

/**
 * Checks the stored index keys against the stored views: a record not waiting has exactly
 * its keys; a waiting one none, or exactly its equality keys; no other record has any.
 */
function checkKeys(stored: string[], views: ReadonlyMap<string, RecordView>, waiting: ReadonlySet<string>): { none: number; equality: number } {
  const byRecord = new Map<string, string[]>();
  for (const key of stored) {
    const id = key.slice(key.lastIndexOf('/') + 1);
    byRecord.set(id, [...(byRecord.get(id) ?? []), key]);
  }
  for (const id of byRecord.keys()) expect(views.has(id), `index keys of ${id}, which is not stored`).toBe(true);
  const seen = { none: 0, equality: 0 };
  for (const [id, view] of views) {
    const keys = (byRecord.get(id) ?? []).sort();
    if (!waiting.has(id)) {
      expect(keys).toEqual([...indexKeysOf(view)].sort());
    } else if (keys.length === 0) {
      seen.none++;
    } else {
      expect(keys).toEqual(equalityDelta(undefined, view).added.sort());
      seen.equality++;
    }
  }
  return seen;
}

describe('index keys written behind the records', () => {
  it('are exactly the stored views\' keys but those of waiting records, and all of them once any index is scanned (seeded)', async () => {
    let scans = 0;
    const waited = { none: 0, equality: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 30 }), fc.constantFrom(undefined, 1, 2), async (commands, backlogLimit) => {
        const db: Db = new MemoryLevel({ keyEncoding: 'utf8', valueEncoding: 'view' });
        let store: Store = await open(db, backlogLimit);
        const metas = new Map<string, RecordMeta>();
        let seq = 0;
        const write = (target: string, extra: Partial<RecordView>): Promise<unknown> => {
          const m = mutation(target, ++seq, metas.get(target), extra);
          metas.set(target, m.records[0]!.after);
          return store.commit(m);
        };
        const bare = (extra: Partial<Mutation>): Mutation => ({ records: [], entries: [], clock: [], ...extra });
        // Every queued batch durable: an empty commit is written after all of them.
        const settle = () => store.commit(bare({}));
        const check = async () => {
          await settle();
          const waiting = await raw(db, 'idxq');
          expect(store.indexBacklog()).toBe(waiting.length);
          for (const w of waiting) expect(metas.has(w)).toBe(true); // an erased record never waits
          const seen = checkKeys(await raw(db, 'idx'), new Map([...metas].map(([k, m]) => [k, m.view])), new Set(waiting));
          waited.none += seen.none;
          waited.equality += seen.equality;
        };
        for (const c of commands) {
          if (c.kind === 'write') await write(c.id, c.fields);
          else if (c.kind === 'burst') await Promise.all(c.writes.map((w) => write(w.id, w.fields)));
          else if (c.kind === 'reindex') {
            const meta = metas.get(c.id);
            if (meta) await store.commit(bare({ reindex: [meta.view] }));
          } else if (c.kind === 'drop' || c.kind === 'evict') {
            const before = metas.get(c.id);
            metas.delete(c.id);
            const rid = c.id as RecordId;
            await store.commit(c.kind === 'drop'
              ? bare({ drop: [{ id: rid, before, history: [] }] })
              : bare({ evictions: [{ id: rid, before, view: before?.view ?? mutation(c.id, 0, undefined).records[0]!.after.view, rewrite: [] }] }));
          } else if (c.kind === 'scan') {
            // Any index scan writes every waiting key first, not only a search.
            const found = await store.scanIndex({ gte: `${c.index}/`, lt: `${c.index}0`, limit: 10_000 });
            const all = [...metas.values()].flatMap((m) => [...indexKeysOf(m.view)]);
            expect(found).toEqual(all.filter((k) => k.startsWith(`${c.index}/`)).sort());
            scans++;
          } else {
            await store.close();
            store = await open(db, backlogLimit);
          }
          await check();
        }
        await store.scanIndex({ gte: 'stage/won/', lt: 'stage/won0', limit: 1 });
        expect(store.indexBacklog()).toBe(0);
        await check();
        expect(await raw(db, 'idxq')).toEqual([]);
        await store.close();
      }),
      { seed: 20261203, numRuns: 150 },
    );
    expect(scans).toBeGreaterThan(20);
    // Both kinds of waiting happened often: created records, and renamed ones.
    expect(waited.none).toBeGreaterThan(50);
    expect(waited.equality).toBeGreaterThan(20);
  });

  it('writes the backlog by itself once writes pause, and a write past the limit writes the oldest', async () => {
    const db: Db = new MemoryLevel({ keyEncoding: 'utf8', valueEncoding: 'view' });
    const store = await open(db, 5);
    for (let i = 0; i < 8; i++) await store.commit(mutation(`p${i}`, i + 1, undefined, { name: `Person ${i}` }));
    await store.commit({ records: [], entries: [], clock: [] });
    // Past the limit of 5, each commit wrote the oldest's keys: p0 to p2 are indexed.
    expect(await raw(db, 'idxq')).toEqual(['p3', 'p4', 'p5', 'p6', 'p7']);
    expect((await raw(db, 'idx')).filter((k) => k.startsWith('updated/')).map((k) => k.slice(k.lastIndexOf('/') + 1))).toEqual(['p0', 'p1', 'p2']);
    const deadline = Date.now() + 10_000;
    while (store.indexBacklog() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(store.indexBacklog()).toBe(0);
    await store.commit({ records: [], entries: [], clock: [] });
    expect(await raw(db, 'idxq')).toEqual([]);
    expect((await raw(db, 'idx')).filter((k) => k.startsWith('text/person/'))).toHaveLength(8);
    await store.close();
  });
});
