/**
 * Partial replication by territory (PROTOCOL.md "Holdings"), with real nodes over real
 * sockets: a laptop subscribed to one territory receives exactly that territory's
 * records from a region, identical to the region's, and its clock still equals the
 * region's (the rest arrived as stubs). Bytes on the wire are a fraction of a full
 * node's. A laptop cannot subscribe beyond its scope nor write outside it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import type { Limits } from '../../src/limits.js';
import { Harness, listAll, nextChange } from './helpers.js';
import { vi } from 'vitest';

const h = new Harness();
afterEach(() => h.cleanup());

const TERRITORIES = ['north', 'south', 'east', 'west'];

/** A region with `perTerritory` records in each territory (ids t-<territory>-<n>). */
async function regionWithRecords(perTerritory: number, limits?: Partial<Limits>): Promise<CrmNode> {
  const region = await h.open({ dataDir: await h.tempDir(), nodeId: 'region-a', ...(limits ? { limits } : {}) });
  await region.records.upsertMany(TERRITORIES.flatMap((territory) => Array.from({ length: perTerritory }, (_, n) => ({
    id: `t-${territory}-${n}`, fields: { name: `Customer ${territory} ${n}`, territory, company: 'Acme', notes: 'x'.repeat(200) },
  }))));
  return region;
}

/** Waits until `node` holds the same clock as `region`. */
async function caughtUp(node: CrmNode, region: CrmNode): Promise<void> {
  const target = (await region.status()).clock;
  await vi.waitFor(async () => expect((await node.status()).clock).toEqual(target), { timeout: 30_000, interval: 50 });
}

/** Bytes the node received from its peers so far. */
async function bytesIn(node: CrmNode): Promise<number> {
  return (await node.status()).peers.reduce((sum, p) => sum + (p.stats?.bytesIn ?? 0), 0);
}

