/**
 * Anti-entropy under attack: a member flooding digest requests gets each served at most
 * once per turn ('busy'), at most maxDigestRequestsPerWindow per window ('rate'), and
 * makes the node scan its records at most once per window however much the log moves;
 * a malformed digest message closes only that session with 1002. Honest sync carries on.
 */
import { Engine } from '../../src/engine/engine.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectHonestSync } from '../support/attack-rig.js';
import { rawPeer, type RawPeer } from '../support/raw-peer.js';
import { Harness, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => {
  vi.restoreAllMocks();
  return h.cleanup();
});

const WINDOW_REQUESTS = 8;

async function setup(): Promise<{ a: Awaited<ReturnType<Harness['open']>>; b: Awaited<ReturnType<Harness['open']>>; mallory: RawPeer }> {
  const limits = { maxDigestRequestsPerWindow: WINDOW_REQUESTS, digestWindowMs: 600_000 };
  const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', antiEntropyIntervalMs: 0, limits });
  await a.records.upsertMany(Array.from({ length: 300 }, (_, i) => ({ id: `c-${i}`, fields: { name: `Customer ${i}` } })));
  const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [a.url!], antiEntropyIntervalMs: 0 });
  await waitForConvergence([a, b]);
  const joining = h.cluster.member('mallory');
  const mallory = await rawPeer(a.url!, joining, { proof: joining.cluster.statements.slice(-1), autoAck: true });
  return { a, b, mallory };
}

const responses = (peer: RawPeer) => peer.received.filter((m) => m.type === 'digest-response');

describe('anti-entropy against a flooding member', () => {
  it('refuses requests beyond one at a time and the window budget, scans at most once per window, and keeps syncing', async () => {
    const { a, b, mallory } = await setup();
    const scans = vi.spyOn(Engine.prototype, 'listHeads');
    const FLOOD = 200;
    for (let req = 1; req <= FLOOD; req++) {
      mallory.send({ type: 'digest-request', req, what: req % 2 ? 'groups' : 'compare', paths: [], ids: req % 2 ? [] : ['c-1'], clock: [] });
      // The log moves while the flood runs: every groups request would want a fresh scan.
      if (req % 50 === 0) await b.records.create({ id: `moved-${req}`, name: 'Moving log' });
      // In bursts below maxInboxFrames (64): a peer that queues more unprocessed frames is
      // closed with 1008 (attacks-frames), which on a loaded machine would end this flood early.
      if (req % 32 === 0) await vi.waitFor(() => expect(responses(mallory)).toHaveLength(req), { timeout: 30_000 });
    }
    await vi.waitFor(() => expect(responses(mallory)).toHaveLength(FLOOD), { timeout: 30_000 });
    const answered = responses(mallory).filter((m) => m.refused === undefined);
    const refused = responses(mallory).filter((m) => m.refused !== undefined);
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.length).toBeLessThanOrEqual(WINDOW_REQUESTS);
    for (const m of refused) expect(['busy', 'rate']).toContain(m.refused);
    expect(refused.length).toBe(FLOOD - answered.length);
    // One scan per page of 1,000 records: 300 records, at most one scan in the window.
    expect(scans.mock.calls.length).toBeLessThanOrEqual(1);
    expect((await a.status()).antiEntropy.refusedRequests).toBe(refused.length);
    await expectHonestSync([a, b]);
    expect(mallory.ws.readyState).toBe(mallory.ws.OPEN);
  });

  it('closes only the session of a malformed digest message (1002)', async () => {
    const { a, b, mallory } = await setup();
    mallory.send({ type: 'digest-request', req: 1, what: 'children', paths: [[null, 'NOT-HEX']], ids: [] });
    expect((await mallory.closed).code).toBe(1002);
    await expectHonestSync([a, b]);
    expect((await a.verifyPeer('b')).differing).toBe(0);
  });
});
