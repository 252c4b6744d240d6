/**
 * peerToken over real sockets: a node with a token refuses peers without it (in the
 * HTTP upgrade, so no data crosses) and accepts peers that present it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer as createTlsServer } from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { issueCertificate } from '../../src/net/certificate.js';
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

describe('peerToken and TLS servers', () => {
  /** A TLS server with a key no trust list knows, recording every request head it gets. */
  async function impostor(): Promise<{ url: string; heads: string[]; close: () => void }> {
    const key = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const cert = await issueCertificate({ subjectKeyPem: key, subjectName: 'impostor', issuerPrivateKeyPem: key, issuerName: 'impostor', altNames: ['127.0.0.1'] });
    const heads: string[] = [];
    const server = createTlsServer({ key, cert, minVersion: 'TLSv1.3' }, (socket) => {
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        heads.push(chunk.toString('latin1'));
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return { url: `wss://127.0.0.1:${port}`, heads, close: () => server.close() };
  }

  it('goes over wss:// only to a server whose certificate key is a member: never to an unknown one', async () => {
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', tls: 'self-signed', peerToken: 'open sesame' });
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', tls: 'self-signed', peerToken: 'open sesame', peers: [b.url!] });
    await a.records.create({ id: 'x', name: 'Sent with the token' });
    await waitForConvergence([a, b]); // b is a member: the token went to it
    const fake = await impostor();
    try {
      a.addPeer(fake.url);
      await vi.waitFor(() => expect(fake.heads.length).toBeGreaterThan(0), { timeout: 20_000 });
      expect(fake.heads[0]).toMatch(/^GET \/ HTTP\/1\.1\r\n/);
      expect(fake.heads.join('')).not.toMatch(/authorization/i);
      expect(fake.heads.join('')).not.toContain('open sesame');
    } finally {
      a.removePeer(fake.url);
      fake.close();
    }
  });
});
