import { MemoryLevel } from 'memory-level';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openNode, type CrmNode } from '../../src/index.js';
import { createTestCluster, MemoryNetwork } from '../../src/testing.js';

const nodes: CrmNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
});

describe('catch-up of large records', () => {
  it('splits a batch that would exceed the frame limit instead of sending a frame the peer refuses', async () => {
    const maxFrameBytes = 64 * 1024;
    const network = new MemoryNetwork();
    const cluster = createTestCluster();
    const open = async (name: string, peers: string[] = []) => {
      const node = await openNode({
        ...cluster.member(name),
        db: new MemoryLevel({ keyEncoding: 'utf8', valueEncoding: 'view' }), nodeId: name, sync: false, peers,
        transport: network.transport(name, { maxFrameBytes }), limits: { maxFrameBytes },
      });
      nodes.push(node);
      return node;
    };
    const a = await open('a');
    const notes = 'Long call notes. '.repeat(600); // ~10 KB of text per record
    for (let i = 0; i < 20; i++) await a.records.create({ id: `big-${i}`, name: `Big ${i}`, notes });
    const b = await open('b', [a.url!]);
    await vi.waitFor(async () => expect((await b.status()).records.live).toBe(20), { timeout: 20_000 });
    expect((await b.records.get('big-19'))!.notes).toBe(notes);
    expect((await a.status()).rejectedConnections + (await b.status()).rejectedConnections).toBe(0);
  });
});
