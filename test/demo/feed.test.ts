/** The live feed: each change once, with its fields, and the nodes it has reached as they report it. */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { HistoryEntry } from '../../src/index.js';
import { Feed, FeedLedger, type FeedItem } from '../../demo/feed.js';
import { ApiHarness } from '../api/helpers.js';
import { startInProcess, type InProcessCluster } from './in-process.js';

const ORDER = ['berlin', 'london', 'laptop-anna'];
const entry = (node: string, seq: number, fields: string[], at = 1000 + seq): HistoryEntry =>
  ({ node, seq, at, fields, hash: `h${node}${seq}` }) as HistoryEntry;

describe('FeedLedger', () => {
  it('makes one item per change and adds nodes to it as they report holding it', () => {
    const ledger = new FeedLedger(ORDER, { berlin: 10 });
    const seed = entry('berlin', 3, ['name']);
    const edit = entry('laptop-anna', 1, ['title', 'phone']);
    expect(ledger.observe('laptop-anna', 'cus-1', 'Ada', [seed, edit])).toEqual([
      { key: 'laptop-anna:1', origin: 'laptop-anna', seq: 1, id: 'cus-1', name: 'Ada', time: 1001, fields: ['title', 'phone'], reached: ['laptop-anna'] },
    ]);
    expect(ledger.observe('berlin', 'cus-1', 'Ada', [seed, edit]).map((i) => i.reached)).toEqual([['berlin', 'laptop-anna']]);
    // The same node reporting again changes nothing.
    expect(ledger.observe('berlin', 'cus-1', 'Ada', [seed, edit])).toEqual([]);
    expect(ledger.observe('london', 'cus-1', 'Ada', [seed, edit]).map((i) => i.reached)).toEqual([ORDER]);
    expect(ledger.list()).toHaveLength(1);
  });

  it('keeps at most `max` items and never brings an evicted change back', () => {
    const ledger = new FeedLedger(ORDER, {}, 2);
    ledger.observe('berlin', 'a', 'A', [entry('berlin', 1, ['title'])]);
    ledger.observe('berlin', 'b', 'B', [entry('berlin', 2, ['title'])]);
    ledger.observe('berlin', 'c', 'C', [entry('berlin', 3, ['title'])]);
    expect(ledger.list().map((i) => i.key)).toEqual(['berlin:2', 'berlin:3']);
    expect(ledger.observe('london', 'a', 'A', [entry('berlin', 1, ['title'])])).toEqual([]);
    expect(ledger.list().map((i) => i.key)).toEqual(['berlin:2', 'berlin:3']);
  });
});

describe('Feed over real nodes', () => {
  const harness = new ApiHarness();
  let nodes: InProcessCluster;
  let feed: Feed;
  const seen: FeedItem[] = [];

  beforeAll(async () => {
    nodes = await startInProcess(harness);
    await nodes.apis.get('berlin')!.call('POST', '/v1/customers', { body: { id: 'cus-1', name: 'Ada Lovelace' } });
    await vi.waitFor(async () => expect((await nodes.cluster.read()).assessment.reasons).toEqual([]), { timeout: 30_000, interval: 50 });
    feed = new Feed(nodes.cluster.all());
    await feed.start();
    feed.subscribe((item) => seen.push(item));
  });

  afterAll(async () => {
    await feed?.stop();
    await harness.cleanup();
  });

  it('shows an offline edit once, and its reach growing as the laptop comes back', async () => {
    await nodes.cluster.setLaptopOnline('laptop-anna', false);
    await vi.waitFor(async () => expect((await nodes.cluster.read()).assessment.links.find((l) => l.b === 'laptop-anna')?.ends['laptop-anna']).not.toBe('connected'));
    await nodes.apis.get('laptop-anna')!.call('PATCH', '/v1/customers/cus-1', { body: { title: 'CPO', phone: '+49 170 5550123' } });
    await vi.waitFor(() => expect(seen.at(-1)?.reached).toEqual(['laptop-anna']), { timeout: 15_000 });
    const key = seen.at(-1)!.key;
    expect(seen.at(-1)).toMatchObject({ origin: 'laptop-anna', seq: 1, id: 'cus-1', name: 'Ada Lovelace', fields: ['phone', 'title'] });

    await nodes.cluster.setLaptopOnline('laptop-anna', true);
    await vi.waitFor(() => expect(feed.backlog().find((i) => i.key === key)?.reached).toEqual(ORDER), { timeout: 30_000 });
    // Every update was about the same change: one item, never a second one for another node.
    expect(new Set(seen.map((i) => i.key))).toEqual(new Set([key]));
    expect(feed.backlog()).toHaveLength(1);
    expect(seen.map((i) => i.reached.length)).toEqual([1, 2, 3]);
  });
});
