/**
 * Deflated frames between real nodes on real sockets: a node catching up from another
 * gets its batches deflated (the records identical, the bytes a fraction); a peer whose
 * hello does not accept them (a node of the previous version) never gets one; and a
 * member's deflated bomb closes only its own connection.
 */
import { pack } from 'msgpackr';
import { deflateRawSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import { rawPeer } from '../support/raw-peer.js';
import { Harness, listAll, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

const RECORDS = 300;

async function loaded(nodeId: string): Promise<CrmNode> {
  const node = await h.open({ dataDir: await h.tempDir(), nodeId });
  const items = Array.from({ length: RECORDS }, (_, i) => ({
    id: `cust-${i}`,
    fields: { name: `Customer ${i}`, company: `Company ${i % 17} GmbH`, territory: ['north', 'south'][i % 2]!, stage: 'lead' as const, notes: `called about the renewal, follow up ${i}` },
  }));
  await node.records.upsertMany(items);
  return node;
}

const bytesIn = async (node: CrmNode) => (await node.status()).peers.reduce((sum, p) => sum + (p.stats?.bytesIn ?? 0), 0);

describe('deflated frames', () => {
  it('a catch-up arrives deflated to a node, plain to a peer of the previous version, and the records are identical', async () => {
    const region = await loaded('region-a');
    // A peer whose hello names no encoding, as nodes before deflated frames: plain batches.
    const old = await rawPeer(region.url!, h.cluster.member('old-node'), { autoAck: true });
    const laptop = await h.open({ dataDir: await h.tempDir(), nodeId: 'laptop-1', peers: [region.url!] });
    await waitForConvergence([region, laptop]);
    expect(await listAll(laptop)).toEqual(await listAll(region));
    await expect.poll(() => old.changesOf(`cust-${RECORDS - 1}`).length, { timeout: 10_000 }).toBe(1);
    expect(old.received.map((m) => m.type)).not.toContain('deflated');
    const plainBytes = old.received.reduce((sum, m, i) => sum + (m.type === 'changes' ? old.frames[i]!.length : 0), 0);
    // The laptop's whole intake (handshake and acks included) against the batches alone, plain.
    expect(await bytesIn(laptop)).toBeLessThan(plainBytes / 2);
    old.ws.terminate();
  });

  it("a member's deflated bomb closes its own connection and nothing else", async () => {
    const region = await loaded('region-a');
    const laptop = await h.open({ dataDir: await h.tempDir(), nodeId: 'laptop-1', peers: [region.url!] });
    await waitForConvergence([region, laptop]);
    const mallory = await rawPeer(region.url!, h.cluster.member('mallory'), { compress: ['deflate-raw'] });
    // 64 MiB of zeros in a few dozen kilobytes: past maxFrameBytes once inflated.
    mallory.sendRaw(pack({ type: 'deflated', data: deflateRawSync(Buffer.alloc(64 << 20)) }));
    const closed = await mallory.closed;
    expect(closed.code).toBe(1009);
    // The region goes on: an edit on it reaches the laptop.
    await region.records.update('cust-1', { stage: 'won' });
    await expect.poll(async () => (await laptop.records.get('cust-1'))?.stage, { timeout: 10_000 }).toBe('won');
  });
});