describe('a laptop subscribed to one territory', () => {
  it('receives exactly its territory from a region, identical to the region, with the region\'s clock, for a fraction of the bytes', async () => {
    // Bytes measure what the subscription leaves out, so the region deflates no large frame
    // here: deflating (frame-deflate.ts) shrinks a full node's few large catch-up frames far
    // more than a laptop's many small ones (those still go deflated from the dictionary).
    const region = await regionWithRecords(30, { minDeflateFrameBytes: 1 << 30 });
    const laptop = await h.open({
      dataDir: await h.tempDir(), ...h.cluster.member('laptop-n', { role: 'laptop', scope: { territories: ['north', 'south'] } }),
      subscription: { territories: ['north'] }, peers: [region.url!],
    });
    const full = await h.open({ dataDir: await h.tempDir(), nodeId: 'region-b', peers: [region.url!] });
    await caughtUp(laptop, region);
    await caughtUp(full, region);

    const north = (await listAll(region)).filter((r) => r.territory === 'north');
    expect(north).toHaveLength(30);
    expect(await listAll(laptop)).toEqual(north);
    expect((await laptop.status()).holding).toEqual({ subscription: { territories: ['north'] }, scope: { territories: ['north', 'south'] }, complete: true });

    // Live: a new north record arrives in full, a new south one does not arrive at all.
    await region.records.create({ id: 'live-n', name: 'Live North', territory: 'north' });
    await region.records.create({ id: 'live-s', name: 'Live South', territory: 'south' });
    await caughtUp(laptop, region);
    expect(await laptop.records.get('live-n')).toEqual(await region.records.get('live-n'));
    expect(await laptop.records.get('live-s')).toBeUndefined();
    expect(await laptop.records.get('t-south-0')).toBeUndefined();

    // One territory of four, and the other three as stubs: well under half a full node's bytes.
    const laptopBytes = await bytesIn(laptop);
    const fullBytes = await bytesIn(full);
    expect(laptopBytes).toBeLessThan(fullBytes / 2);
  });

  it('may not subscribe beyond its scope, and a malformed subscription is refused', async () => {
    const member = h.cluster.member('laptop-x', { role: 'laptop', scope: { territories: ['north'] } });
    await expect(h.open({ dataDir: await h.tempDir(), ...member, subscription: { territories: ['north', 'south'] } })).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    await expect(h.open({ dataDir: await h.tempDir(), ...member, subscription: { territories: [''] } })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(h.open({ dataDir: await h.tempDir(), ...member, subscription: { regions: ['north'] } as never })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it('cannot write outside its scope through its own API (ERR_UNAUTHORIZED)', async () => {
    const region = await regionWithRecords(1);
    const laptop = await h.open({
      dataDir: await h.tempDir(), ...h.cluster.member('laptop-w', { role: 'laptop', scope: { territories: ['north'] } }), peers: [region.url!],
    });
    await caughtUp(laptop, region);
    await expect(laptop.records.create({ id: 'mine-s', name: 'South', territory: 'south' })).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    await expect(laptop.records.create({ id: 'unplaced', name: 'Nowhere' })).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    await expect(laptop.records.update('t-north-0', { territory: 'south' })).resolves.toMatchObject({ territory: 'south' });
    await expect(laptop.records.create({ id: 'mine-n', name: 'North', territory: 'north' })).resolves.toMatchObject({ territory: 'north' });
  });
});

/** A laptop of territory north (scope north and south), subscribed to north. */
async function northLaptop(peers: string[] = []): Promise<CrmNode> {
  return h.open({
    dataDir: await h.tempDir(), ...h.cluster.member('laptop-n', { role: 'laptop', scope: { territories: ['north', 'south'] } }),
    subscription: { territories: ['north'] }, peers,
  });
}

describe('move-out', () => {
  it('a record moved out of the holding is evicted on the laptop (said in its feed), not deleted anywhere else', async () => {
    const region = await regionWithRecords(2);
    const laptop = await northLaptop([region.url!]);
    await caughtUp(laptop, region);
    expect(await laptop.records.get('t-north-0')).toBeDefined();

    const evicted = nextChange(laptop, (e) => e.id === 't-north-0' && e.evicted === true);
    await region.records.update('t-north-0', { territory: 'south', title: 'Moved' });
    expect(await evicted).toMatchObject({ source: 'remote', origin: 'region-a', view: { territory: 'south' } });
    await caughtUp(laptop, region);
    expect(await laptop.records.get('t-north-0')).toBeUndefined();
    expect(await laptop.records.history('t-north-0')).toEqual([]);
    expect((await listAll(laptop)).map((r) => r.id)).toEqual(['t-north-1']);
    expect(await region.records.get('t-north-0')).toMatchObject({ territory: 'south', title: 'Moved' });
    const feed = await laptop.changesSince(0);
    expect(feed.filter((e) => e.id === 't-north-0').at(-1)).toMatchObject({ evicted: true });
    expect(feed.some((e) => e.id.startsWith('t-south'))).toBe(false);
    expect(await laptop.verify()).toMatchObject({ checked: 1, problems: 0 });
  });

  it('an offline edit to a record that moved out meanwhile is pushed first, then the record leaves', async () => {
    const laptop = await northLaptop();
    const region = await regionWithRecords(1);
    region.addPeer(laptop.url!);
    await caughtUp(laptop, region);
    region.removePeer(laptop.url!); // the laptop goes offline
    await vi.waitFor(async () => expect((await laptop.status()).peers.filter((p) => p.state === 'connected')).toEqual([]));

    await laptop.records.update('t-north-0', { phone: '+1 555 0100' }); // offline edit
    await region.records.update('t-north-0', { territory: 'south' }); // moved out meanwhile
    const evicted = nextChange(laptop, (e) => e.id === 't-north-0' && e.evicted === true);
    region.addPeer(laptop.url!);
    await evicted;
    await caughtUp(region, laptop);
    await caughtUp(laptop, region);
    expect(await region.records.get('t-north-0')).toMatchObject({ territory: 'south', phone: '+1 555 0100' });
    expect(await laptop.records.get('t-north-0')).toBeUndefined();
    // Its own change keeps its body in its own log (its origin's history); the region's became stubs.
    const own = (await laptop.exportEntries(0, 1000)).filter((e) => e.record === 't-north-0');
    expect(own.find((e) => e.origin === 'laptop-n')!.change.length).toBeGreaterThan(0);
    expect(own.filter((e) => e.origin === 'region-a').every((e) => e.change.length === 0 && e.evicted)).toBe(true);
  });

  it('a laptop that reaches one region only gets its subscription through it (laptop – A – B, writes on B)', async () => {
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'region-b' });
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'region-a', peers: [b.url!] });
    const laptop = await northLaptop([a.url!]);
    await b.records.create({ id: 'b-n1', name: 'North One', territory: 'north' });
    await b.records.create({ id: 'b-n2', name: 'North Two', territory: 'north' });
    await b.records.create({ id: 'b-s1', name: 'South One', territory: 'south' });
    await caughtUp(laptop, b);
    expect((await listAll(laptop)).map((r) => r.id)).toEqual(['b-n1', 'b-n2']);

    const evicted = nextChange(laptop, (e) => e.id === 'b-n2' && e.evicted === true);
    await b.records.update('b-n2', { territory: 'east' });
    await b.records.update('b-n1', { stage: 'won' });
    await evicted;
    await caughtUp(laptop, b);
    expect(await listAll(laptop)).toEqual([await b.records.get('b-n1')]);
    expect(await a.records.get('b-s1')).toBeDefined(); // regions hold everything
  });
});

