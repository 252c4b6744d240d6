/**
 * Log truncation and bootstrap from record documents across real nodes (LevelDB in temp
 * dirs, sockets on 127.0.0.1), with an injected clock on the truncating nodes: the log
 * is truncated once every member heard from holds it and the retention passed; records
 * stay whole; a new node, a subscribed laptop and a member away longer than the
 * retention are brought back by a region with documents and floors, deleted records stay
 * deleted, and offline edits are kept.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import { Harness, listAll, testClock, waitForConvergence } from './helpers.js';

const RETENTION = 60_000;
const LIMITS = { lifecycleIntervalMs: 50, logRetentionMs: RETENTION, signEveryEntries: 4 };

let harness: Harness;
afterEach(async () => {
  await harness.cleanup();
});


async function logStart(node: CrmNode): Promise<number> {
  return (await node.status()).lifecycle.logStart;
}

/** Writes `n` records on `node` (every fifth in territory south) and edits each once. */
async function writeSome(node: CrmNode, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    await node.records.create({ id: `c-${tag}-${i}`, name: `Customer ${tag} ${i}`, territory: i % 5 === 0 ? 'south' : 'north' });
  }
  for (let i = 0; i < n; i++) await node.records.update(`c-${tag}-${i}`, { notes: `called ${tag} ${i}` });
}

