import { MemoryLevel } from 'memory-level';
import { afterEach, describe, expect, it } from 'vitest';
import { openNode, type CrmNode } from '../../src/index.js';
import { createTestCluster } from '../../src/testing.js';

const cluster = createTestCluster();

const nodes: CrmNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
});

async function memoryNode(nodeId: string): Promise<CrmNode> {
  const node = await openNode({ ...cluster.member(nodeId), db: new MemoryLevel({ keyEncoding: 'utf8', valueEncoding: 'view' }), listen: false, sync: false });
  nodes.push(node);
  return node;
}

describe('upsertMany', () => {
  it('creates, updates only given fields, reports unchanged and rejected, in one commit with its state', async () => {
    const node = await memoryNode('imp');
    const first = await node.records.upsertMany(
      [
        { id: 'x1', fields: { name: 'Ada', email: 'ada@example.com', stage: 'lead' } },
        { id: 'x2', fields: { name: 'Bob' } },
        { id: 'x3', fields: { email: 'no-name@example.com' } },
        { id: 'x4', fields: { name: 'Eve', email: 'not an email' } },
      ],
      { author: 'import:test', state: { 'import:test:watermark': 42 } },
    );
    expect(first.map((r) => r.status)).toEqual(['created', 'created', 'rejected', 'rejected']);
    expect(first[2]!.error?.code).toBe('ERR_VALIDATION');
    expect(first[3]!.error?.details?.[0]?.field).toBe('email');
    expect(await node.getState('import:test:watermark')).toBe(42);
    expect((await node.status()).clock).toEqual({ imp: 2 });

    await node.records.update('x1', { phone: '+44 20 7946 0000' });
    const second = await node.records.upsertMany([
      { id: 'x1', fields: { name: 'Ada', email: 'ada@example.com', stage: 'lead' } },
      { id: 'x2', fields: { name: 'Bob', stage: 'won' } },
    ], { author: 'import:test' });
    expect(second.map((r) => r.status)).toEqual(['unchanged', 'updated']);
    expect((await node.records.get('x1'))!.phone).toBe('+44 20 7946 0000');
    const history = await node.records.history('x2');
    expect(history.map((h) => h.author)).toEqual(['import:test', 'import:test']);
  });

  it('applies two writes to the same record in one batch in order', async () => {
    const node = await memoryNode('imp');
    const results = await node.records.upsertMany([
      { id: 'dup', fields: { name: 'One', title: 'CEO' } },
      { id: 'dup', fields: { title: 'CTO' } },
    ]);
    expect(results.map((r) => r.status)).toEqual(['created', 'updated']);
    expect(await node.records.get('dup')).toMatchObject({ name: 'One', title: 'CTO' });
    expect((await node.records.history('dup')).length).toBe(2);
  });
});

describe('exportEntries / importEntries', () => {
  it('rebuilds identical records and clock on an empty node, and merges idempotently', async () => {
    const source = await memoryNode('src');
    for (let i = 0; i < 30; i++) await source.records.create({ id: `r${i}`, name: `R ${i}`, tags: ['t'] });
    await source.records.update('r3', { stage: 'won', addTags: ['vip'] });
    await source.records.delete('r4');
    const target = await memoryNode('dst');
    let after = 0;
    for (;;) {
      const entries = await source.exportEntries(after, 7);
      if (entries.length === 0) break;
      await target.importEntries(entries);
      after = entries[entries.length - 1]!.localSeq;
    }
    expect((await target.status()).clock).toEqual((await source.status()).clock);
    const all = async (n: CrmNode) => (await n.records.list({ limit: 1000, includeDeleted: true })).records;
    expect(await all(target)).toEqual(await all(source));
    const again = await target.importEntries(await source.exportEntries(0, 100));
    expect(again.accepted).toBe(0);
  });
});