describe('move-in and subscription changes', () => {
  it('a record moved into the holding arrives with its whole document, as the region has it', async () => {
    const region = await regionWithRecords(1);
    await region.records.update('t-south-0', { phone: '+1 555 0199', addTags: ['vip'] });
    const laptop = await northLaptop([region.url!]);
    await caughtUp(laptop, region);
    expect(await laptop.records.get('t-south-0')).toBeUndefined();

    const arrived = nextChange(laptop, (e) => e.id === 't-south-0' && e.view.territory === 'north');
    await region.records.update('t-south-0', { territory: 'north' });
    await arrived;
    await caughtUp(laptop, region);
    expect(await laptop.records.get('t-south-0')).toEqual(await region.records.get('t-south-0'));
    expect(await laptop.records.get('t-south-0')).toMatchObject({ phone: '+1 555 0199', tags: ['vip'] });
    // It keeps syncing like any held record, and moves out and back in again.
    await region.records.update('t-south-0', { territory: 'east' });
    await vi.waitFor(async () => expect(await laptop.records.get('t-south-0')).toBeUndefined());
    await region.records.update('t-south-0', { title: 'Edited while away' });
    await region.records.update('t-south-0', { territory: 'north' });
    await caughtUp(laptop, region);
    await vi.waitFor(async () => expect(await laptop.records.get('t-south-0')).toEqual(await region.records.get('t-south-0')));
    expect(await laptop.verify()).toMatchObject({ problems: 0 });
  });

  it('a subscription change fetches or evicts only the difference; sync does not restart', async () => {
    const region = await regionWithRecords(5);
    const laptop = await northLaptop([region.url!]);
    await caughtUp(laptop, region);
    const changesIn = async () => (await laptop.status()).peers.reduce((sum, p) => sum + (p.stats?.changesIn ?? 0), 0);
    const before = await changesIn();

    expect(await laptop.subscribe({ territories: ['north', 'south'] })).toEqual({ evicted: 0 });
    const regionNorthSouth = (await listAll(region)).filter((r) => r.territory === 'north' || r.territory === 'south');
    await vi.waitFor(async () => expect(await listAll(laptop)).toEqual(regionNorthSouth), { timeout: 30_000, interval: 50 });
    expect(await changesIn()).toBe(before); // documents, not a replay of the log

    expect(await laptop.subscribe({ territories: ['south'] })).toEqual({ evicted: 5 });
    expect(await listAll(laptop)).toEqual(regionNorthSouth.filter((r) => r.territory === 'south'));
    expect((await laptop.status()).holding.subscription).toEqual({ territories: ['south'] });
    // Live changes follow the new subscription.
    await region.records.update('t-south-1', { title: 'Now' });
    await region.records.update('t-north-1', { title: 'Not here' });
    await caughtUp(laptop, region);
    expect(await laptop.records.get('t-south-1')).toMatchObject({ title: 'Now' });
    expect(await laptop.records.get('t-north-1')).toBeUndefined();
    await expect(laptop.subscribe({ territories: ['west'] })).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    await expect(laptop.subscribe({ territories: 'south' } as never)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });
});

describe('a data directory started again with another subscription', () => {
  const member = () => h.cluster.member('laptop-r', { role: 'laptop', scope: { territories: ['north', 'south'] } });
  const laptopOn = async (dataDir: string, territories: string[], peers: string[]) => h.open({ dataDir, ...member(), subscription: { territories }, peers });
  /** A region with one record per territory, and a laptop on its own directory holding north, caught up with it. */
  const northLaptopCaughtUp = async () => {
    const region = await regionWithRecords(1);
    const dataDir = await h.tempDir();
    const laptop = await laptopOn(dataDir, ['north'], [region.url!]);
    await caughtUp(laptop, region);
    return { region, dataDir, laptop };
  };

  it('fetches the records it gains and evicts those it loses, at start', async () => {
    const region = await regionWithRecords(3);
    const dataDir = await h.tempDir();
    let laptop = await laptopOn(dataDir, ['north'], [region.url!]);
    await caughtUp(laptop, region);
    await laptop.close();

    // Wider: the south records arrive as documents, the log is not replayed.
    laptop = await laptopOn(dataDir, ['north', 'south'], [region.url!]);
    const northSouth = (await listAll(region)).filter((r) => r.territory === 'north' || r.territory === 'south');
    await vi.waitFor(async () => expect(await listAll(laptop)).toEqual(northSouth), { timeout: 30_000, interval: 50 });
    const changesIn = (await laptop.status()).peers.reduce((sum, p) => sum + (p.stats?.changesIn ?? 0), 0);
    expect(changesIn).toBe(0);
    // The region answered for it: a later start declares it and fetches nothing again.
    await vi.waitFor(async () => {
      await laptop.close();
      laptop = await laptopOn(dataDir, ['north', 'south'], []);
      expect((await laptop.status()).holding.complete).toBe(true);
    }, { timeout: 30_000, interval: 200 });
    await laptop.close();

    // Narrower: the north records are evicted before the node serves anything.
    laptop = await laptopOn(dataDir, ['south'], []);
    expect(await listAll(laptop)).toEqual(northSouth.filter((r) => r.territory === 'south'));
    expect((await laptop.status()).holding.complete).toBe(true);
  });

  it('gets back a record it moved out offline when it widens its subscription before the region has the move', async () => {
    const { region, dataDir, laptop: first } = await northLaptopCaughtUp();
    let laptop = first;
    await laptop.close();

    // Offline: the laptop moves its north record south (out of its holding: evicted, its
    // own change kept), then is started holding south too. The region learns of the move
    // only from this session: it must have it before it sends what the wider holding gains.
    laptop = await laptopOn(dataDir, ['north'], []);
    await laptop.records.update('t-north-0', { territory: 'south' });
    expect(await laptop.records.get('t-north-0')).toBeUndefined();
    await laptop.close();
    laptop = await laptopOn(dataDir, ['north', 'south'], [region.url!]);
    await caughtUp(region, laptop);
    expect(await region.records.get('t-north-0')).toMatchObject({ territory: 'south' });
    const northSouth = (await listAll(region)).filter((r) => r.territory === 'north' || r.territory === 'south');
    expect(northSouth.map((r) => r.id)).toContain('t-north-0');
    await vi.waitFor(async () => expect(await listAll(laptop)).toEqual(northSouth), { timeout: 30_000, interval: 50 });
    expect(await laptop.verify()).toMatchObject({ problems: 0 });
  });

  it('gets back a record it moved out offline when it subscribes wider offline, then reconnects', async () => {
    const { region, laptop } = await northLaptopCaughtUp();
    laptop.removePeer(region.url!);
    await vi.waitFor(async () => expect((await laptop.status()).peers.filter((p) => p.state === 'connected')).toEqual([]));

    await laptop.records.update('t-north-0', { territory: 'south' });
    expect(await laptop.subscribe({ territories: ['north', 'south'] })).toEqual({ evicted: 0 });
    laptop.addPeer(region.url!);
    await caughtUp(region, laptop);
    const northSouth = (await listAll(region)).filter((r) => r.territory === 'north' || r.territory === 'south');
    await vi.waitFor(async () => expect(await listAll(laptop)).toEqual(northSouth), { timeout: 30_000, interval: 50 });
  });

  it('keeps its subscription when opened without one (an offline command), and holds everything when told to', async () => {
    const region = await regionWithRecords(3);
    const dataDir = await h.tempDir();
    let laptop = await laptopOn(dataDir, ['north'], [region.url!]);
    await caughtUp(laptop, region);
    const north = (await listAll(region)).filter((r) => r.territory === 'north');
    await laptop.close();

    // As `crmsync records list -d` opens it: no subscription given, no peers.
    laptop = await h.open({ dataDir, ...member(), peers: [] });
    expect((await laptop.status()).holding).toMatchObject({ subscription: { territories: ['north'] }, complete: true });
    expect(await listAll(laptop)).toEqual(north);
    // A south record written offline leaves at once, as on the running laptop (its change stays whole for the region).
    await laptop.records.create({ id: 'offline-s', name: 'Offline South', territory: 'south' });
    expect(await laptop.records.get('offline-s')).toBeUndefined();
    await laptop.close();
    laptop = await h.open({ dataDir, ...member(), peers: [region.url!] });
    await vi.waitFor(async () => expect((await region.records.get('offline-s'))?.name).toBe('Offline South'), { timeout: 30_000, interval: 50 });
    expect((await laptop.status()).holding.subscription).toEqual({ territories: ['north'] });
    await laptop.close();

    // Told to hold everything its scope allows (null; `crmsync start --all-records`): the region sends the rest.
    laptop = await h.open({ dataDir, ...member(), subscription: null, peers: [region.url!] });
    expect((await laptop.status()).holding.subscription).toBeNull();
    const inScope = (await listAll(region)).filter((r) => r.territory === 'north' || r.territory === 'south');
    await vi.waitFor(async () => expect(await listAll(laptop)).toEqual(inScope), { timeout: 30_000, interval: 50 });
    await laptop.close();
    laptop = await h.open({ dataDir, ...member(), peers: [] });
    expect((await laptop.status()).holding.subscription).toBeNull();
  });

  it('asks again on the next session when the first closed before the region answered', async () => {
    const region = await regionWithRecords(3);
    const dataDir = await h.tempDir();
    let laptop = await laptopOn(dataDir, ['north'], [region.url!]);
    await caughtUp(laptop, region);
    await laptop.close();
    // Started wider with no peer: nothing can answer, so the data stays incomplete across a restart.
    laptop = await laptopOn(dataDir, ['north', 'south'], []);
    expect((await laptop.status()).holding.complete).toBe(false);
    await laptop.close();
    laptop = await laptopOn(dataDir, ['north', 'south'], [region.url!]);
    const northSouth = (await listAll(region)).filter((r) => r.territory === 'north' || r.territory === 'south');
    await vi.waitFor(async () => expect(await listAll(laptop)).toEqual(northSouth), { timeout: 30_000, interval: 50 });
    await vi.waitFor(async () => expect((await laptop.status()).holding.complete).toBe(true), { timeout: 30_000, interval: 50 });
  });
});