describe('log truncation', () => {
  it('truncates what every member holds once the retention passed; records, restarts and sync go on', async () => {
    harness = new Harness();
    const time = testClock();
    const dirA = await harness.tempDir();
    let a = await harness.open({ dataDir: dirA, nodeId: 'a', timers: time, limits: LIMITS });
    const b = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'b', peers: [a.url!], timers: time, limits: LIMITS });
    await writeSome(a, 20, 'a');
    await writeSome(b, 10, 'b');
    await a.records.delete('c-a-1');
    const before = await waitForConvergence([a, b]);
    const feedBefore = (await a.changesSince(0, 10_000)).length;

    // Not before the retention: every member holds everything, but nothing is old enough.
    await vi.waitFor(async () => expect((await a.status()).lifecycle.stable).toBe(true), { timeout: 20_000 });
    expect(await logStart(a)).toBe(1);
    time.advance(RETENTION + 1);
    await vi.waitFor(async () => expect(await logStart(a)).toBeGreaterThan(50), { timeout: 20_000 });
    await vi.waitFor(async () => expect(await logStart(b)).toBeGreaterThan(50), { timeout: 20_000 });
    expect((await a.status()).lifecycle.truncated).toBeGreaterThan(50);
    expect((await a.changesSince(0, 10_000)).length).toBeLessThan(feedBefore);
    // Every record is whole (their documents were compacted first).
    expect(await listAll(a)).toEqual(before.records);
    expect(a.exportFloors().floors.map((f) => f.origin).sort()).toEqual(['a', 'b']);

    // Writes and sync go on from the floors, both ways.
    await a.records.update('c-b-3', { phone: '+49 30 1234' });
    await b.records.update('c-a-4', { phone: '+49 40 5678' });
    await waitForConvergence([a, b]);
    expect((await b.records.get('c-b-3'))?.phone).toBe('+49 30 1234');

    // A restart keeps the start, the floors and the numbering.
    const start = await logStart(a);
    const clockA = (await a.status()).clock;
    await a.close();
    a = await harness.open({ dataDir: dirA, nodeId: 'a', peers: [b.url!], timers: time, limits: { ...LIMITS, lifecycleIntervalMs: 3_600_000 } });
    expect((await a.status()).clock).toEqual(clockA);
    expect((await a.status()).lifecycle.logStart).toBe(start);
    expect((await a.status()).lastLocalSeq).toBeGreaterThanOrEqual(start - 1);
    await a.records.update('c-a-2', { email: 'after@example.com' });
    await waitForConvergence([a, b]);
    expect((await a.verify()).problems).toBe(0);
  }, 90_000);

  it('a new node bootstraps from record documents and floors; deleted records stay deleted', async () => {
    harness = new Harness();
    const time = testClock();
    const a = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'a', timers: time, limits: LIMITS });
    // More documents than a peer's inbox holds (maxInboxFrames): the sender paces them (doc-pacer.ts).
    await writeSome(a, 200, 'a');
    await a.records.delete('c-a-7');
    await vi.waitFor(async () => expect((await a.status()).lifecycle.stable).toBe(true), { timeout: 20_000 });
    time.advance(RETENTION + 1);
    await vi.waitFor(async () => expect(await logStart(a)).toBeGreaterThan(400), { timeout: 20_000 });
    // Edits after the truncation travel as entries after the documents.
    await a.records.update('c-a-9', { phone: '+1 555 0100' });

    const c = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'c', peers: [a.url!], limits: LIMITS });
    const converged = await waitForConvergence([a, c]);
    expect(converged.records.find((r) => r.id === 'c-a-7')?.deleted).toBe(true);
    expect(converged.records.find((r) => r.id === 'c-a-9')?.phone).toBe('+1 555 0100');
    expect(c.exportFloors().floors.map((f) => [f.origin, f.seq])).toEqual(a.exportFloors().floors.map((f) => [f.origin, f.seq]));
    // c syncs on normally: its writes reach a, a's reach c.
    await c.records.update('c-a-3', { notes: 'from c' });
    await a.records.update('c-a-5', { notes: 'from a' });
    await waitForConvergence([a, c]);
    expect((await c.verify()).problems).toBe(0);
  }, 90_000);

  it('a node started again on an empty directory (its data lost) is brought back with its own floor, and writes on without a fork', async () => {
    harness = new Harness();
    const time = testClock();
    const a = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'a', timers: time, limits: LIMITS });
    let b = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'b', peers: [a.url!], timers: time, limits: LIMITS });
    await writeSome(b, 20, 'b');
    await waitForConvergence([a, b]);
    time.advance(RETENTION + 1);
    await vi.waitFor(async () => expect(await logStart(a)).toBeGreaterThan(30), { timeout: 20_000 });
    const own = (await b.status()).clock.b!;
    await b.close();
    b = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'b', peers: [a.url!], timers: time, limits: LIMITS });
    await waitForConvergence([a, b]);
    expect((await b.status()).clock.b).toBe(own);
    // It numbers on after what it had written: a takes it (a fork would close with 4001).
    await b.records.update('c-b-1', { notes: 'after the loss' });
    await vi.waitFor(async () => expect((await a.records.get('c-b-1'))?.notes).toBe('after the loss'), { timeout: 20_000 });
    expect((await a.status()).clock.b).toBe(own + 1);
  }, 90_000);

  it('a subscribed laptop bootstraps with the documents of its holding only', async () => {
    harness = new Harness();
    const time = testClock();
    const a = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'a', timers: time, limits: LIMITS });
    await writeSome(a, 30, 'a');
    await vi.waitFor(async () => expect((await a.status()).lifecycle.stable).toBe(true), { timeout: 20_000 });
    time.advance(RETENTION + 1);
    await vi.waitFor(async () => expect(await logStart(a)).toBeGreaterThan(40), { timeout: 20_000 });

    const member = harness.cluster.member('lap', { role: 'laptop', scope: { territories: ['south'] } });
    const laptop = await harness.open({ dataDir: await harness.tempDir(), ...member, subscription: { territories: ['south'] }, peers: [a.url!], limits: LIMITS });
    const south = (await listAll(a)).filter((r) => r.territory === 'south');
    expect(south.length).toBe(6);
    await vi.waitFor(async () => expect(await listAll(laptop)).toEqual(south), { timeout: 30_000 });
    await vi.waitFor(async () => expect((await laptop.status()).clock).toEqual((await a.status()).clock), { timeout: 20_000 });
    // Live changes reach it from the floor on.
    await a.records.update('c-a-5', { notes: 'south, live' });
    await vi.waitFor(async () => expect((await laptop.records.get('c-a-5'))?.notes).toBe('south, live'), { timeout: 20_000 });
  }, 90_000);

  it('does not wait for a member away longer than the retention; it comes back through documents with its offline edits', async () => {
    harness = new Harness();
    const time = testClock();
    const limits = { ...LIMITS, tombstoneRetentionMs: RETENTION };
    const a = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'a', timers: time, limits });
    const b = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'b', peers: [a.url!], timers: time, limits });
    const dirC = await harness.tempDir();
    let c = await harness.open({ dataDir: dirC, nodeId: 'c', peers: [a.url!], limits: LIMITS });
    await writeSome(a, 10, 'a');
    await waitForConvergence([a, b, c]);
    await vi.waitFor(async () => expect((await a.status()).lifecycle.stable).toBe(true), { timeout: 20_000 });

    // c goes offline and edits there; a and b go on without it.
    await c.close();
    c = await harness.open({ dataDir: dirC, nodeId: 'c', limits: LIMITS });
    await c.records.update('c-a-2', { notes: 'offline on c' });
    await c.records.create({ id: 'c-made-offline', name: 'Offline Customer' });
    await c.close();
    await writeSome(a, 10, 'later');
    await a.records.delete('c-a-4');
    await waitForConvergence([a, b]);
    // Before the retention, c's old report holds the log back; after it, c is absent.
    await vi.waitFor(async () => expect((await a.status()).lifecycle.passes).toBeGreaterThan(3), { timeout: 20_000 });
    expect(await logStart(a)).toBe(1);
    time.advance(2 * RETENTION + 1);
    await vi.waitFor(async () => expect((await a.status()).lifecycle.absent).toEqual(['c']), { timeout: 20_000 });
    await vi.waitFor(async () => expect(await logStart(a)).toBeGreaterThan(40), { timeout: 20_000 });
    // The tombstone waits for c all the same: the delete's entry is gone from a's log, but c
    // may not hold it.
    const passed = (await a.status()).lifecycle.passes;
    await vi.waitFor(async () => expect((await a.status()).lifecycle.passes).toBeGreaterThan(passed + 3), { timeout: 20_000 });
    expect((await a.records.get('c-a-4'))?.deleted).toBe(true);

    c = await harness.open({ dataDir: dirC, nodeId: 'c', peers: [a.url!], limits: LIMITS });
    await vi.waitFor(async () => expect((await c.status()).clock).toEqual((await a.status()).clock), { timeout: 30_000 });
    await vi.waitFor(async () => expect((await a.records.get('c-a-2'))?.notes).toBe('offline on c'), { timeout: 20_000 });
    expect((await a.records.get('c-made-offline'))?.name).toBe('Offline Customer');
    expect((await c.records.get('c-later-3'))?.notes).toBe('called later 3');
    expect((await c.records.get('c-a-4'))?.deleted).toBe(true); // not resurrected
    // With c back and holding the floors, the tombstone goes (on a, whose clock passed the retention).
    await vi.waitFor(async () => expect(await a.records.get('c-a-4')).toBeUndefined(), { timeout: 20_000 });
    const live = async (node: CrmNode) => (await listAll(node)).filter((r) => r.id !== 'c-a-4');
    await vi.waitFor(async () => expect(await live(c)).toEqual(await live(a)), { timeout: 20_000 });
  }, 120_000);
});
