/**
 * Attacks on partial replication (PROTOCOL.md "Holdings"), over real sockets with a
 * scripted peer: a stub whose digest does not chain is refused like an altered entry
 * (4013); a full entry of a record outside a laptop's holding is not kept there; and a
 * laptop writing outside its trust-list scope has its changes quarantined by the region,
 * with the reason, while its changes inside the scope apply. A `want` gets the documents
 * inside the asker's scope only.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { atomic, MemberDocs } from '../support/member-docs.js';
import { rawPeer } from '../support/raw-peer.js';
import { holds } from '../support/attack-rig.js';
import { Harness, listAll } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

const placed = (id: string, territory: string) => (d: Record<string, unknown>) => {
  d.id = atomic(id);
  d.name = atomic(`Customer ${id}`);
  d.territory = atomic(territory);
  d.createdAt = 1;
  d.updatedAt = 1;
};

describe('attacks on a subscribed laptop', () => {
  it('a stub whose digest does not chain closes the session with 4013; nothing of the frame is kept', async () => {
    const laptop = await h.open({ dataDir: await h.tempDir(), ...h.cluster.member('laptop-n', { role: 'laptop', scope: { territories: ['north'] } }), subscription: { territories: ['north'] } });
    const mallory = await rawPeer(laptop.url!, h.cluster.member('mallory'));
    const docs = new MemberDocs('mallory');
    const entries = mallory.entries([
      { record: 'n-1', change: docs.write('n-1', placed('n-1', 'north')) },
      { record: 's-1', change: docs.write('s-1', placed('s-1', 'south')) },
    ]);
    const forged: Record<string, unknown> = { ...entries[1]!, h: Buffer.alloc(32, 9) };
    delete forged.c;
    mallory.sendChanges([entries[0]!, forged]);
    expect((await mallory.closed).code).toBe(4013);
    expect(await laptop.records.get('n-1')).toBeUndefined();
    expect((await laptop.status()).clock.mallory).toBeUndefined();
    docs.close();
  });

  it('a full entry of a record outside its holding is kept only as a stub; one inside is applied', async () => {
    const laptop = await h.open({ dataDir: await h.tempDir(), ...h.cluster.member('laptop-n', { role: 'laptop', scope: { territories: ['north'] } }), subscription: { territories: ['north'] } });
    const mallory = await rawPeer(laptop.url!, h.cluster.member('mallory'), { autoAck: true });
    const docs = new MemberDocs('mallory');
    mallory.sendChanges(mallory.entries([
      { record: 's-1', change: docs.write('s-1', placed('s-1', 'south')) },
      { record: 'n-1', change: docs.write('n-1', placed('n-1', 'north')) },
    ]));
    await holds(laptop, 'mallory', 2);
    expect(await laptop.records.get('s-1')).toBeUndefined();
    expect(await laptop.records.get('n-1')).toMatchObject({ name: 'Customer n-1', territory: 'north' });
    expect((await laptop.records.history('s-1'))).toEqual([]);
    const exported = await laptop.exportEntries(0, 10);
    expect(exported.find((e) => e.record === 's-1')).toMatchObject({ digest: expect.any(String), change: new Uint8Array(0) });
    docs.close();
  });
});

describe('a laptop writing outside its scope', () => {
  it('has those changes quarantined by the region with the reason; its changes inside the scope apply', async () => {
    const region = await h.open({ dataDir: await h.tempDir(), nodeId: 'region-a' });
    await region.records.create({ id: 's-old', name: 'South Customer', territory: 'south' });
    const mal = await rawPeer(region.url!, h.cluster.member('mal-laptop', { role: 'laptop', scope: { territories: ['north'] } }), { autoAck: true });
    // It cannot read outside its scope: the region sent the record as a stub, without its change.
    const served = await vi.waitFor(() => {
      const entries = mal.received.flatMap((m) => (m.type === 'changes' ? m.entries as Record<string, unknown>[] : [])).filter((e) => e.r === 's-old');
      expect(entries).toHaveLength(1);
      return entries[0]!;
    });
    expect(served.c).toBeUndefined();
    expect(served.h).toHaveLength(32);
    // It learned the record elsewhere (a leak, say) and edits it anyway.
    const southChanges = (await region.exportEntries(0, 100)).filter((e) => e.record === 's-old').map((e) => e.change);
    const docs = new MemberDocs('mal-laptop');
    const mover = new MemberDocs('mal-laptop', 2); // another process: its move does not depend on the edit
    docs.learn('s-old', southChanges);
    mover.learn('s-old', southChanges);
    const batch = mal.sendChanges(mal.entries([
      { record: 's-new', change: docs.write('s-new', placed('s-new', 'south')) }, // creates outside its scope
      { record: 's-old', change: docs.write('s-old', (d) => { d.name = atomic('Pwned'); }) }, // edits outside its scope
      { record: 's-old', change: mover.write('s-old', (d) => { d.territory = atomic('north'); }) }, // moves it in from outside
      { record: 'n-new', change: docs.write('n-new', placed('n-new', 'north')) }, // inside: applies
    ]));
    await mal.next((m) => m.type === 'ack' && m.batch === batch);
    expect(await region.records.get('s-new')).toBeUndefined();
    expect(await region.records.get('s-old')).toMatchObject({ name: 'South Customer', territory: 'south' });
    expect(await region.records.get('n-new')).toMatchObject({ territory: 'north' });
    const history = (await region.records.history('s-old')).filter((e) => e.node === 'mal-laptop');
    expect(history).toEqual([
      expect.objectContaining({ quarantined: expect.stringMatching(/scope does not include the record/) }),
      expect.objectContaining({ quarantined: expect.stringMatching(/scope does not include the record/) }),
    ]);
    expect((await region.records.history('s-new'))[0]).toMatchObject({ quarantined: expect.stringMatching(/scope does not include the territory/) });
    expect((await listAll(region)).map((r) => r.id).sort()).toEqual(['n-new', 's-old']);
    docs.close();
    mover.close();
  });
});

describe('want: asking a region for whole documents', () => {
  it('a laptop gets the documents inside its scope only: the rest is answered outside, never sent', async () => {
    const malloryMember = h.cluster.member('mallory-w', { role: 'laptop', scope: { territories: ['north', 'south'] } });
    const region = await h.open({ dataDir: await h.tempDir(), nodeId: 'region-a' });
    for (const [id, territory] of [['n-1', 'north'], ['s-1', 'south'], ['e-1', 'east']]) await region.records.create({ id: id!, name: `Customer ${id}`, territory: territory! });
    const mallory = await rawPeer(region.url!, malloryMember);
    mallory.send({ type: 'want', ids: ['n-1', 'e-1', 'missing', 's-1'] });
    const outside = await mallory.next((m) => m.type === 'outside');
    expect(outside.ids).toEqual(['e-1', 'missing']);
    const sent = mallory.received.filter((m) => m.type === 'record').map((m) => m.id);
    expect(sent).toEqual(['n-1', 's-1']);
    expect(JSON.stringify(mallory.received)).not.toContain('Customer e-1');
    // Malformed or oversized wants are protocol errors (1002), and the region keeps serving.
    mallory.send({ type: 'want', ids: Array.from({ length: 257 }, (_, i) => `r${i}`) });
    expect((await mallory.closed).code).toBe(1002);
    expect(await region.records.get('e-1')).toMatchObject({ territory: 'east' });
  });
});

