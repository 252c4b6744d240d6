/**
 * Index keys written behind the records (src/store/index-backlog.ts), against a real
 * LevelStore: whatever mix of creates, edits, renames, erasures, evictions, reindexing,
 * bursts of commits not awaited (scans among them), pauses, reopens and scans, the index
 * keys stored are exactly those of the stored views, except that the records `idxq` names
 * have none yet; a scan writes those first, and then every key is there, as does opening
 * the store, whatever index batches a power cut lost. On disk as well: a scan never reads
 * the index while a batch of waiting keys is still being written.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { Level } from 'level';
import { MemoryLevel } from 'memory-level';
import { afterAll, describe, expect, it } from 'vitest';
import type { RecordView } from '../../src/crdt/record-schema.js';
import { indexKeysOf } from '../../src/store/indexes.js';
import { openLevelStore } from '../../src/store/level-store.js';
import type { Mutation, RecordMeta, Store } from '../../src/store/store.js';
import type { Timers } from '../../src/timers.js';
import { parseNodeId, type RecordId } from '../../src/types.js';
import { tempDirs } from '../support/temp-dirs.js';
import { mutation } from './store-conformance.js';

const KEY = 'ed25519:' + 'A'.repeat(43);
type Db = Level<string, Uint8Array> | MemoryLevel<string, Uint8Array>;
const dirs = tempDirs('crmsync-index-backlog-');
afterAll(() => dirs.cleanup());

/** A clock that moves only when told: the backlog's timers fire in `advance`, in order. */
function manualTimers(): Timers & { advance(ms: number): void } {
  let now = 0;
  let timers: { at: number; fn: () => void; live: boolean }[] = [];
  return {
    now: () => now,
    after(ms, fn) {
      const timer = { at: now + ms, fn, live: true };
      timers.push(timer);
      return { cancel: () => { timer.live = false; } };
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.live && t.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        now = due.at;
        due.live = false;
        timers = timers.filter((t) => t.live);
        due.fn();
      }
      now = until;
    },
  };
}

const open = (db: Db, timers: Timers, indexBacklog?: number) => openLevelStore(db, {
  createIdentity: () => ({ nodeId: parseNodeId('a'), key: KEY, founder: KEY }),
  logTailSize: 8,
  groupCommitMax: 4,
  timers,
  ...(indexBacklog === undefined ? {} : { indexBacklog }),
});
const raw = async (db: Db, sublevel: string) => (await (db as MemoryLevel<string, Uint8Array>).sublevel<string, Uint8Array>(sublevel, { keyEncoding: 'utf8', valueEncoding: 'view' }).keys().all()).sort();
const bare = (extra: Partial<Mutation>): Mutation => ({ records: [], entries: [], clock: [], ...extra });

/** A chained batch the store wrote: its puts (a value) and deletes (none), and whether it was fsynced. */
interface Written {
  sync: boolean;
  ops: [key: string, value: Uint8Array | undefined][];
}

/** Records, in order, every chained batch written through `db` (the store's commit queue writes one at a time). */
function recordBatches(db: Db): Written[] {
  const written: Written[] = [];
  const batch = db.batch.bind(db) as (...args: unknown[]) => ReturnType<Db['batch']>;
  (db as unknown as { batch: (...args: unknown[]) => unknown }).batch = (...args) => {
    if (args.length > 0) return batch(...args); // an array batch: not the commit queue's
    const chained = batch();
    const ops: Written['ops'] = [];
    type Call = (...args: unknown[]) => unknown;
    const [put, del, write] = [chained.put.bind(chained) as Call, chained.del.bind(chained) as Call, chained.write.bind(chained)];
    chained.put = ((key: string, value: Uint8Array, ...rest: unknown[]) => { ops.push([key, value]); return put(key, value, ...rest); }) as never;
    chained.del = ((key: string, ...rest: unknown[]) => { ops.push([key, undefined]); return del(key, ...rest); }) as never;
    chained.write = (async (options?: { sync?: boolean }) => {
      await write(options as never);
      written.push({ sync: options?.sync === true, ops });
    }) as never;
    return chained;
  };
  return written;
}

