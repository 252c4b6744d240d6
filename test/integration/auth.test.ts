/**
 * peerToken over real sockets: a node with a token refuses peers without it (in the
 * HTTP upgrade, so no data crosses) and accepts peers that present it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Harness, captureLog, connectedPeers, listAll, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

/** The HTTP status a bare WebSocket upgrade gets with these headers (101 if accepted). */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.close();
    });
    ws.once('error', (err) => reject(err));
  });
}

describe('peerToken', () => {
  it('refuses a peer without the token and accepts one with it', async () => {
    const log = captureLog();
    // Refusal lines are rate-limited per reason; a short interval lets this test see two.
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', peerToken: 'open sesame', logger: log.logger, limits: { refusedLogIntervalMs: 50 } });
    const dirB = await h.tempDir();
    let b = await h.open({ dataDir: dirB, nodeId: 'b', peers: [a.url!] });
    const c = await h.open({ dataDir: await h.tempDir(), nodeId: 'c', peerToken: 'open sesame', peers: [a.url!] });
    await a.records.create({ id: 'on-a', name: 'Secret Customer' });
    await b.records.create({ id: 'on-b', name: 'Outsider Customer' });
    await c.records.create({ id: 'on-c', name: 'Partner Customer' });

    // The peer with the token syncs.
    await waitForConvergence([a, c]);
    // The peer without it has been refused, and keeps being refused as it redials.
    const refused = (l: { msg?: string; reason?: string }) => l.msg === 'connection refused' && l.reason === 'token';
    await vi.waitFor(() => expect(log.lines.filter(refused).length).toBeGreaterThanOrEqual(2), { timeout: 20_000 });
    const bPeers = (await b.status()).peers;
    expect(bPeers).toHaveLength(1);
    expect(bPeers[0]).toMatchObject({ url: a.url, node: null });
    expect(bPeers[0]!.state).not.toBe('connected');
    expect((await a.status()).peers.filter((p) => p.state === 'connected').map((p) => p.node)).toEqual(['c']);
    // No data crossed in either direction.
    expect((await listAll(b)).map((r) => r.id)).toEqual(['on-b']);
    expect((await b.status()).clock).toEqual({ b: 1 });
    expect((await listAll(a)).map((r) => r.id)).toEqual(['on-a', 'on-c']);
    expect((await a.status()).clock).not.toHaveProperty('b');

    // At the HTTP level: no token or a wrong one gets 401 and never a socket.
    expect(await upgradeStatus(a.url!, {})).toBe(401);
    expect(await upgradeStatus(a.url!, { Authorization: 'Bearer open sesam' })).toBe(401);
    expect(await upgradeStatus(a.url!, { Authorization: 'Bearer open sesame' })).toBe(101);

    // b restarted with the token joins, and everything converges.
    await b.close();
    b = await h.open({ dataDir: dirB, nodeId: 'b', peerToken: 'open sesame', peers: [a.url!] });
    await vi.waitFor(async () => expect(await connectedPeers(b)).toBe(1), { timeout: 20_000 });
    const common = await waitForConvergence([a, b, c]);
    expect(common.records.map((r) => r.id)).toEqual(['on-a', 'on-b', 'on-c']);
  });
});
