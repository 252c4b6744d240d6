/**
 * Cumulative acks (protocol.ts invariant 9) between real nodes and scripted peers on real
 * sockets: a peer whose hello names them gets one ack for several batches, the last one
 * covering all; a lost frame (a batch number skipped) is answered with a resync and
 * nothing of it is taken; a peer that does not name them (a build before them) still gets
 * an ack per batch; and two nodes exchanging edits send fewer acks than frames.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { atomic, MemberDocs } from '../support/member-docs.js';
import { rawPeer } from '../support/raw-peer.js';
import { Harness, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

const BATCHES = 12;

function writes(peer: Awaited<ReturnType<typeof rawPeer>>, docs: MemberDocs, from: number, count: number) {
  return Array.from({ length: count }, (_, i) => {
    const record = `w-${from + i}`;
    return peer.entries([{ record, change: docs.write(record, (d) => { d.id = atomic(record); d.name = atomic(`Written ${from + i}`); d.createdAt = 1; d.updatedAt = 1; }) }]);
  });
}

const acksOf = (peer: Awaited<ReturnType<typeof rawPeer>>) => peer.received.filter((m) => m.type === 'ack');

describe('cumulative acks', () => {
  it('cover several batches for a peer that names them, and every batch for one that does not', async () => {
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a' });
    const current = await rawPeer(a.url!, h.cluster.member('writer'), { features: ['cumulative-acks'] });
    const older = await rawPeer(a.url!, h.cluster.member('older'));
    const currentDocs = new MemberDocs('writer');
    const olderDocs = new MemberDocs('older');
    const currentBatches = writes(current, currentDocs, 0, BATCHES).map((entries) => current.sendChanges(entries));
    const olderBatches = writes(older, olderDocs, 100, BATCHES).map((entries) => older.sendChanges(entries));
    const last = await current.next((m) => m.type === 'ack' && m.batch === currentBatches[BATCHES - 1]);
    // The last ack names the origin up to its last entry: it covers every batch before it.
    expect((last.clock as [string, number][]).map(([origin, seq]) => [origin, seq])).toContainEqual(['writer', BATCHES]);
    await older.next((m) => m.type === 'ack' && m.batch === olderBatches[BATCHES - 1]);
    expect(acksOf(current).length).toBeLessThan(BATCHES);
    expect(acksOf(older).map((m) => m.batch)).toEqual(olderBatches);
    expect((await a.records.list({ limit: 1000 })).records).toHaveLength(2 * BATCHES);
  });

  it('come for every batch to a peer whose open names a window of one, so it never waits for the delay', async () => {
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a' });
    const peer = await rawPeer(a.url!, h.cluster.member('writer'), { features: ['cumulative-acks'], window: 1 });
    const docs = new MemberDocs('writer');
    // Sent at once, they become durable within the delay: still one ack each, as soon as each is durable.
    const batches = writes(peer, docs, 0, 6).map((entries) => peer.sendChanges(entries));
    await peer.next((m) => m.type === 'ack' && m.batch === batches[5], 5_000);
    expect(acksOf(peer).map((m) => m.batch)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('answer a skipped batch number (a lost frame) with a resync, and take nothing of that frame', async () => {
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a' });
    const peer = await rawPeer(a.url!, h.cluster.member('writer'), { features: ['cumulative-acks'] });
    const docs = new MemberDocs('writer');
    const [first, second, third] = writes(peer, docs, 0, 3);
    peer.sendChanges(first!);
    peer.sendChanges(second!);
    // Batch 3 never arrives; batch 4 carries the third write.
    peer.sendRaw(Buffer.from((await import('msgpackr')).pack({ type: 'changes', epoch: 0, batch: 4, entries: third })));
    const resync = await peer.next((m) => m.type === 'resync');
    expect(resync.epoch).toBe(1);
    // The resync's clock is what is durable: the second write may still have been on its way to disk.
    const held = (resync.clock as [string, number][]).find(([origin]) => origin === 'writer')?.[1];
    expect(held === 1 || held === 2).toBe(true);
    expect(await a.records.get('w-2')).toBeUndefined();
    // The stream restarts in the new epoch, from any batch number: taken and acked.
    peer.send({ type: 'changes', epoch: 1, batch: 5, entries: third });
    await peer.next((m) => m.type === 'ack' && m.batch === 5);
    expect((await a.records.get('w-2'))?.name).toBe('Written 2');
  });

  it('two nodes exchanging edits send fewer acks than change frames', async () => {
    const region = await h.open({ dataDir: await h.tempDir(), nodeId: 'region-a' });
    const laptop = await h.open({ dataDir: await h.tempDir(), nodeId: 'laptop-1', peers: [region.url!] });
    await region.records.upsertMany(Array.from({ length: 5 }, (_, i) => ({ id: `cust-${i}`, fields: { name: `Customer ${i}` } })));
    await waitForConvergence([region, laptop]);
    const framesOut = async () => (await laptop.status()).peers.reduce((sum, p) => sum + (p.stats?.framesOut ?? 0), 0);
    const before = await framesOut();
    // Edits in quick succession, not awaited one by one: several frames become durable together.
    await Promise.all(Array.from({ length: 40 }, (_, k) => region.records.update(`cust-${k % 5}`, { title: `T${k}` })));
    await waitForConvergence([region, laptop]);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the last ack's delay
    const regionOut = (await region.status()).peers.reduce((sum, p) => sum + (p.stats?.framesOut ?? 0), 0);
    expect(regionOut).toBeGreaterThan(0);
    const changesIn = (await laptop.status()).peers.reduce((sum, p) => sum + (p.stats?.changesIn ?? 0), 0);
    expect(changesIn).toBeGreaterThanOrEqual(40);
    expect(await framesOut() - before).toBeLessThan(40);
    expect((await laptop.records.get('cust-4'))?.title).toBe((await region.records.get('cust-4'))?.title);
  });
});
