/**
 * Attacks on the flow of record documents (src/sync/doc-pacer.ts), over real sockets with
 * a scripted peer: a peer that asks for documents (`want`) faster than it takes them is
 * closed with 1008 once more than maxQueuedWants questions wait, and the documents it
 * did get are paced by marks it must answer; malformed marks are a protocol error (1002);
 * a `marked` nobody asked for changes nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FIXED } from '../../src/limits.js';
import { DOCS_PER_MARK, MARKS_AHEAD } from '../../src/sync/doc-pacer.js';
import { rawPeer } from '../support/raw-peer.js';
import { Harness } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

async function regionWith(records: number) {
  const region = await h.open({ dataDir: await h.tempDir(), nodeId: 'region' });
  for (let i = 0; i < records; i++) await region.records.create({ id: `c-${i}`, name: `Customer ${i}` });
  return region;
}

describe('attacks on the flow of record documents', () => {
  it('sends a few marks\' worth of documents to a peer that answers no mark, then waits', async () => {
    const region = await regionWith(100);
    const mallory = await rawPeer(region.url!, h.cluster.member('mallory'));
    mallory.send({ type: 'want', ids: Array.from({ length: 100 }, (_, i) => `c-${i}`) });
    await mallory.next((m) => m.type === 'mark' && m.n === MARKS_AHEAD + 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const documents = () => mallory.received.filter((m) => m.type === 'record').length;
    expect(documents()).toBe(DOCS_PER_MARK * (MARKS_AHEAD + 1));
    // Answering the first mark lets the next batch go.
    mallory.send({ type: 'marked', n: 1 });
    await mallory.next((m) => m.type === 'mark' && m.n === MARKS_AHEAD + 2);
    expect(documents()).toBe(DOCS_PER_MARK * (MARKS_AHEAD + 2));
    expect((await region.status()).peers.find((p) => p.node === 'mallory')?.state).toBe('connected');
  });

  it(`closes a peer with 1008 once more than maxQueuedWants (${FIXED.maxQueuedWants}) wants wait for their answers`, async () => {
    const region = await regionWith(80);
    const mallory = await rawPeer(region.url!, h.cluster.member('mallory'));
    for (let i = 0; i <= FIXED.maxQueuedWants; i++) mallory.send({ type: 'want', ids: Array.from({ length: 80 }, (_, j) => `c-${j}`) });
    expect((await mallory.closed).code).toBe(1008);
    expect((await region.status()).records.live).toBe(80);
  });

  it('refuses malformed marks (1002); an unasked `marked` changes nothing', async () => {
    const region = await regionWith(1);
    for (const bad of [{ type: 'mark', n: 0 }, { type: 'mark', n: 'one' }, { type: 'marked' }, { type: 'marked', n: -1 }]) {
      const mallory = await rawPeer(region.url!, h.cluster.member('mallory'));
      mallory.send(bad);
      expect((await mallory.closed).code, JSON.stringify(bad)).toBe(1002);
    }
    const polite = await rawPeer(region.url!, h.cluster.member('mallory'));
    polite.send({ type: 'marked', n: 99 });
    polite.send({ type: 'mark', n: 7 });
    expect(await polite.next((m) => m.type === 'marked')).toEqual({ type: 'marked', n: 7 });
  });
});
