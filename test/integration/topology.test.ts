/**
 * Real nodes (LevelDB in temp dirs, WebSockets on 127.0.0.1:0) syncing in the shapes
 * users deploy: a pair, a line where one node is reachable only through another, and
 * a full mesh with concurrent edits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Harness, nextChange, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

describe('two nodes', () => {
  it('sync creates and updates both ways', async () => {
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a' });
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [a.url!] });

    const seenOnB = nextChange(b, (e) => e.id === 'cust-1');
    const created = await a.records.create({ id: 'cust-1', name: 'Ada Lovelace', email: 'ada@example.com', stage: 'lead' });
    const onB = await seenOnB;
    expect(onB).toMatchObject({ source: 'remote', origin: 'a' });
    expect(onB.view).toEqual(created);
    expect(await b.records.get('cust-1')).toEqual(created);

    const seenOnA = nextChange(a, (e) => e.id === 'cust-1' && e.origin === 'b');
    const updated = await b.records.update('cust-1', { phone: '+44 20 7946 0000', stage: 'qualified', addTags: ['vip'] });
    const onA = await seenOnA;
    expect(onA.source).toBe('remote');
    expect(onA.view).toEqual(updated);
    expect(await a.records.get('cust-1')).toMatchObject({ name: 'Ada Lovelace', phone: '+44 20 7946 0000', stage: 'qualified', tags: ['vip'] });

    const common = await waitForConvergence([a, b]);
    expect(common.clock).toEqual({ a: 1, b: 1 });
  });
});

describe('three nodes in a line a–b–c', () => {
  it('relays changes through the middle node and keeps their origin', async () => {
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b' });
    // a and c each know only b; neither listens, so nothing can reach them except through b.
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', listen: false, peers: [b.url!] });
    const c = await h.open({ dataDir: await h.tempDir(), nodeId: 'c', listen: false, peers: [b.url!] });
    expect(a.url).toBeNull();

    const seenOnC = nextChange(c, (e) => e.id === 'from-a');
    await a.records.create({ id: 'from-a', name: 'Grace Hopper', company: 'Navy' });
    const onC = await seenOnC;
    expect(onC).toMatchObject({ source: 'remote', origin: 'a' });
    expect(onC.view.company).toBe('Navy');

    const seenOnA = nextChange(a, (e) => e.id === 'from-c');
    await c.records.create({ id: 'from-c', name: 'Katherine Johnson' });
    expect(await seenOnA).toMatchObject({ source: 'remote', origin: 'c' });

    // c edits a's record; the edit travels back to a through b, stamped with c as its origin.
    const editOnA = nextChange(a, (e) => e.id === 'from-a' && e.origin === 'c');
    await c.records.update('from-a', { title: 'Rear Admiral' });
    expect((await editOnA).view).toMatchObject({ company: 'Navy', title: 'Rear Admiral' });

    const common = await waitForConvergence([a, b, c]);
    expect(common.clock).toEqual({ a: 1, c: 2 });
    expect((await c.status()).clock.a).toBe(1);
    const history = await c.records.history('from-a');
    expect(history.map((e) => [e.node, e.seq])).toEqual([['a', 1], ['c', 2]]);
  });
});

describe('three nodes in a full mesh', () => {
  it('converge after concurrent edits on every node', async () => {
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a' });
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [a.url!] });
    const c = await h.open({ dataDir: await h.tempDir(), nodeId: 'c', peers: [a.url!, b.url!] });
    const nodes = [a, b, c];

    await a.records.create({ id: 'shared', name: 'Shared Customer', notes: 'met at the fair' });
    await waitForConvergence(nodes);

    // Every node writes at once: its own records, a field only it touches, a field all
    // of them touch, and the interaction counter.
    const fields = { a: { phone: '+1 555 0100' }, b: { company: 'Initech' }, c: { title: 'CTO' } } as const;
    await Promise.all(nodes.map(async (node) => {
      const id = node.id as 'a' | 'b' | 'c';
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 30; i++) writes.push(node.records.create({ id: `${id}-${i}`, name: `Customer ${id}${i}`, owner: id }));
      writes.push(node.records.update('shared', { ...fields[id], stage: id === 'a' ? 'lead' : id === 'b' ? 'proposal' : 'won' }));
      writes.push(node.records.update('shared', { incrementInteractions: 1, addTags: [`tag-${id}`] }));
      await Promise.all(writes);
    }));

    const common = await waitForConvergence(nodes);
    expect(common.clock).toEqual({ a: 33, b: 32, c: 32 });
    expect(common.records.filter((r) => !r.deleted)).toHaveLength(91);
    const shared = common.records.find((r) => r.id === 'shared')!;
    expect(shared).toMatchObject({ phone: '+1 555 0100', company: 'Initech', title: 'CTO', interactions: 3 });
    expect(shared.tags).toEqual(['tag-a', 'tag-b', 'tag-c']);
    // The writes to stage were concurrent only if they crossed; either way every node agrees.
    const conflicts = await Promise.all(nodes.map((n) => n.records.conflicts('shared')));
    expect(conflicts[1]).toEqual(conflicts[0]);
    expect(conflicts[2]).toEqual(conflicts[0]);
  });
});
