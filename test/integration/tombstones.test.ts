/**
 * Tombstone collection across real nodes (LevelDB in temp dirs, sockets on 127.0.0.1),
 * with an injected clock: a deleted record is collected only once the retention period
 * passed AND every member holds the delete, never earlier; a collected record does not
 * come back from a member restored from a backup taken before the delete, which edits
 * it and reconnects.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import { writeBackupFile } from '../../src/migrate/backup.js';
import { restoreBackup } from '../../src/migrate/restore.js';
import { Harness, testClock, waitForConvergence } from './helpers.js';

const RETENTION = 60_000;
const LIMITS = { lifecycleIntervalMs: 50, tombstoneRetentionMs: RETENTION };

let harness: Harness;
afterEach(async () => {
  await harness.cleanup();
});


/** Waits until `node` ran `count` more collection passes. */
async function passes(node: CrmNode, count: number): Promise<void> {
  const start = (await node.status()).lifecycle.passes;
  await vi.waitFor(async () => expect((await node.status()).lifecycle.passes).toBeGreaterThanOrEqual(start + count), { timeout: 20_000 });
}

/** A fresh harness with node a (on the test's clock) and node b dialing it, each on its own directory; c-old created on a. */
async function twoNodes() {
  harness = new Harness();
  const time = testClock();
  const dirB = await harness.tempDir();
  const a = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'a', timers: time, limits: LIMITS });
  const b = await harness.open({ dataDir: dirB, nodeId: 'b', peers: [a.url!], limits: LIMITS });
  await a.records.create({ id: 'c-old', name: 'Old Customer' });
  return { time, dirB, a, b };
}

describe('tombstone collection', () => {
  it('waits for the retention period and for every member to hold the delete, then collects', async () => {
    const { time, dirB, a, b: first } = await twoNodes();
    let b = first;
    await a.records.create({ id: 'c-keep', name: 'Kept Customer' });
    await waitForConvergence([a, b]);
    await passes(a, 2); // a has learned what b holds

    // Every member holds the delete, but the retention period has not passed.
    await a.records.delete('c-keep');
    await waitForConvergence([a, b]);
    await passes(a, 3);
    expect((await a.records.get('c-keep'))?.deleted).toBe(true);

    // b goes away before the next delete: the retention passes, but b does not hold it.
    await b.close();
    await a.records.delete('c-old');
    time.advance(RETENTION + 1);
    await passes(a, 3);
    expect((await a.status()).lifecycle).toMatchObject({ stable: true });
    expect((await a.records.get('c-old'))?.deleted).toBe(true);
    // c-keep was held by b before b left, and its retention passed: collected.
    await vi.waitFor(async () => expect(await a.records.get('c-keep')).toBeUndefined(), { timeout: 20_000 });

    // b comes back (same data directory) and catches up: now c-old goes too.
    b = await harness.open({ dataDir: dirB, nodeId: 'b', peers: [a.url!], limits: LIMITS });
    await vi.waitFor(async () => expect(await a.records.get('c-old')).toBeUndefined(), { timeout: 20_000 });
    expect((await a.status()).lifecycle.collected).toBe(2);
    expect((await a.status()).records).toEqual({ live: 0, deleted: 0, indexBacklog: 0 });
    await expect(a.records.restore('c-old')).rejects.toMatchObject({ code: 'ERR_GONE' });
    await expect(a.records.put('c-old', { name: 'Reused id' })).rejects.toMatchObject({ code: 'ERR_GONE' });
    expect((await b.records.get('c-old'))?.deleted).toBe(true); // b's own clock has not passed the retention
  }, 90_000);

  it('in a line a – b – c, a learns what c holds from c\'s signed report that b relays, and collects only once c holds the delete', async () => {
    harness = new Harness();
    const time = testClock();
    const a = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'a', timers: time, limits: LIMITS });
    const b = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'b', peers: [a.url!], limits: LIMITS });
    const dirC = await harness.tempDir();
    let c = await harness.open({ dataDir: dirC, nodeId: 'c', peers: [b.url!], limits: LIMITS });
    await a.records.create({ id: 'c-old', name: 'Old Customer' });
    await waitForConvergence([a, b, c]);
    // a has no session with c, yet knows every member's holdings (stable) from the reports.
    await vi.waitFor(async () => expect((await a.status()).lifecycle).toMatchObject({ stable: true, waitingFor: [] }), { timeout: 20_000 });
    expect((await a.status()).peers.map((p) => p.node)).toEqual(['b']);

    // c goes away before the delete: b holds it, c does not, so a keeps the tombstone.
    await c.close();
    await a.records.delete('c-old');
    await waitForConvergence([a, b]);
    time.advance(RETENTION + 1);
    await passes(a, 3);
    expect((await a.records.get('c-old'))?.deleted).toBe(true);

    // c comes back through b and catches up; its next report reaches a through b.
    c = await harness.open({ dataDir: dirC, nodeId: 'c', peers: [b.url!], limits: LIMITS });
    await waitForConvergence([a, b, c]);
    await vi.waitFor(async () => expect(await a.records.get('c-old')).toBeUndefined(), { timeout: 20_000 });
    expect((await a.status()).lifecycle.collected).toBe(1);
  }, 90_000);

  it('knows after a restart what members held (nothing is collected early or forgotten)', async () => {
    harness = new Harness();
    const time = testClock();
    const dirA = await harness.tempDir();
    let a = await harness.open({ dataDir: dirA, nodeId: 'a', timers: time, limits: LIMITS });
    const b = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'b', peers: [a.url!], limits: LIMITS });
    await a.records.create({ id: 'c-old', name: 'Old Customer' });
    await a.records.delete('c-old');
    await waitForConvergence([a, b]);
    await passes(a, 2);
    await b.close();
    await a.close();
    // Restarted without b: what b held is remembered, so the tombstone can go once the retention passed.
    time.advance(RETENTION + 1);
    a = await harness.open({ dataDir: dirA, nodeId: 'a', timers: time, limits: LIMITS });
    await vi.waitFor(async () => expect(await a.records.get('c-old')).toBeUndefined(), { timeout: 20_000 });
  }, 90_000);

  it('a member restored from a backup taken before the delete edits the record and reconnects: it does not come back', async () => {
    const { time, dirB, a, b } = await twoNodes();
    await waitForConvergence([a, b]);
    const old = join(dirB, '..', 'before-delete.crmbak');
    await writeBackupFile(b, old);
    await a.records.delete('c-old');
    await waitForConvergence([a, b]);
    time.advance(RETENTION + 1);
    await vi.waitFor(async () => expect(await a.records.get('c-old')).toBeUndefined(), { timeout: 20_000 });
    await b.close();
    // b's directory is lost; b is restored from the old backup, edits the record, reconnects.
    const restored = await harness.open({ dataDir: await harness.tempDir(), nodeId: 'b', limits: LIMITS });
    await restoreBackup(restored, () => [readFile(old)] as never);
    await restored.records.update('c-old', { notes: 'called again' });
    restored.addPeer(a.url!);
    await vi.waitFor(async () => expect((await a.status()).clock.b).toBe((await restored.status()).clock.b), { timeout: 20_000 });
    await vi.waitFor(async () => expect((await restored.records.get('c-old'))?.deleted).toBe(true), { timeout: 20_000 });
    expect(await a.records.get('c-old')).toBeUndefined();
    expect((await a.status()).records).toEqual({ live: 0, deleted: 0, indexBacklog: 0 });
  }, 90_000);
});
