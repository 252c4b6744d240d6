/**
 * The store conformance suite: every Store implementation (LevelStore over classic-level
 * on disk, LevelStore over memory-level) must pass it.
 */
import { describe, expect, it } from 'vitest';
import { stubOf, type LoggedEntry } from '../../src/crdt/change-entry.js';
import type { RecordView } from '../../src/crdt/record-schema.js';
import { hasCode } from '../../src/errors.js';
import type { Store, Mutation, RecordMeta } from '../../src/store/store.js';
import { parseNodeId, parseRecordId, type NodeId, type RecordId } from '../../src/types.js';

/** Opens the store under test; `reopen` closes nothing itself, it opens the same data again. */
export interface StoreFactory {
  open(nodeId?: string): Promise<Store>;
}

const nodeA = parseNodeId('a');

function view(id: string, extra: Partial<RecordView> = {}): RecordView {
  return { id: id as RecordId, name: `n-${id}`, address: {}, tags: [], notes: '', interactions: 0, custom: {}, createdAt: 1, updatedAt: 2, deleted: false, conflicts: [], ...extra };
}

/** The chain hash the suite's entry `seq` carries. */
export const chain = (seq: number) => seq.toString(16).padStart(64, '0');

function entry(origin: NodeId, seq: number, record: string): LoggedEntry {
  return { origin, seq, record: record as RecordId, change: new Uint8Array([seq, 1, 2]), chain: chain(seq), time: seq, fields: ['name'], sig: new Uint8Array(64).fill(seq), boundary: true };
}

/** A mutation writing record `id` with entry `seq` of node a. */
export function mutation(id: string, seq: number, before: RecordMeta | undefined, extra: Partial<RecordView> = {}, snapshot?: Uint8Array): Mutation {
  const state = { heads: [`h${seq}`], maxOp: seq, actors: [], ops: {} };
  const after: RecordMeta = { state, view: view(id, extra), snapshotAt: before?.snapshotAt ?? 0, pending: snapshot ? 0 : (before?.pending ?? 0) + 1, ...(before?.snapshot ? { snapshot: true } : {}) };
  return {
    records: [{ id: id as RecordId, before, after, ...(snapshot ? { snapshot } : {}) }],
    entries: [entry(nodeA, seq, id)],
    clock: [[nodeA, { seq, hash: chain(seq) }]],
  };
}