/**
 * What a power cut leaves of `written`: the batches in `lost` never happened, every other
 * one did (LevelDB loses the unsynced tail of a log file it had switched from, and keeps
 * the batches of the next one). Rewrites the keys the lost batches touched, on the closed `db`.
 */
async function loseBatches(db: Db, written: Written[], lost: ReadonlySet<Written>): Promise<void> {
  const touched = new Set([...lost].flatMap((w) => w.ops.map(([key]) => key)));
  const kept = written.filter((w) => !lost.has(w));
  const state = new Map<string, Uint8Array | undefined>();
  for (const w of kept) for (const [key, value] of w.ops) if (touched.has(key)) state.set(key, value);
  await db.open();
  for (const key of touched) {
    const value = state.get(key);
    if (value === undefined) await db.del(key);
    else await db.put(key, value);
  }
  await db.close();
  written.splice(0, written.length, ...kept);
}

const id = fc.constantFrom('r1', 'r2', 'r3', 'r4');
const fields = fc.record({
  name: fc.constantFrom('Ada Lovelace', 'Grace Hopper', 'Émile Zoë', 'x'),
  company: fc.constantFrom(undefined, 'Acme Corp', 'Globex', '株式会社 東京'),
  email: fc.constantFrom(undefined, 'ada@acme.com', 'grace@globex.example'),
  territory: fc.constantFrom(undefined, 'emea', 'apac'),
  owner: fc.constantFrom(undefined, 'ana', 'ben'),
  stage: fc.constantFrom<RecordView['stage']>(undefined, 'lead', 'won'),
  conflicts: fc.constantFrom(undefined, ['title']),
}).map((f) => Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as Partial<RecordView>);
const scanOf = fc.constantFrom('text', 'territory', 'owner', 'updated', 'conflict');
/** What may run while other commits are queued, not awaited one by one. */
const step = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('write' as const), id, fields }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('drop' as const, 'evict' as const, 'reindex' as const), id }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('scan' as const), index: scanOf }) },
);
const command = fc.oneof(
  { weight: 6, arbitrary: step },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('burst' as const), steps: fc.array(step, { minLength: 2, maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('pause' as const, 'reopen' as const) }) },
  // A power cut that loses the machine's last `lose` batches written without fsync.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), lose: fc.integer({ min: 1, max: 3 }) }) },
);
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

