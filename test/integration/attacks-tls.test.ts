/**
 * Issue 8, handshake over TLS with a wrong certificate: a man in the middle that
 * terminates TLS with a certificate of its own on both sides and relays every frame
 * verbatim. Each node signs the channel binding of its own TLS connection, which the
 * other node's connection does not share, so both proofs fail (4013) and nothing passes
 * through it, while the same two nodes sync directly. (Wrong key, revoked key, replayed
 * transcript, expired invitation and wrong cluster are in attacks-identity.test.ts,
 * trust.test.ts and test/sync/handshake.test.ts.)
 */
import { createServer, type Server } from 'node:https';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createNodeCertificate } from '../../src/net/certificate.js';
import { CloseCode } from '../../src/net/transport.js';
import { generateNodeKeys } from '../../src/trust/keys.js';
import { Harness, captureLog, connectedPeers, waitForConvergence, type LogLine } from './helpers.js';

const h = new Harness();
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await h.cleanup();
});

/** A TLS relay to `target` with its own self-signed certificate; counts the frames it relayed. */
async function manInTheMiddle(target: string): Promise<{ url: string; relayed: { toTarget: number; toDialer: number } }> {
  const keys = generateNodeKeys();
  const cert = await createNodeCertificate(keys.privateKeyPem, 'mallory');
  const server = createServer({ key: keys.privateKeyPem, cert, requestCert: true, rejectUnauthorized: false });
  servers.push(server);
  const relayed = { toTarget: 0, toDialer: 0 };
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (dialer) => {
    const onward = new WebSocket(target, { key: keys.privateKeyPem, cert, rejectUnauthorized: false, perMessageDeflate: false });
    const early: Buffer[] = [];
    dialer.on('message', (data) => {
      relayed.toTarget++;
      if (onward.readyState === WebSocket.OPEN) onward.send(data as Buffer);
      else early.push(data as Buffer);
    });
    onward.on('open', () => { for (const frame of early.splice(0)) onward.send(frame); });
    onward.on('message', (data) => {
      relayed.toDialer++;
      dialer.send(data as Buffer);
    });
    const end = (): void => { dialer.terminate(); onward.terminate(); };
    for (const ws of [dialer, onward]) ws.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `wss://127.0.0.1:${port}`, relayed };
}

const refusedBadProof = (lines: LogLine[]): boolean => lines.some((l) => l.msg === 'peer refused' && l.code === CloseCode.badSignature);

describe('TLS with a wrong certificate', () => {
  it('a relay with its own certificate between two members: both proofs fail with 4013 and nothing passes; direct, they sync', async () => {
    const logA = captureLog();
    const logB = captureLog();
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', tls: 'self-signed', logger: logA.logger });
    const mitm = await manInTheMiddle(a.url!);
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', tls: 'self-signed', logger: logB.logger, peers: [mitm.url] });
    await a.records.create({ id: 'only-a', name: 'Held by a' });
    await b.records.create({ id: 'only-b', name: 'Held by b' });

    await vi.waitFor(() => expect([refusedBadProof(logA.lines), refusedBadProof(logB.lines)]).toEqual([true, true]), { timeout: 20_000 });
    // The relay carried the handshake, and no session opened on either side.
    expect(mitm.relayed.toTarget).toBeGreaterThanOrEqual(2);
    expect([await connectedPeers(a), await connectedPeers(b)]).toEqual([0, 0]);
    expect(logA.lines.concat(logB.lines).filter((l) => l.msg === 'peer session open')).toEqual([]);
    expect(await a.records.get('only-b')).toBeUndefined();
    expect(await b.records.get('only-a')).toBeUndefined();

    // The same two nodes, over a direct link: they sync.
    b.removePeer(mitm.url);
    b.addPeer(a.url!);
    await waitForConvergence([a, b]);
    expect(await b.records.get('only-a')).toMatchObject({ name: 'Held by a' });
  });
});
