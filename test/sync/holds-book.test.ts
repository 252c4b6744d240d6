/**
 * The book of member holds reports (src/node-holds.ts) on a real LevelDB store: it keeps
 * the newest report per active member, none about itself from others, none from beyond
 * the clock skew; it signs its own only when its holdings changed; it hands out each
 * fresh report once; and it remembers them across a reopen.
 */
import { Level } from 'level';
import { afterAll, describe, expect, it } from 'vitest';
import type { OriginClock } from '../../src/crdt/origin-clock.js';
import { HoldsBook, type HoldsSigner } from '../../src/node-holds.js';
import { openLevelStore } from '../../src/store/level-store.js';
import { holdsSigningInput, type HoldsReport } from '../../src/sync/messages.js';
import { generateNodeKeys, SignatureVerifier } from '../../src/trust/keys.js';
import { parseNodeId } from '../../src/types.js';
import { tempDirs } from '../support/temp-dirs.js';

const dirs = tempDirs('crmsync-holds-');
afterAll(() => dirs.cleanup());

const CLUSTER = 'cluster-1';
const KEY = 'ed25519:' + 'A'.repeat(43);
const keys = generateNodeKeys();
const members = new Set(['me', 'b', 'c']);
const signer: HoldsSigner = { cluster: CLUSTER, sign: (data) => keys.sign(data), isMember: (node) => members.has(node) };
const report = (node: string, at: number, seq: number): HoldsReport => ({ node, at, clock: [['me', seq]], sig: new Uint8Array(64).fill(node.length) });
const heads = (seq: number): OriginClock => new Map([['me', { seq, hash: Buffer.alloc(32, seq).toString('hex') }]]);

async function open(dir: string, now: () => number) {
  const store = await openLevelStore(new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' }), {
    createIdentity: () => ({ nodeId: parseNodeId('me'), key: KEY, founder: KEY }), logTailSize: 8, groupCommitMax: 16,
  });
  const book = await HoldsBook.open({ store, trust: signer, self: parseNodeId('me'), maxSkewMs: 1_000, now });
  return { store, book };
}

describe('the holds book', () => {
  it('keeps the newest report per active member, never one about itself, none from beyond the skew', async () => {
    const { store, book } = await open(await dirs.make(), () => 10_000);
    book.receive([report('b', 100, 3), report('b', 50, 9), report('c', 100, 2), report('me', 100, 99), report('stranger', 100, 5), report('c', 11_001, 7)]);
    expect(book.clocks()).toEqual([['b', new Map([['me', 3]])], ['c', new Map([['me', 2]])]]);
    expect(book.takeFresh().map((r) => [r.node, r.at])).toEqual([['b', 100], ['c', 100]]);
    expect(book.takeFresh()).toEqual([]);
    book.receive([report('b', 200, 4)]);
    expect(book.takeFresh().map((r) => [r.node, r.at])).toEqual([['b', 200]]);
    // A peer's summary: it gets what is newer or missing there, nothing it has.
    expect(book.summary()).toEqual([['b', 200], ['c', 100]]);
    expect(book.newerThan([['b', 200]]).map((r) => [r.node, r.at])).toEqual([['c', 100]]);
    expect(book.newerThan([['b', 150], ['c', 100]]).map((r) => [r.node, r.at])).toEqual([['b', 200]]);
    // A member revoked meanwhile counts no more.
    members.delete('c');
    expect(book.clocks().map(([node]) => node)).toEqual(['b']);
    members.add('c');
    await store.close();
  });

  it('signs its own report when its holdings changed, verifiable by its key, and keeps everything across a reopen', async () => {
    const dir = await dirs.make();
    let time = 1_000;
    let { store, book } = await open(dir, () => time);
    book.signOwn(heads(2));
    const [own] = book.takeFresh();
    expect(own).toMatchObject({ node: 'me', at: 1_000, clock: [['me', 2]] });
    expect(new SignatureVerifier().verify(keys.publicKey, holdsSigningInput(CLUSTER, own!), own!.sig)).toBe(true);
    book.signOwn(heads(2));
    expect(book.takeFresh()).toEqual([]); // unchanged: nothing new to sign or send
    book.signOwn(heads(3));
    const [next] = book.takeFresh();
    expect(next!.at).toBe(1_001); // newer than the last even when the clock did not move
    book.receive([report('b', 500, 3)]);
    await book.save();
    await store.close();

    time = 2_000;
    ({ store, book } = await open(dir, () => time));
    expect(book.all().map((r) => [r.node, r.at])).toEqual([['me', 1_001], ['b', 500]]);
    expect(Buffer.from(book.all()[0]!.sig)).toEqual(Buffer.from(next!.sig));
    expect(book.clocks()).toEqual([['b', new Map([['me', 3]])]]);
    await store.close();
  });

  it('drops reports kept in the first format (lines with chain hashes): they would not verify anywhere', async () => {
    const dir = await dirs.make();
    let { store } = await open(dir, () => 1_000);
    const old = { node: 'b', at: 5, clock: [['me', 3, new Uint8Array(32)]], sig: new Uint8Array(64) };
    await store.putState([['lifecycle/reports', { b: old }]]);
    await store.close();
    let book: HoldsBook;
    ({ store, book } = await open(dir, () => 1_000));
    expect(book.all()).toEqual([]);
    expect(await store.getState('lifecycle/reports')).toBeUndefined();
    await store.close();
  });
});
