/**
 * Members behind one address (a sales office NAT, or the fanout bench on one host): the
 * per-address cap bounds handshakes, not members. Before, the 33rd laptop of an office
 * got 429 for as long as the others stayed connected, and never caught up.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Harness, connectedPeers, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

/** Opens a WebSocket to `url` that never says hello: its HTTP status, or 'open'. */
function stranger(url: string): Promise<{ outcome: number | 'open'; ws?: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, localAddress: '127.0.0.1' });
    ws.once('open', () => resolve({ outcome: 'open', ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ outcome: res.statusCode ?? 0 }));
    ws.once('error', () => undefined);
  });
}

describe('members behind one address', () => {
  it('all connect and sync beyond maxConnectionsPerAddress, while strangers there still get 429 past the cap', async () => {
    const cap = 2;
    const region = await h.open({ dataDir: await h.tempDir(), nodeId: 'region', limits: { maxConnectionsPerAddress: cap } });
    await region.records.create({ id: 'cust-1', name: 'Ada' });
    const laptops = [];
    for (let i = 0; i < 5; i++) laptops.push(await h.open({ dataDir: await h.tempDir(), nodeId: `laptop-${i}`, peers: [region.url!] }));
    await vi.waitFor(async () => expect(await connectedPeers(region)).toBe(5), { timeout: 20_000 });
    await waitForConvergence([region, ...laptops]);
    for (const laptop of laptops) expect((await laptop.records.get('cust-1'))?.name).toBe('Ada');

    // Five members from 127.0.0.1, and still only `cap` unproven connections from there.
    const strangers = await Promise.all(Array.from({ length: cap + 1 }, () => stranger(region.url!)));
    expect(strangers.map((s) => s.outcome).sort()).toEqual([429, 'open', 'open']);
    for (const s of strangers) s.ws?.terminate();
    expect(await connectedPeers(region)).toBe(5);
  });
});
