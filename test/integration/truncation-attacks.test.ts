/**
 * Attacks on the bootstrap of a truncated log (PROTOCOL.md "Truncated logs"), over real
 * sockets with a scripted peer: floors (`base`) whose signature does not verify close
 * the session with 4013 and raise nothing; floors from a member that is not a region
 * are ignored; malformed ones are a protocol error (1002); the receiver's own origin is
 * raised only to a floor its own key signed. The same floors, signed by their origin,
 * from a region, are taken (the positive control: refusals are about the sender and the
 * signature).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BaseFloor, CrmNode } from '../../src/index.js';
import { realTimers, type Timers } from '../../src/timers.js';
import { rawPeer } from '../support/raw-peer.js';
import { Harness } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

const RETENTION = 60_000;

/** Node `a`, alone in the cluster so far, writes and truncates its log; returns its floors. */
async function truncatedOrigin(): Promise<{ a: CrmNode; floor: BaseFloor }> {
  let offset = 0;
  const time: Timers = { now: () => Date.now() + offset, after: realTimers.after };
  const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', timers: time, limits: { lifecycleIntervalMs: 50, logRetentionMs: RETENTION } });
  for (let i = 0; i < 5; i++) await a.records.create({ id: `c-${i}`, name: `Customer ${i}` });
  offset = RETENTION + 1;
  await vi.waitFor(async () => expect((await a.status()).lifecycle.logStart).toBeGreaterThan(1), { timeout: 20_000 });
  return { a, floor: a.exportFloors().floors.find((f) => f.origin === 'a')! };
}

const wire = (f: BaseFloor) => [f.origin, f.seq, Buffer.from(f.prev, 'hex'), f.record, Buffer.from(f.digest, 'hex'), f.sig];

describe('attacks with floors (base)', () => {
  it('a floor whose signature does not verify closes the session with 4013 and raises nothing', async () => {
    const { floor } = await truncatedOrigin();
    const victim = await h.open({ dataDir: await h.tempDir(), nodeId: 'victim' });
    const mallory = await rawPeer(victim.url!, h.cluster.member('mallory'));
    const sig = Buffer.from(floor.sig);
    sig[0]! ^= 1;
    // An altered signature; a genuine one moved to another seq (chain(seq) hashes seq in);
    // another record or digest under the same signature.
    for (const forged of [{ ...floor, sig }, { ...floor, seq: floor.seq + 1000 }, { ...floor, record: 'c-other' }, { ...floor, digest: 'ab'.repeat(32) }]) {
      const mallory = await rawPeer(victim.url!, h.cluster.member('mallory'));
      mallory.send({ type: 'base', floors: [wire(forged)] });
      expect((await mallory.closed).code).toBe(4013);
    }
    expect((await victim.status()).clock.a).toBeUndefined();
    expect(victim.exportFloors().floors).toEqual([]);
  });

  it('floors from a member that is not a region are ignored; the same floors from a region are taken', async () => {
    const { floor } = await truncatedOrigin();
    const victim = await h.open({ dataDir: await h.tempDir(), nodeId: 'victim' });
    const laptop = await rawPeer(victim.url!, h.cluster.member('mal-laptop', { role: 'laptop' }));
    laptop.send({ type: 'base', floors: [wire(floor)] });
    laptop.send({ type: 'have', clock: [] }); // anything after it: the base was handled before
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await victim.status()).clock.a).toBeUndefined();
    expect(victim.exportFloors().floors).toEqual([]);
    expect((await victim.status()).peers.find((p) => p.node === 'mal-laptop')?.state).toBe('connected');

    const region = await rawPeer(victim.url!, h.cluster.member('relay-region'));
    region.send({ type: 'base', floors: [wire(floor)] });
    await vi.waitFor(async () => expect((await victim.status()).clock.a).toBe(floor.seq));
    expect(victim.exportFloors().floors.map((f) => [f.origin, f.seq])).toEqual([['a', floor.seq]]);
  });

  it('raises the receiver\'s own origin only to a floor its own key signed (it lost those entries), and it numbers on from there', async () => {
    const { a, floor } = await truncatedOrigin();
    await a.close();
    // The same identity on an empty directory (its data lost): a genuine floor of its own origin.
    const copy = await h.open({ dataDir: await h.tempDir(), nodeId: 'a' });
    const mallory = await rawPeer(copy.url!, h.cluster.member('mallory'));
    mallory.send({ type: 'base', floors: [wire({ ...floor, seq: floor.seq + 1 })] }); // moved: refused
    expect((await mallory.closed).code).toBe(4013);
    expect((await copy.status()).clock.a).toBeUndefined();
    const region = await rawPeer(copy.url!, h.cluster.member('mallory'));
    region.send({ type: 'base', floors: [wire(floor)] });
    await vi.waitFor(async () => expect((await copy.status()).clock.a).toBe(floor.seq));
    await copy.records.create({ id: 'c-after', name: 'After the loss' });
    expect((await copy.status()).clock.a).toBe(floor.seq + 1);
  });

  it('malformed floors are a protocol error (1002)', async () => {
    const victim = await h.open({ dataDir: await h.tempDir(), nodeId: 'victim' });
    const cases: unknown[] = [
      [['a', 1, Buffer.alloc(31), 'c-1', Buffer.alloc(32), Buffer.alloc(64)]],
      [['a', 0, Buffer.alloc(32), 'c-1', Buffer.alloc(32), Buffer.alloc(64)]],
      [['a', 1, Buffer.alloc(32), 'c-1', Buffer.alloc(32), Buffer.alloc(63)]],
      [['a', 1, Buffer.alloc(32), 'c-1', Buffer.alloc(33), Buffer.alloc(64)]],
      [['a', 1, Buffer.alloc(32), 'c/1', Buffer.alloc(32), Buffer.alloc(64)]],
      [['a', 1, Buffer.alloc(32), 'c-1', Buffer.alloc(32)]],
      [['not a node id!', 1, Buffer.alloc(32), 'c-1', Buffer.alloc(32), Buffer.alloc(64)]],
      'floors',
    ];
    for (const floors of cases) {
      const mallory = await rawPeer(victim.url!, h.cluster.member('mallory'));
      mallory.send({ type: 'base', floors });
      expect((await mallory.closed).code, JSON.stringify(floors)).toBe(1002);
    }
    expect(victim.exportFloors().floors).toEqual([]);
    expect((await victim.status()).records).toEqual({ live: 0, deleted: 0, indexBacklog: 0 });
  });
});
