import { MemoryLevel } from 'memory-level';
import { afterEach, describe, expect, it } from 'vitest';
import { openNode, type CrmNode } from '../../src/index.js';
import { createValueCodec } from '../../src/store/codec.js';
import type { RecordMeta } from '../../src/store/store.js';

const open: CrmNode[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
});

async function nodeOn(db: MemoryLevel<string, Uint8Array>): Promise<CrmNode> {
  const node = await openNode({ db, nodeId: 'v', listen: false, sync: false });
  open.push(node);
  return node;
}

describe('verify', () => {
  it('finds a stored view that differs from its document, repairs it and its indexes', async () => {
    const db = new MemoryLevel<string, Uint8Array>({ keyEncoding: 'utf8', valueEncoding: 'view' });
    let node = await nodeOn(db);
    for (let i = 0; i < 150; i++) await node.records.create({ id: `r${i}`, name: `R ${i}`, territory: 'emea' });
    await node.records.update('r7', { stage: 'won' });
    expect(await node.verify()).toMatchObject({ checked: 150, problems: 0, repaired: 0 });
    await node.close();

    // Tamper with one stored view, as a lying peer's fast-path view would.
    await db.open();
    const codec = createValueCodec();
    const rec = db.sublevel<string, Uint8Array>('rec', { keyEncoding: 'utf8', valueEncoding: 'view' });
    const meta = codec.unpack<RecordMeta>((await rec.get('r7'))!);
    await rec.put('r7', codec.pack({ ...meta, view: { ...meta.view, name: 'Forged', territory: 'apac' } }));

    node = await nodeOn(db);
    expect((await node.records.get('r7'))!.name).toBe('Forged');
    const found = await node.verify();
    expect(found).toMatchObject({ checked: 150, problems: 1, repaired: 0 });
    expect(found.details).toEqual([{ id: 'r7', problem: 'view', detail: expect.any(String) }]);
    expect(await node.verify({ repair: true })).toMatchObject({ problems: 1, repaired: 1 });
    expect(await node.records.get('r7')).toMatchObject({ name: 'R 7', territory: 'emea', stage: 'won' });
    expect((await node.records.list({ territory: 'emea', limit: 1000 })).records.map((r) => r.id)).toContain('r7');
    expect(await node.verify()).toMatchObject({ problems: 0 });
  });
});