describe('index keys written behind the records', () => {
  it('are exactly the stored views\' keys but none of waiting records\', and all of them once any index is scanned, whatever batches without fsync a power cut loses (seeded)', async () => {
    let scans = 0;
    let waitedAtChecks = 0;
    let lostBatches = 0;
    let repairedRecords = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 30 }), fc.constantFrom(undefined, 1, 2), async (commands, backlogLimit) => {
        const db: Db = new MemoryLevel({ keyEncoding: 'utf8', valueEncoding: 'view' });
        const written = recordBatches(db);
        const clock = manualTimers();
        let store: Store = await open(db, clock, backlogLimit);
        const metas = new Map<string, RecordMeta>();
        let seq = 0;
        /** Every index key of the stored views (what a scan must see once it wrote the backlog). */
        const allKeys = () => [...metas.values()].flatMap((m) => [...indexKeysOf(m.view)]).sort();
        /**
         * The index keys before a burst and after each of its commits. A scan sees every commit
         * acknowledged before it started, and perhaps some queued around it: in a burst it must
         * find every key that all these states share, and no key that none of them has. Alone,
         * it must find exactly the keys of the stored views.
         */
        let states: string[][] = [];
        let burstSize = 0;
        const run = (s: Step): Promise<unknown> => {
          if (s.kind === 'write') {
            const m = mutation(s.id, ++seq, metas.get(s.id), s.fields);
            metas.set(s.id, m.records[0]!.after);
            return store.commit(m);
          }
          if (s.kind === 'reindex') {
            const meta = metas.get(s.id);
            return meta ? store.commit(bare({ reindex: [meta.view] })) : Promise.resolve();
          }
          if (s.kind === 'scan') {
            // Any index scan writes every waiting key first, and sees every record queued before it.
            const alone = burstSize === 1;
            const of = (keys: string[]) => keys.filter((k) => k.startsWith(`${s.index}/`));
            scans++;
            return store.scanIndex({ gte: `${s.index}/`, lt: `${s.index}0`, limit: 10_000 }).then((found) => {
              if (alone) return expect(found).toEqual(of(states[0]!));
              const seen = states.map((keys) => new Set(of(keys)));
              for (const key of found) expect(seen.some((keys) => keys.has(key)), `${key} is in no state of the burst`).toBe(true);
              for (const key of seen[0]!) if (seen.every((keys) => keys.has(key))) expect(found).toContain(key);
            });
          }
          const before = metas.get(s.id);
          metas.delete(s.id);
          const rid = s.id as RecordId;
          return store.commit(s.kind === 'drop'
            ? bare({ drop: [{ id: rid, before, history: [] }] })
            : bare({ evictions: [{ id: rid, before, view: before?.view ?? mutation(s.id, 0, undefined).records[0]!.after.view, rewrite: [] }] }));
        };
        const check = async () => {
          await store.commit(bare({})); // written after every batch queued before it
          const waiting = new Set(await raw(db, 'idxq'));
          waitedAtChecks += waiting.size;
          expect(store.indexBacklog()).toBe(waiting.size);
          const expected: string[] = [];
          for (const [rid, meta] of metas) if (!waiting.has(rid)) expected.push(...indexKeysOf(meta.view));
          for (const w of waiting) expect(metas.has(w), `${w} waits but is not stored`).toBe(true);
          expect(await raw(db, 'idx')).toEqual(expected.sort());
        };
        /** Opening writes the keys of every record found waiting, so nothing waits and the index is whole. */
        const reopen = async () => {
          store = await open(db, clock, backlogLimit);
          expect(store.indexBacklog()).toBe(0);
          expect(await raw(db, 'idxq')).toEqual([]);
          expect(await raw(db, 'idx')).toEqual(allKeys());
        };
        /** Runs steps without awaiting each: their commits queue behind one another. */
        const queued = async (steps: Step[]) => {
          states = [allKeys()];
          burstSize = steps.length;
          const running = steps.map((s) => {
            const done = run(s);
            states.push(allKeys());
            return done;
          });
          await Promise.all(running);
        };
        for (const c of commands) {
          if (c.kind === 'burst') await queued(c.steps);
          else if (c.kind === 'pause') clock.advance(300);
          else if (c.kind === 'reopen') {
            await store.close();
            await reopen();
          } else if (c.kind === 'crash') {
            await store.close(); // writes nothing: every commit is written (check() above)
            const lost = new Set(written.filter((w) => !w.sync).slice(-c.lose));
            /** Records whose markers the power cut brings back, some perhaps with keys that later edits put. */
            const remarked = new Set<string>();
            for (const w of lost) {
              expect(w.ops.every(([key]) => key.startsWith('!idx!') || key.startsWith('!idxq!')), 'a batch without fsync wrote more than index keys and markers').toBe(true);
              for (const [key, value] of w.ops) if (key.startsWith('!idxq!') && value === undefined) remarked.add(key.slice('!idxq!'.length));
            }
            lostBatches += lost.size;
            await loseBatches(db, written, lost);
            repairedRecords += [...remarked].filter((rid) => metas.has(rid)).length;
            await reopen();
          } else await queued([c as Step]);
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
    expect(scans).toBeGreaterThan(50);
    expect(waitedAtChecks).toBeGreaterThan(100); // records did wait: the deferred path ran
    expect(lostBatches).toBeGreaterThan(50); // power cuts did lose index batches (105 with this seed)
    expect(repairedRecords).toBeGreaterThan(50); // and records came back marked, to be indexed again (151)
  });

  it('writes the backlog once writes pause, and the oldest past the limit', async () => {
    const db: Db = new MemoryLevel({ keyEncoding: 'utf8', valueEncoding: 'view' });
    const clock = manualTimers();
    const store = await open(db, clock, 5);
    const flushed = () => store.commit(bare({}));
    for (let i = 0; i < 8; i++) await store.commit(mutation(`p${i}`, i + 1, undefined, { name: `Person ${i}` }));
    await flushed();
    // Past the limit of 5, each commit wrote the oldest's keys.
    expect(await raw(db, 'idxq')).toEqual(['p3', 'p4', 'p5', 'p6', 'p7']);
    expect((await raw(db, 'idx')).filter((k) => k.startsWith('updated/')).map((k) => k.slice(k.lastIndexOf('/') + 1))).toEqual(['p0', 'p1', 'p2']);
    clock.advance(249);
    expect(store.indexBacklog()).toBe(5); // not quiet long enough yet
    clock.advance(1);
    await flushed(); // written behind the index batch the timer queued
    expect(store.indexBacklog()).toBe(0);
    expect(await raw(db, 'idxq')).toEqual([]);
    await store.close();
  });

  it('writes the backlog every 5 s while writes trickle in without a pause', async () => {
    const clock = manualTimers();
    const store = await open(new MemoryLevel({ keyEncoding: 'utf8', valueEncoding: 'view' }), clock);
    // A commit every 100 ms never leaves 250 ms of quiet; 5 s after the first record began
    // to wait, a batch goes anyway.
    let seq = 0;
    for (let t = 0; t < 4_900; t += 100) {
      await store.commit(mutation(`t${t}`, ++seq, undefined));
      clock.advance(100);
    }
    await store.commit(bare({}));
    expect(store.indexBacklog()).toBe(49);
    await store.commit(mutation('t-last', ++seq, undefined));
    clock.advance(100); // 5 s since the first of them
    await store.commit(bare({}));
    expect(store.indexBacklog()).toBe(0);
    await store.close();
  });

  it('on disk, a scan waits for index batches already queued: after the timer\'s, beside another scan, behind a commit past the limit', async () => {
    const N = 300;
    const range = { gte: 'territory/', lt: 'territory0', limit: 1000 };
    const load = async (store: Store) => {
      await Promise.all(Array.from({ length: N }, (_, i) => store.commit(mutation(`r${i}`, i + 1, undefined, { territory: 'emea' }))));
    };
    const disk = async () => new Level<string, Uint8Array>(join(await dirs.make(), 'db'), { keyEncoding: 'utf8', valueEncoding: 'view' });

    let clock = manualTimers();
    let store = await open(await disk(), clock);
    await load(store);
    expect(store.indexBacklog()).toBe(N);
    clock.advance(1_000); // the timer queues a batch of the backlog: it is being written now
    expect(await store.scanIndex(range)).toHaveLength(N);
    await store.close();

    clock = manualTimers();
    store = await open(await disk(), clock);
    await load(store);
    const [first, second] = await Promise.all([store.scanIndex(range), store.scanIndex(range)]);
    expect(first).toHaveLength(N);
    expect(second).toHaveLength(N);
    await store.close();

    clock = manualTimers();
    store = await open(await disk(), clock, 10);
    const loaded = load(store); // each commit past 10 queues a batch of the oldest behind it
    const found = await store.scanIndex(range);
    await loaded;
    expect(found.length).toBe(N); // the scan started after every commit was queued
    await store.close();
  });

  it('writes an index batch of its own without fsync; one lost by the machine before later commits leaves its markers, which bring the keys back at open', async () => {
    const dir = join(await dirs.make(), 'db');
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const written = recordBatches(db);
    const syncs = () => written.map((w) => w.sync);
    const clock = manualTimers();
    let store = await open(db, clock);
    const range = { gte: 'territory/', lt: 'territory0', limit: 10 };
    await store.commit(mutation('r1', 1, undefined, { territory: 'emea', name: 'Ada Lovelace' }));
    await store.commit(mutation('r2', 2, undefined, { territory: 'apac', name: 'Grace Hopper' }));
    written.length = 0;
    clock.advance(250);
    expect(await store.scanIndex(range)).toEqual(['territory/apac/r2', 'territory/emea/r1']);
    expect(syncs()).toEqual([false]); // the index batch alone: its markers make it recoverable
    const writes = store.batchWrites();
    expect([writes.commit.batches, writes.index.batches]).toEqual([2, 1]);
    expect(writes.commit.seconds).toBeGreaterThan(0);
    // r1 is indexed now: an edit changes its keys in its own batch, synced.
    const v1 = (await store.getMeta('r1' as RecordId))!;
    await store.commit(mutation('r1', 3, v1, { territory: 'nordics', name: 'Ada Lovelace' }));
    expect(syncs()).toEqual([false, true]);
    const v2 = (await store.getMeta('r1' as RecordId))!;
    const r2 = (await store.getMeta('r2' as RecordId))!;
    const whole = (await raw(db, 'idx')).filter((k) => /\/r[12]$/.test(k));
    expect(whole).toEqual([...indexKeysOf(v2.view), ...indexKeysOf(r2.view)].sort());
    await store.close();

    // A power cut took the index batch and kept the later, synced commit (a batch not synced
    // can be lost when LevelDB switches its log file): undo what only the index batch wrote.
    // r1's keys that the edit left alone were put by it, and every key of r2.
    await db.open();
    const sub = (name: string) => db.sublevel<string, Uint8Array>(name, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const before = indexKeysOf(v1.view);
    const lost = [...[...indexKeysOf(v2.view)].filter((k) => before.has(k)), ...indexKeysOf(r2.view)];
    expect(lost.length).toBeGreaterThan(2); // name tokens and updated/ of r1, all of r2's
    await sub('idx').batch(lost.map((key) => ({ type: 'del' as const, key })));
    await sub('idxq').batch(['r1', 'r2'].map((key) => ({ type: 'put' as const, key, value: Uint8Array.of(0) })));
    await db.close();

    written.length = 0;
    store = await open(db, manualTimers());
    // Opening wrote both records' keys, without fsync, before taking any write.
    expect(store.indexBacklog()).toBe(0);
    expect(syncs()).toEqual([false]);
    expect((await raw(db, 'idx')).filter((k) => /\/r[12]$/.test(k))).toEqual(whole);
    expect(await raw(db, 'idxq')).toEqual([]);
    expect(await store.scanIndex(range)).toEqual(['territory/apac/r2', 'territory/nordics/r1']);
    await store.close();
  });

  it('writes, after a reopen, the keys of records that waited when the node stopped, and drops markers of records gone', async () => {
    const db: Db = new MemoryLevel({ keyEncoding: 'utf8', valueEncoding: 'view' });
    let store = await open(db, manualTimers());
    await store.commit(mutation('kept', 1, undefined, { territory: 'emea' }));
    await store.close();
    // A marker whose record is no longer stored (as a crash between two versions could leave).
    await db.open();
    await db.sublevel<string, Uint8Array>('idxq', { keyEncoding: 'utf8', valueEncoding: 'view' }).put('gone', Uint8Array.of(0));
    await db.close();
    store = await open(db, manualTimers());
    expect(store.indexBacklog()).toBe(0);
    expect(await raw(db, 'idxq')).toEqual([]);
    expect(await store.scanIndex({ gte: 'territory/', lt: 'territory0', limit: 10 })).toEqual(['territory/emea/kept']);
    expect((await raw(db, 'idx')).some((k) => k.endsWith('/gone'))).toBe(false);
    await store.close();
  });
});