/** Runs the suite against one implementation. */
export function runStoreConformance(name: string, factory: StoreFactory): void {
  describe(`store conformance: ${name}`, () => {
    it('keeps the identity it was created with, and its trust statements', async () => {
      let store = await factory.open('a');
      expect(store.nodeId).toBe('a');
      const identity = store.identity;
      await store.saveTrust([{ hash: 'h1', value: { statement: 1 } }, { hash: 'h2', value: { statement: 2 } }]);
      await store.close();
      store = await factory.open();
      expect(store.identity).toEqual(identity);
      expect(await store.trustStatements()).toEqual([{ statement: 1 }, { statement: 2 }]);
      await store.close();
    });

    it('commits records, log entries and clock together, and they survive a reopen', async () => {
      let store = await factory.open('a');
      await store.commit(mutation('doc1', 1, undefined, { territory: 'emea' }));
      const before = await store.getMeta(parseRecordId('doc1'));
      await store.commit(mutation('doc1', 2, before, { territory: 'apac' }));
      await store.commit(mutation('doc10', 3, undefined));
      await store.close();
      store = await factory.open();
      expect(store.clock.get('a')).toEqual({ seq: 3, hash: chain(3) });
      expect(await store.chainAt('a', 2)).toBe(chain(2));
      expect(await store.chainAt('a', 4)).toBeUndefined();
      const [first] = await store.readLog(1, 1, 1e6);
      expect(first).toMatchObject({ origin: 'a', seq: 1, chain: chain(1), time: 1, fields: ['name'], boundary: true });
      expect(Buffer.from(first!.sig!).equals(Buffer.alloc(64, 1))).toBe(true);
      expect(store.lastLocalSeq).toBe(3);
      // A record's document: its changes from the log, and not another record's (prefix safety: doc1 vs doc10).
      const doc1 = (await store.getMeta(parseRecordId('doc1')))!;
      expect((await store.documentParts(parseRecordId('doc1'), doc1)).map((c) => [...c])).toEqual([[1, 1, 2], [2, 1, 2]]);
      expect((await store.readLog(1, 10, 1e6)).map((e) => [e.localSeq, e.record])).toEqual([[1, 'doc1'], [2, 'doc1'], [3, 'doc10']]);
      expect(await store.localSeqOf('a', 2)).toBe(2);
      expect(await store.localSeqOf('a', 9)).toBeUndefined();
      const refs = [{ origin: 'a', seq: 3 }, { origin: 'a', seq: 9 }, { origin: 'b', seq: 1 }, { origin: 'a', seq: 1 }];
      expect((await store.entriesAt(refs)).map((e) => e && [e.localSeq, e.origin, e.seq, e.record, e.chain])).toEqual([[3, 'a', 3, 'doc10', chain(3)], undefined, undefined, [1, 'a', 1, 'doc1', chain(1)]]);
      expect(await store.entriesAt([])).toEqual([]);
      expect((await store.historyOf(parseRecordId('doc1'), 10)).map((e) => e.seq)).toEqual([1, 2]);
      expect(await store.scanIndex({ gte: 'territory/apac/', lt: 'territory/apac0', limit: 10 })).toEqual(['territory/apac/doc1']);
      expect(await store.scanIndex({ gte: 'territory/emea/', lt: 'territory/emea0', limit: 10 })).toEqual([]);
      expect(store.recordCounts().live).toBe(2);
      await store.close();
    });

    it('keeps a snapshot and only the changes after it as the document; quarantined changes are not part of it', async () => {
      const store = await factory.open('a');
      await store.commit(mutation('s', 1, undefined));
      let meta = await store.getMeta(parseRecordId('s'));
      await store.commit(mutation('s', 2, meta, {}, new Uint8Array([9, 9])));
      meta = await store.getMeta(parseRecordId('s'));
      expect(meta).toMatchObject({ snapshotAt: 2, pending: 0 });
      const third = mutation('s', 3, meta);
      const bad = { ...entry(nodeA, 4, 's'), quarantined: 'does not apply' };
      await store.commit({ ...third, entries: [...third.entries, bad], clock: [[nodeA, { seq: 4, hash: chain(4) }]] });
      meta = await store.getMeta(parseRecordId('s'));
      expect((await store.documentParts(parseRecordId('s'), meta!)).map((c) => [...c])).toEqual([[9, 9], [3, 1, 2]]);
      // A document whose parts do not add up is reported, not loaded half.
      await expect(store.documentParts(parseRecordId('s'), { ...meta!, pending: 2 })).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
      await store.close();
    });

    it('loads a whole document adopted before anything was logged as its snapshot, after a reopen too', async () => {
      // A fresh subscriber adopts a record document before its log holds any entry: the
      // snapshot covers no log position (snapshotAt 0) and must still be read.
      let store = await factory.open('a');
      const adopted: RecordMeta = { state: { heads: ['h9'], maxOp: 9, actors: [], ops: {} }, view: view('w'), snapshotAt: 0, pending: 0 };
      await store.commit({ records: [{ id: 'w' as RecordId, before: undefined, after: adopted, snapshot: new Uint8Array([7, 7]), wholeDocument: true }], entries: [], clock: [] });
      await store.close();
      store = await factory.open();
      let meta = (await store.getMeta(parseRecordId('w')))!;
      expect(meta).toMatchObject({ snapshotAt: 0, snapshot: true, pending: 0 });
      expect((await store.documentParts(parseRecordId('w'), meta)).map((c) => [...c])).toEqual([[7, 7]]);
      // A later change follows the snapshot, and the flag stays with the record.
      await store.commit(mutation('w', 1, meta));
      meta = (await store.getMeta(parseRecordId('w')))!;
      expect((await store.documentParts(parseRecordId('w'), meta)).map((c) => [...c])).toEqual([[7, 7], [1, 1, 2]]);
      await store.close();
    });

    it('groups concurrent commits and acknowledges each once durable', async () => {
      const store = await factory.open('a');
      const commits = Array.from({ length: 50 }, (_, i) => store.commit(mutation(`r${i}`, i + 1, undefined)));
      const results = await Promise.all(commits);
      expect(results.map((r) => r[0]!.localSeq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(store.lastLocalSeq).toBe(50);
      const page1 = await store.listRecords({ limit: 20, includeDeleted: false });
      const page2 = await store.listRecords({ limit: 40, includeDeleted: false, after: page1.next! });
      expect(page1.views).toHaveLength(20);
      expect(page2.views).toHaveLength(30);
      expect(page2.next).toBeUndefined();
      await store.close();
    });

    it('tracks conflicted records and deleted counts through the indexes', async () => {
      const store = await factory.open('a');
      await store.commit(mutation('x', 1, undefined, { conflicts: ['title'] }));
      expect(store.recordCounts().conflicted).toBe(1);
      const before = await store.getMeta(parseRecordId('x'));
      await store.commit(mutation('x', 2, before, { deleted: true }));
      expect(store.recordCounts().conflicted).toBe(0);
      expect(store.recordCounts().live).toBe(0);
      expect((await store.listRecords({ limit: 10, includeDeleted: true })).views).toHaveLength(1);
      expect((await store.listRecords({ limit: 10, includeDeleted: false })).views).toHaveLength(0);
      await store.close();
    });

    it('lists the ids with history, one per record, also those held only as quarantined changes; pages resume', async () => {
      const store = await factory.open('a');
      // 'a-b' sorts before 'a' in history key order ('-' < '/'); 'ab' after: paging must follow key order.
      let seq = 0;
      for (const id of ['a', 'a-b', 'ab', 'b']) {
        await store.commit(mutation(id, ++seq, undefined));
        await store.commit(mutation(id, ++seq, await store.getMeta(parseRecordId(id))));
      }
      const bad = { ...entry(nodeA, ++seq, 'q'), quarantined: 'outside the scope' };
      await store.commit({ records: [], entries: [bad], clock: [[nodeA, { seq, hash: chain(seq) }]] });
      const all = await store.historyIds({ limit: 100 });
      expect([...all].sort()).toEqual(['a', 'a-b', 'ab', 'b', 'q']);
      const paged: string[] = [];
      for (let after: string | undefined; ;) {
        const page = await store.historyIds({ ...(after === undefined ? {} : { after }), limit: 2 });
        paged.push(...page);
        if (page.length < 2) break;
        after = page.at(-1);
      }
      expect(paged).toEqual(all);
      expect(await store.getMeta(parseRecordId('q'))).toBeUndefined();
      await store.close();
    });

    it('writes the index keys of reindexed views again, and nothing else', async () => {
      const store = await factory.open('a');
      await store.commit(mutation('x', 1, undefined, { conflicts: ['email'], territory: 'emea' }));
      const meta = (await store.getMeta(parseRecordId('x')))!;
      const conflicted = { gte: 'conflict/open/', lt: 'conflict/open0', limit: 10 };
      expect(await store.scanIndex(conflicted)).toEqual(['conflict/open/x']);
      const counts = store.recordCounts();
      await store.commit({ records: [], entries: [], clock: [], reindex: [meta.view], state: [['k', 1]] });
      expect(await store.scanIndex(conflicted)).toEqual(['conflict/open/x']);
      expect(await store.scanIndex({ gte: 'territory/emea/', lt: 'territory/emea0', limit: 10 })).toEqual(['territory/emea/x']);
      expect(store.recordCounts()).toEqual(counts);
      expect(await store.getMeta(parseRecordId('x'))).toEqual(meta);
      expect(await store.getState('k')).toBe(1);
      await store.close();
    });

    it('deletes a node-state key given undefined, in a commit and outside one, and keeps it deleted after a reopen', async () => {
      let store = await factory.open('a');
      await store.commit({ records: [], entries: [], clock: [], state: [['partial/x', true], ['partial/y', true], ['k', 1]] });
      await store.putState([['invite/1', { n: 1 }], ['invite/2', { n: 2 }]]);
      await store.commit({ records: [], entries: [], clock: [], state: [['partial/x', undefined], ['absent', undefined]] });
      await store.putState([['invite/1', undefined]]);
      await store.close();
      store = await factory.open();
      expect(await store.getState('partial/x')).toBeUndefined();
      expect(await store.stateEntries('partial/')).toEqual([['partial/y', true]]);
      expect(await store.stateEntries('invite/')).toEqual([['invite/2', { n: 2 }]]);
      expect(await store.getState('k')).toBe(1);
      await store.close();
    });

    it("keeps this node's own changes to an evicted record findable (history, awayIds) until the record is dropped", async () => {
      let store = await factory.open('a');
      const nodeB = parseNodeId('b');
      await store.commit(mutation('m', 1, undefined));
      const held = (await store.getMeta(parseRecordId('m')))!;
      await store.commit({ records: [{ id: 'm' as RecordId, before: held, after: { ...held, pending: held.pending + 1 } }], entries: [entry(nodeB, 1, 'm')], clock: [[nodeB, { seq: 1, hash: chain(1) }]] });
      await store.commit(mutation('n', 2, undefined));
      const [own, theirs] = await store.historyOf(parseRecordId('m'), 10);
      const n = (await store.getMeta(parseRecordId('n')))!;
      // 'm' leaves by an eviction of its stored history (the peer's entry becomes a stub);
      // 'n' leaves with a change of this node's own in the same batch.
      await store.commit({
        records: [], clock: [[nodeA, { seq: 3, hash: chain(3) }]], entries: [{ ...entry(nodeA, 3, 'n') }],
        evictions: [
          { id: 'm' as RecordId, before: (await store.getMeta(parseRecordId('m')))!, view: held.view, rewrite: [own!, { ...stubOf(theirs!), localSeq: theirs!.localSeq }] },
          { id: 'n' as RecordId, before: n, view: n.view, rewrite: await store.historyOf(parseRecordId('n'), 10) },
        ],
      });
      await store.close();
      store = await factory.open();
      expect(await store.getMeta(parseRecordId('m'))).toBeUndefined();
      expect((await store.historyOf(parseRecordId('m'), 10)).map((e) => [e.origin, e.seq])).toEqual([['a', 1]]);
      expect((await store.historyOf(parseRecordId('n'), 10)).map((e) => [e.origin, e.seq])).toEqual([['a', 2], ['a', 3]]);
      expect(await store.awayIds({ limit: 10 })).toEqual(['m', 'n']);
      expect(await store.awayIds({ limit: 1, after: 'm' })).toEqual(['n']);
      expect(await store.historyIds({ limit: 10 })).toEqual([]);
      await store.commit({ records: [], entries: [], clock: [], drop: [{ id: 'm' as RecordId, before: undefined, history: [own!.localSeq] }] });
      expect(await store.awayIds({ limit: 10 })).toEqual(['n']);
      expect(await store.historyOf(parseRecordId('m'), 10)).toEqual([]);
      await store.close();
    });

    it('truncates a log prefix with its index keys, keeps floors, the start and the numbering across a reopen', async () => {
      let store = await factory.open('a');
      await store.commit({ ...mutation('doc1', 1, undefined), records: [{ ...mutation('doc1', 1, undefined).records[0]!, snapshot: new Uint8Array([9]), wholeDocument: true }] });
      const one = await store.getMeta(parseRecordId('doc1'));
      await store.commit(mutation('doc1', 2, one, {}, new Uint8Array([8])));
      await store.commit(mutation('doc2', 3, undefined));
      const floorOf = (seq: number) => ({ seq, chain: chain(seq), sig: new Uint8Array(64).fill(seq), prev: chain(seq - 1), record: 'doc1', digest: chain(99) });
      expect(store.logStart).toBe(1);
      expect(store.floors.size).toBe(0);
      await store.commit({ records: [], entries: [], clock: [], truncate: { through: 2, entries: [1, 2].map((seq) => ({ origin: nodeA, seq, record: 'doc1' as RecordId, localSeq: seq })) }, floors: [[nodeA, floorOf(2)]] });
      expect(store.logStart).toBe(3);
      expect(store.floors.get('a')).toEqual(floorOf(2));
      // Gone from the log, the origin index and the history; the floor answers for its own seq only.
      expect((await store.readLog(1, 10, 1e6)).map((e) => e.seq)).toEqual([3]);
      expect(await store.localSeqOf('a', 1)).toBeUndefined();
      expect(await store.chainAt('a', 1)).toBeUndefined();
      expect(await store.chainAt('a', 2)).toBe(chain(2));
      expect(await store.historyOf(parseRecordId('doc1'), 10)).toEqual([]);
      expect((await store.documentParts(parseRecordId('doc1'), (await store.getMeta(parseRecordId('doc1')))!)).map((c) => [...c])).toEqual([[8]]);
      // A floor is only ever raised.
      await store.commit({ records: [], entries: [], clock: [], floors: [[nodeA, floorOf(1)]] });
      expect(store.floors.get('a')?.seq).toBe(2);
      // Everything truncated: positions are never reused, after a reopen too.
      await store.commit({ records: [], entries: [], clock: [], truncate: { through: 3, entries: [{ origin: nodeA, seq: 3, record: 'doc2' as RecordId, localSeq: 3 }] }, floors: [[nodeA, floorOf(3)]] });
      await store.close();
      store = await factory.open();
      expect(store.logStart).toBe(4);
      expect(store.lastLocalSeq).toBe(3);
      expect(store.floors.get('a')).toEqual(floorOf(3));
      expect(await store.readLog(1, 10, 1e6)).toEqual([]);
      const [next] = await store.commit(mutation('doc3', 4, undefined));
      expect(next!.localSeq).toBe(4);
      expect((await store.readLog(1, 10, 1e6)).map((e) => e.localSeq)).toEqual([4]);
      await store.close();
    });

    it('refuses use after close with ERR_CLOSED', async () => {
      const store = await factory.open('a');
      await store.close();
      let error: unknown;
      try {
        store.commit(mutation('y', 1, undefined));
      } catch (err) {
        error = err;
      }
      expect(hasCode(error, 'ERR_CLOSED')).toBe(true);
    });
  });
}
