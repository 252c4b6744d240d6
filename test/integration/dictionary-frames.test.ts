/**
 * Small frames deflated from the session dictionary, between real nodes on real sockets:
 * live edits reach a peer that accepts them as dictionary frames (decoded here from the
 * spec, not with the node's code) and a peer of the previous version as plain frames,
 * with identical changes; two nodes exchange edits in fewer bytes; trust statements go
 * compressed too; and a member's
 * dictionary bomb, or a dictionary frame before the handshake, closes only its own
 * connection. A peer whose hello names the stream encoding gets them on one deflate stream
 * (decoded here as one raw deflate stream, from the spec), in fewer bytes, with the same
 * changes; a bomb or a broken piece on a stream closes only that connection too.
 */
import { pack } from 'msgpackr';
import { deflateRawSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import { DICTIONARY_MARK, DICTIONARY_STREAM, DICTIONARY_WINDOW_BITS, rawPeer } from '../support/raw-peer.js';
import { Harness, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

const EDITS = 40;

async function seeded(nodeId: string): Promise<CrmNode> {
  const node = await h.open({ dataDir: await h.tempDir(), nodeId });
  await node.records.upsertMany(Array.from({ length: 5 }, (_, i) => ({ id: `cust-${i}`, fields: { name: `Customer ${i}`, company: 'Nova Labs GmbH', title: 'CTO' } })));
  return node;
}

const edit = (node: CrmNode, k: number) => node.records.update(`cust-${k % 5}`, { title: `VP Sales ${k}` });
const bytesIn = async (node: CrmNode) => (await node.status()).peers.reduce((sum, p) => sum + (p.stats?.bytesIn ?? 0), 0);
const totalBytes = (frames: Buffer[]) => frames.reduce((sum, frame) => sum + frame.length, 0);

type Peer = Awaited<ReturnType<typeof rawPeer>>;

/**
 * Two raw peers of `region`, each naming its own encodings, hold the seeded records; then
 * EDITS live edits on the region. Resolves with the frames of `changes` each peer received
 * for those edits.
 */
async function livePushes(region: CrmNode, compress: [string[], string[]]): Promise<{ peers: [Peer, Peer]; pushes: [Buffer[], Buffer[]] }> {
  const peers = [
    await rawPeer(region.url!, h.cluster.member('laptop-a'), { compress: compress[0], autoAck: true }),
    await rawPeer(region.url!, h.cluster.member('laptop-b'), { compress: compress[1], autoAck: true }),
  ] as [Peer, Peer];
  // Both hold the seeded records first: what follows is one live push per edit.
  for (const peer of peers) await expect.poll(() => peer.changesOf('cust-4').length, { timeout: 10_000 }).toBe(1);
  const before = peers.map((peer) => peer.frames.length);
  for (let k = 0; k < EDITS; k++) await edit(region, k);
  const expected = 1 + Math.ceil(EDITS / 5);
  for (const peer of peers) await expect.poll(() => peer.changesOf(`cust-${(EDITS - 1) % 5}`).length, { timeout: 10_000 }).toBe(expected);
  const pushes = peers.map((peer, p) => peer.frames.slice(before[p]).filter((_, i) => peer.received[before[p]! + i]!.type === 'changes')) as [Buffer[], Buffer[]];
  for (const peer of peers) expect(peer.received.some((m) => m.type === '(undecodable)')).toBe(false);
  for (let i = 0; i < 5; i++) expect(peers[0].changesOf(`cust-${i}`)).toEqual(peers[1].changesOf(`cust-${i}`));
  return { peers, pushes };
}

describe('dictionary frames', () => {
  it('carry live edits to a peer that accepts them, the same changes as plain frames to a peer of the previous version', async () => {
    const region = await seeded('region-a');
    const { peers, pushes: [compressed, plain] } = await livePushes(region, [['deflate-raw', 'deflate-raw-dict-1'], ['deflate-raw']]);
    expect(compressed.length).toBeGreaterThanOrEqual(EDITS);
    expect(compressed.every((frame) => frame[0] === DICTIONARY_MARK)).toBe(true);
    expect(plain.every((frame) => frame[0] !== DICTIONARY_MARK)).toBe(true);
    expect(totalBytes(compressed)).toBeLessThan(totalBytes(plain) * 0.8);
    for (const peer of peers) peer.ws.terminate();
  });

  it('two nodes exchange edits and their acks in fewer bytes than the plain frames', async () => {
    const region = await seeded('region-a');
    const old = await rawPeer(region.url!, h.cluster.member('laptop-old'), { autoAck: true });
    const laptop = await h.open({ dataDir: await h.tempDir(), nodeId: 'laptop-1', peers: [region.url!] });
    await waitForConvergence([region, laptop]);
    const from = old.frames.length;
    const before = await bytesIn(laptop);
    for (let k = 0; k < EDITS; k++) await edit(region, k);
    await waitForConvergence([region, laptop]);
    expect((await laptop.records.get(`cust-${(EDITS - 1) % 5}`))?.title).toBe(`VP Sales ${EDITS - 1}`);
    await expect.poll(() => old.changesOf(`cust-${(EDITS - 1) % 5}`).length, { timeout: 10_000 }).toBe(1 + Math.ceil(EDITS / 5));
    const plain = old.frames.slice(from).filter((_, i) => old.received[from + i]!.type === 'changes').reduce((sum, frame) => sum + frame.length, 0);
    expect(await bytesIn(laptop) - before).toBeLessThan(plain * 0.8);
    old.ws.terminate();
  });

  it('send the trust statements a peer lacks compressed too', async () => {
    const region = await seeded('region-a');
    // Its open names no trust digest: the region sends all its statements.
    const peer = await rawPeer(region.url!, h.cluster.member('laptop-new'), { compress: ['deflate-raw', 'deflate-raw-dict-1'] });
    const trust = await peer.next((m) => m.type === 'trust');
    const frame = peer.frames[peer.received.indexOf(trust)]!;
    expect(frame[0]).toBe(DICTIONARY_MARK);
    expect((trust.statements as unknown[]).length).toBeGreaterThan(0);
    expect(frame.length).toBeLessThan(pack({ type: 'trust', statements: trust.statements }).length * 0.8);
    // A peer that accepts no encoding gets them plain.
    const plain = await rawPeer(region.url!, h.cluster.member('laptop-old'));
    const plainTrust = await plain.next((m) => m.type === 'trust');
    expect(plain.frames[plain.received.indexOf(plainTrust)]![0]).not.toBe(DICTIONARY_MARK);
    peer.ws.terminate();
    plain.ws.terminate();
  });

  it("a member's dictionary bomb closes its own connection, and so does a dictionary frame before the handshake", async () => {
    const region = await seeded('region-a');
    const laptop = await h.open({ dataDir: await h.tempDir(), nodeId: 'laptop-1', peers: [region.url!] });
    await waitForConvergence([region, laptop]);
    const mallory = await rawPeer(region.url!, h.cluster.member('mallory'), { compress: ['deflate-raw-dict-1'] });
    // 64 MiB of zeros in a few dozen kilobytes: past maxFrameBytes once inflated.
    const bomb = deflateRawSync(Buffer.alloc(64 << 20), { dictionary: mallory.dictionary()!, windowBits: DICTIONARY_WINDOW_BITS });
    mallory.sendRaw(Buffer.concat([Buffer.from([DICTIONARY_MARK]), bomb]));
    expect((await mallory.closed).code).toBe(1009);

    const early = await rawPeer(region.url!, h.cluster.member('mallory-2'), { handshake: false });
    early.sendRaw(Buffer.concat([Buffer.from([DICTIONARY_MARK]), deflateRawSync(pack({ type: 'hello' }))]));
    expect((await early.closed).code).toBe(1002);

    // The region goes on: an edit on it reaches the laptop.
    await region.records.update('cust-1', { stage: 'won' });
    await expect.poll(async () => (await laptop.records.get('cust-1'))?.stage, { timeout: 10_000 }).toBe('won');
  });

  it('go on one stream to a peer whose hello names it: the same changes as per-frame dictionary frames, in fewer bytes', async () => {
    const region = await seeded('region-a');
    const { peers, pushes: [onStream, perFrame] } = await livePushes(region, [['deflate-raw', 'deflate-raw-dict-1', DICTIONARY_STREAM], ['deflate-raw', 'deflate-raw-dict-1']]);
    expect(onStream.length).toBeGreaterThanOrEqual(EDITS);
    expect(onStream.every((frame) => frame[0] === DICTIONARY_MARK)).toBe(true);
    expect(totalBytes(onStream)).toBeLessThan(totalBytes(perFrame) * 0.9);
    for (const peer of peers) peer.ws.terminate();
  });

  it("a member's bomb or broken piece on a stream closes its own connection; the region goes on", async () => {
    const region = await seeded('region-a');
    const laptop = await h.open({ dataDir: await h.tempDir(), nodeId: 'laptop-1', peers: [region.url!] });
    await waitForConvergence([region, laptop]);
    const streamOf = ['deflate-raw-dict-1', DICTIONARY_STREAM];
    const bomber = await rawPeer(region.url!, h.cluster.member('mallory'), { compress: streamOf });
    bomber.sendRaw(Buffer.concat([Buffer.from([DICTIONARY_MARK]), deflateRawSync(Buffer.alloc(64 << 20), { dictionary: bomber.dictionary()!, windowBits: DICTIONARY_WINDOW_BITS })]));
    expect((await bomber.closed).code).toBe(1009);

    const breaker = await rawPeer(region.url!, h.cluster.member('mallory-2'), { compress: streamOf });
    breaker.sendRaw(Buffer.concat([Buffer.from([DICTIONARY_MARK]), Buffer.from('not the next piece of any deflate stream')]));
    expect((await breaker.closed).code).toBe(1002);

    await region.records.update('cust-2', { stage: 'won' });
    await expect.poll(async () => (await laptop.records.get('cust-2'))?.stage, { timeout: 10_000 }).toBe('won');
  });
});
