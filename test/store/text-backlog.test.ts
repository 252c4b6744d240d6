/**
 * The search index behind the writes (src/store/text-backlog.ts), against a real
 * LevelStore: whatever mix of writes, renames, erasures, evictions, reindexing, bursts of
 * commits not awaited, reopens and searches, the index keys stored are exactly those of
 * the stored views, except the search tokens of the records `textq` names; a search
 * indexes those first, and then every key is there.
 */
import fc from 'fast-check';
import { MemoryLevel } from 'memory-level';
import { describe, expect, it } from 'vitest';
import type { RecordView } from '../../src/crdt/record-schema.js';
import { equalityDelta, indexKeysOf, textKeysOf } from '../../src/store/indexes.js';
import { openLevelStore } from '../../src/store/level-store.js';
import type { Mutation, RecordMeta, Store } from '../../src/store/store.js';
import { parseNodeId, type RecordId } from '../../src/types.js';
import { mutation } from './store-conformance.js';

const KEY = 'ed25519:' + 'A'.repeat(43);
type Db = MemoryLevel<string, Uint8Array>;
const open = (db: Db, textIndexBacklog?: number) => openLevelStore(db, {
  createIdentity: () => ({ nodeId: parseNodeId('a'), key: KEY, founder: KEY }),
  logTailSize: 8,
  groupCommitMax: 4,
  ...(textIndexBacklog === undefined ? {} : { textIndexBacklog }),
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
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('search' as const, 'reopen' as const) }) },
);

/** The index keys a store must hold for `views`, when the records `waiting` names wait for their tokens. */
function expected(views: Iterable<RecordView>, waiting: ReadonlySet<string>): string[] {
  const keys: string[] = [];
  for (const view of views) keys.push(...(waiting.has(view.id) ? equalityDelta(undefined, view).added : indexKeysOf(view)));
  return keys.sort();
}

describe('the search index behind the writes', () => {
  it('holds exactly the stored views\' keys but the tokens of waiting records, and all of them after a search (seeded)', async () => {
    let searches = 0;
    let waitedAtCheck = 0;
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
          const waiting = await raw(db, 'textq');
          waitedAtCheck += waiting.length;
          expect(store.searchBacklog()).toBe(waiting.length);
          for (const w of waiting) expect(metas.has(w)).toBe(true); // an erased record never waits
          expect(await raw(db, 'idx')).toEqual(expected([...metas.values()].map((m) => m.view), new Set(waiting)));
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
          } else if (c.kind === 'search') {
            const found = await store.scanIndex({ gte: 'text/', lt: 'text0', limit: 10_000 });
            expect(found).toEqual([...metas.values()].flatMap((m) => textKeysOf(m.view)).sort());
            searches++;
          } else {
            await store.close();
            store = await open(db, backlogLimit);
          }
          await check();
        }
        await store.scanIndex({ gte: 'text/ada', lt: 'text/ada\uffff', limit: 1 });
        expect(store.searchBacklog()).toBe(0);
        await check();
        expect(await raw(db, 'textq')).toEqual([]);
        await store.close();
      }),
      { seed: 20261203, numRuns: 150 },
    );
    expect(searches).toBeGreaterThan(20);
    expect(waitedAtCheck).toBeGreaterThan(100); // the backlog was not always empty: deferral happened
  });

  it('indexes the backlog by itself once writes pause, and a write past the limit indexes the oldest', async () => {
    const db: Db = new MemoryLevel({ keyEncoding: 'utf8', valueEncoding: 'view' });
    const store = await open(db, 5);
    for (let i = 0; i < 8; i++) await store.commit(mutation(`p${i}`, i + 1, undefined, { name: `Person ${i}` }));
    await store.commit({ records: [], entries: [], clock: [] });
    // Past the limit of 5, each commit indexed the oldest: p0 to p2 are searchable.
    expect(await raw(db, 'textq')).toEqual(['p3', 'p4', 'p5', 'p6', 'p7']);
    const deadline = Date.now() + 10_000;
    while (store.searchBacklog() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(store.searchBacklog()).toBe(0);
    await store.commit({ records: [], entries: [], clock: [] });
    expect(await raw(db, 'textq')).toEqual([]);
    expect((await raw(db, 'idx')).filter((k) => k.startsWith('text/person/'))).toHaveLength(8);
    await store.close();
  });
});
