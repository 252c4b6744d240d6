import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { MemoryLevel } from 'memory-level';
import { afterAll, describe, expect, it } from 'vitest';
import { openLevelStore } from '../../src/store/level-store.js';
import { parseNodeId } from '../../src/types.js';
import { hasCode } from '../../src/errors.js';
import { createValueCodec } from '../../src/store/codec.js';
import { chain, mutation, runStoreConformance } from './store-conformance.js';
import { tempDirs } from '../support/temp-dirs.js';

const KEY = 'ed25519:' + 'A'.repeat(43);
const options = (nodeId?: string) => ({
  createIdentity: () => ({ nodeId: parseNodeId(nodeId ?? 'generated'), key: KEY, founder: KEY }),
  logTailSize: 8,
  groupCommitMax: 16,
});

const dirs = tempDirs('crmsync-store-');
afterAll(() => dirs.cleanup());

// Each test gets a fresh database: a new factory per `it` would need hooks, so the
// factory hands out a new database whenever the previous one was opened with a node id.
function diskFactory() {
  let dir = '';
  return {
    async open(nodeId?: string) {
      if (nodeId === 'a' || dir === '') dir = await dirs.make();
      return openLevelStore(new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' }), options(nodeId));
    },
  };
}

function memoryFactory() {
  let db: MemoryLevel<string, Uint8Array> | undefined;
  return {
    async open(nodeId?: string) {
      if (nodeId === 'a' || !db) db = new MemoryLevel<string, Uint8Array>({ keyEncoding: 'utf8', valueEncoding: 'view' });
      return openLevelStore(db, options(nodeId));
    },
  };
}

runStoreConformance('classic-level on disk', diskFactory());
runStoreConformance('memory-level', memoryFactory());

describe('LevelStore on disk', () => {
  it('refuses a second process-level open of a locked directory with ERR_LOCKED', async () => {
    const dir = await dirs.make();
    const first = await openLevelStore(new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' }), options('a'));
    let error: unknown;
    await openLevelStore(new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' }), options('a')).catch((err) => (error = err));
    expect(hasCode(error, 'ERR_LOCKED')).toBe(true);
    await first.close();
  });

  it('runs no read during a compaction: a read that starts meanwhile waits for it', async () => {
    const dir = await dirs.make();
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const store = await openLevelStore(db, options('a'));
    type Compact = (start: string, end: string) => Promise<void>;
    const patchable = db as unknown as { compactRange: Compact };
    const real = patchable.compactRange.bind(db);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started = false;
    patchable.compactRange = async (start, end) => {
      started = true;
      await held;
      return real(start, end);
    };
    const compaction = store.compact();
    await expect.poll(() => started).toBe(true);
    let readDone = false;
    const read = store.getState('x').then(() => (readDone = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(readDone).toBe(false);
    release();
    await compaction;
    await read;
    expect(readDone).toBe(true);
    await store.close();
  });

  it('leaves no deleted value in any file after a compaction, while reads keep starting', async () => {
    const dir = await dirs.make();
    const store = await openLevelStore(new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' }), options('a'));
    const secret = 'ERASE-ME-' + 'q'.repeat(40);
    // Enough data that the compaction takes a while (tens of milliseconds).
    for (let page = 0; page < 20; page++) {
      await store.putState(Array.from({ length: 1_000 }, (_, i): [string, unknown] => [`filler/${page}/${i}`, `value ${i} `.repeat(10)]));
    }
    await store.putState([['secret', secret]]);
    await store.compact();
    await store.putState([['secret', undefined]]);
    // Readers that keep starting while the compaction runs (the erasure test saw this on a
    // node that was syncing): each would hold the files that list the old value.
    let reading = true;
    const readers = Array.from({ length: 4 }, async () => {
      while (reading) await store.stateEntries('filler/0/1');
    });
    await store.compact();
    reading = false;
    await Promise.all(readers);
    const files = (await readdir(dir)).filter((name) => /\.(ldb|log)$/.test(name));
    const holding: string[] = [];
    for (const name of files) if ((await readFile(join(dir, name))).includes(secret)) holding.push(name);
    expect(holding).toEqual([]);
    expect(await store.getState('secret')).toBeUndefined();
    await store.close();
  });

  it('reads a chain hash from an origin index value of schema 2 ({ l, h }) as from one of schema 3', async () => {
    const db = new MemoryLevel<string, Uint8Array>({ keyEncoding: 'utf8', valueEncoding: 'view' });
    let store = await openLevelStore(db, options('a'));
    for (let seq = 1; seq <= 3; seq++) await store.commit(mutation(`doc${seq}`, seq, undefined));
    await store.close();
    const codec = createValueCodec();
    const origin = db.sublevel<string, Uint8Array>('origin', { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.open();
    const l = codec.unpack<number>((await origin.get('a/000000000002'))!);
    expect(typeof l).toBe('number');
    await origin.put('a/000000000002', codec.pack({ l, h: Buffer.from(chain(2), 'hex') }));
    await db.close();
    store = await openLevelStore(db, options());
    expect(await store.chainAt('a', 2)).toBe(chain(2)); // schema 2's value
    expect(await store.chainAt('a', 3)).toBe(chain(3)); // schema 3's
    expect(await store.localSeqOf('a', 2)).toBe(l);
    expect((await store.entriesAt([{ origin: 'a', seq: 2 }]))[0]?.record).toBe('doc2');
    await store.close();
  });
});
