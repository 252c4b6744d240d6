import { MemoryLevel } from 'memory-level';
import { afterEach, describe, expect, it } from 'vitest';
import { openNode, type CrmNode } from '../../src/index.js';
import { createValueCodec } from '../../src/store/codec.js';
import { fromMetaValue, toMetaValue } from '../../src/store/meta-codec.js';
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
    const meta = fromMetaValue(codec.unpack((await rec.get('r7'))!));
    await rec.put('r7', codec.pack(toMetaValue({ ...meta, view: { ...meta.view, name: 'Forged', territory: 'apac' } })));

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

  it('repairs only after the writes queued before it are durable: a repair never puts back an older view', async () => {
    const db = new GatedLevel();
    let node = await nodeOn(db);
    for (let i = 0; i < 5; i++) await node.records.create({ id: `r${i}`, name: `R ${i}`, stage: 'lead' });
    await node.close();
    await db.open();
    const codec = createValueCodec();
    const rec = db.sublevel<string, Uint8Array>('rec', { keyEncoding: 'utf8', valueEncoding: 'view' });
    for (let i = 0; i < 5; i++) {
      const meta = fromMetaValue(codec.unpack((await rec.get(`r${i}`))!));
      await rec.put(`r${i}`, codec.pack(toMetaValue({ ...meta, view: { ...meta.view, name: 'Forged' } })));
    }

    node = await nodeOn(db);
    // The updates' commits are held before they reach the database (queued, not durable)
    // while the repair runs; released a moment later.
    let release!: () => void;
    db.gate = new Promise<void>((resolve) => (release = resolve));
    const updates = Array.from({ length: 5 }, (_, i) => node.records.update(`r${i}`, { stage: 'won' }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const repaired = node.verify({ repair: true });
    setTimeout(() => (db.gate = undefined, release()), 50);
    await Promise.all([...updates, repaired]);
    for (let i = 0; i < 5; i++) expect(await node.records.get(`r${i}`)).toMatchObject({ name: `R ${i}`, stage: 'won' });
    expect(await node.verify()).toMatchObject({ checked: 5, problems: 0 });
  });
});

/** The internal batch method of abstract-level databases (sublevels' writes go through the root's). */
interface Batching { _batch(...args: unknown[]): Promise<void> }

/** A memory database whose batches wait while `gate` is set (a commit queued, not yet durable). */
class GatedLevel extends MemoryLevel<string, Uint8Array> {
  gate: Promise<void> | undefined;

  constructor() {
    super({ keyEncoding: 'utf8', valueEncoding: 'view' });
    const self = this as unknown as Batching;
    const batch = self._batch.bind(this);
    self._batch = async (...args) => {
      if (this.gate) await this.gate;
      return batch(...args);
    };
  }
}
