/**
 * Holds reports under attack (PROTOCOL.md "Holds reports"): a member that forges another
 * member's report (to make a node collect a tombstone that member still lacks) is not
 * believed, and its later reports are not read either; a malformed or oversized `holds`
 * closes only its session (1002). Honest sync carries on, and the tombstone stays.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FIXED } from '../../src/limits.js';
import { holdsSigningInput } from '../../src/sync/messages.js';
import { realTimers, type Timers } from '../../src/timers.js';
import { expectHonestSync } from '../support/attack-rig.js';
import { rawPeer, type RawPeer } from '../support/raw-peer.js';
import { Harness, waitForConvergence } from './helpers.js';

const RETENTION = 60_000;
const LIMITS = { lifecycleIntervalMs: 50, tombstoneRetentionMs: RETENTION };
const h = new Harness();
afterEach(() => h.cleanup());

/** A report about `node` holding `seq` of origin a, signed by `peer`'s key (honest only when node is peer's own). */
function reportBy(peer: RawPeer, node: string, seq: number, at: number): Record<string, unknown> {
  const body = { node, at, clock: [['a', seq]] as [string, number][] };
  return { ...body, sig: peer.keys.sign(holdsSigningInput(peer.cluster, body)) };
}

describe('holds reports from a hostile member', () => {
  it('a forged report of another member is not believed: the tombstone that member lacks stays', async () => {
    let offset = 0;
    const time: Timers = { now: () => Date.now() + offset, after: realTimers.after };
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', timers: time, limits: LIMITS });
    const dirB = await h.tempDir();
    let b = await h.open({ dataDir: dirB, nodeId: 'b', peers: [a.url!], limits: LIMITS });
    await a.records.create({ id: 'c-old', name: 'Old Customer' });
    await waitForConvergence([a, b]);
    const joining = h.cluster.member('mallory');
    const mallory = await rawPeer(a.url!, joining, { proof: joining.cluster.statements.slice(-1), autoAck: true });
    await b.close(); // b will not hold the delete
    await a.records.delete('c-old');

    // Mallory says, truthfully signed, that it holds everything, and forges b's report.
    const now = Date.now();
    mallory.send({ type: 'have', clock: [['a', 1_000, new Uint8Array(32).fill(7)]] });
    mallory.send({ type: 'holds', reports: [reportBy(mallory, 'mallory', 1_000, now), reportBy(mallory, 'b', 1_000, now)] });
    offset += RETENTION + 1;
    const start = (await a.status()).lifecycle.passes;
    await vi.waitFor(async () => expect((await a.status()).lifecycle.passes).toBeGreaterThanOrEqual(start + 4), { timeout: 20_000 });
    expect((await a.records.get('c-old'))?.deleted).toBe(true);
    expect(mallory.ws.readyState).toBe(mallory.ws.OPEN);

    // An oversized or malformed holds message closes mallory's session only.
    const tooMany = Array.from({ length: FIXED.maxHoldsReports + 1 }, (_, i) => reportBy(mallory, 'mallory', 1, now + i));
    mallory.send({ type: 'holds', reports: tooMany });
    expect((await mallory.closed).code).toBe(1002);
    const second = await rawPeer(a.url!, joining, { proof: joining.cluster.statements.slice(-1), autoAck: true });
    second.send({ type: 'holds', reports: [{ node: 'b', at: 1, clock: 'all of it', sig: new Uint8Array(64) }] });
    expect((await second.closed).code).toBe(1002);

    b = await h.open({ dataDir: dirB, nodeId: 'b', peers: [a.url!], limits: LIMITS });
    await expectHonestSync([a, b]);
  }, 60_000);
});
