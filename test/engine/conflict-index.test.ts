/**
 * The conflict index migration (engine/conflict-index.ts) against real LevelDB in temp
 * dirs: a data directory whose conflicted records lack their index keys (as one written
 * before the index existed) is indexed a page at a time; stopping after a page and
 * reopening resumes after it; a finished directory is never scanned again; writes and
 * purges running alongside leave the index exactly the conflicted records.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CONFLICT_INDEX_KEY, conflictIndexPages, indexConflicts } from '../../src/engine/conflict-index.js';
import { purgeRecords } from '../../src/engine/purge.js';
import type { Store } from '../../src/store/store.js';
import { parseRecordId } from '../../src/types.js';
import { tempDirs } from '../support/temp-dirs.js';
import { level, metaOf, openAt, put } from './store-writer.js';

const dirs = tempDirs('crmsync-conflict-index-');
afterAll(() => dirs.cleanup());

/** A data directory as one written before the conflict index: records stored, no conflict keys, no progress. */
async function oldDataDir(records: [id: string, conflicts: string[]][]): Promise<string> {
  const dir = await dirs.make();
  const { writer, store, close } = await openAt(dir);
  for (const [id, conflicts] of records) await put(writer, id, metaOf(id, conflicts));
  // A scan writes the index keys still waiting (store/index-backlog.ts): then every key is
  // there for forgetIndex to delete, as in a directory written before the backlog existed.
  await store.scanIndex({ gte: 'updated/', lt: 'updated0', limit: 1 });
  await close();
  await forgetIndex(dir, { progress: true });
  return dir;
}

/** Deletes every conflict index key (and the progress, if asked) directly in LevelDB. */
async function forgetIndex(dir: string, options: { progress: boolean }): Promise<void> {
  const db = level(dir);
  const idx = db.sublevel<string, Uint8Array>('idx', { keyEncoding: 'utf8', valueEncoding: 'view' });
  for (const key of await idx.keys({ gte: 'conflict/', lt: 'conflict0' }).all()) await idx.del(key);
  if (options.progress) await db.sublevel<string, Uint8Array>('state', { keyEncoding: 'utf8', valueEncoding: 'view' }).del(CONFLICT_INDEX_KEY);
  await db.close();
}

const indexed = async (store: Store) => (await store.scanIndex({ gte: 'conflict/open/', lt: 'conflict/open0', limit: 1000 })).map((k) => k.slice('conflict/open/'.length));

const TEN: [string, string[]][] = Array.from({ length: 10 }, (_, i) => [`r${i}`, [1, 2, 5, 8, 9].includes(i) ? ['email'] : []]);

describe('conflict index migration', () => {
  it('indexes a page at a time; stopped after a page, the next open resumes after it; a finished directory is not scanned again', async () => {
    const dir = await oldDataDir(TEN);
    let open = await openAt(dir);
    expect(await indexed(open.store)).toEqual([]);
    const pages = conflictIndexPages(open.store, open.writer, 4);
    expect((await pages.next()).value).toEqual({ scanned: 4, indexed: 2, done: false });
    await pages.return(undefined); // the process stops here, as a crash after a durable page would
    expect(await open.store.getState(CONFLICT_INDEX_KEY)).toEqual({ after: 'r3' });
    expect(await indexed(open.store)).toEqual(['r1', 'r2']);
    await open.close();

    open = await openAt(dir);
    expect(await indexConflicts(open.store, open.writer, 4)).toEqual({ ran: true, done: true, scanned: 6, indexed: 3 });
    expect(await indexed(open.store)).toEqual(['r1', 'r2', 'r5', 'r8', 'r9']);
    expect(await open.store.getState(CONFLICT_INDEX_KEY)).toEqual({ done: true });
    await open.close();

    // Done: the keys are gone again, but nothing is read to find them.
    await forgetIndex(dir, { progress: false });
    open = await openAt(dir);
    expect(await indexConflicts(open.store, open.writer, 4)).toEqual({ ran: false, done: true, scanned: 0, indexed: 0 });
    expect(await indexed(open.store)).toEqual([]);
    await open.close();
  });

  it('stops between pages when aborted, and refuses a progress value it never writes with ERR_CORRUPT', async () => {
    const dir = await oldDataDir(TEN);
    const open = await openAt(dir);
    const abort = new AbortController();
    abort.abort();
    expect(await indexConflicts(open.store, open.writer, 3, abort.signal)).toEqual({ ran: true, done: false, scanned: 3, indexed: 2 });
    await open.store.putState([[CONFLICT_INDEX_KEY, { after: 7 }]]);
    await expect(indexConflicts(open.store, open.writer, 3)).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
    await open.close();
  });

  it('leaves exactly the conflicted records indexed when writes and purges run alongside', async () => {
    const records: [string, string[]][] = Array.from({ length: 60 }, (_, i) => [`r${String(i).padStart(2, '0')}`, i % 2 === 0 ? ['email'] : []]);
    const dir = await oldDataDir(records);
    const { store, writer, close } = await openAt(dir);
    const migration = indexConflicts(store, writer, 3);
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 60; i++) {
      const id = `r${String(i).padStart(2, '0')}`;
      // Resolve some, make others conflicted, rewrite some still conflicted, erase some (of both kinds).
      if (i % 5 === 0) writes.push(put(writer, id, metaOf(id, [], 'h2')));
      else if (i % 5 === 1) writes.push(put(writer, id, metaOf(id, ['phone'], 'h2')));
      else if (i % 5 === 2) writes.push(put(writer, id, metaOf(id, ['email', 'phone'], 'h2')));
      else if (i % 5 === 3) writes.push(purgeRecords(writer, store, [parseRecordId(id)], [], { redact: true }));
      await Promise.resolve(); // let the migration take its turn between writes
    }
    await Promise.all(writes);
    expect(await migration).toMatchObject({ ran: true, done: true });
    const expected: string[] = [];
    for (const [id] of records) if (((await store.getMeta(parseRecordId(id)))?.view.conflicts.length ?? 0) > 0) expected.push(id);
    expect(await indexed(store)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(20);
    await close();
  });

  it('does not give a record purged while its page is read its keys back', async () => {
    const dir = await oldDataDir([['gone', ['email']], ['kept', ['email']]]);
    const { store, writer, close } = await openAt(dir);
    // The purge takes the lock first; the page, listed before the purge is durable, comes right after it.
    const purge = purgeRecords(writer, store, [parseRecordId('gone')], [], { redact: true });
    const page = conflictIndexPages(store, writer, 10).next();
    await purge;
    expect((await page).value).toEqual({ scanned: 2, indexed: 1, done: true });
    expect(await store.getMeta(parseRecordId('gone'))).toBeUndefined();
    expect(await indexed(store)).toEqual(['kept']);
    await close();
  });
});
