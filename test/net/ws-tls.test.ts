/**
 * The WebSocket transport over TLS 1.3 with real sockets: what only a real TLS stack can
 * show (protocol version, client certificates, an operator CA, and that a refused server
 * receives no byte of ours). The identity behaviour common to both transports is in
 * conformance-security.ts.
 */
import { generateKeyPairSync } from 'node:crypto';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { issueCertificate } from '../../src/net/certificate.js';
import type { TlsOptions } from '../../src/net/transport.js';
import { frameOf, indexOf, nodeIdentity, once, record, type NodeIdentity } from './helpers.js';
import { wsHarness } from './ws-harness.js';

/** An operator PKI: a CA and leaves for 127.0.0.1. */
async function operatorPki() {
  const pem = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const caKey = pem();
  const ca = await issueCertificate({ subjectKeyPem: caKey, subjectName: 'Ops CA', issuerPrivateKeyPem: caKey, issuerName: 'Ops CA', ca: true });
  const leaf = async (name: string): Promise<TlsOptions> => {
    const key = pem();
    const cert = await issueCertificate({ subjectKeyPem: key, subjectName: name, issuerPrivateKeyPem: caKey, issuerName: 'Ops CA', altNames: ['127.0.0.1'] });
    return { key, cert, ca };
  };
  return { ca, leaf };
}

describe('ws transport over TLS', () => {
  const { make, listening, defer } = wsHarness();
  let a: NodeIdentity;
  let b: NodeIdentity;
  beforeAll(async () => {
    [a, b] = await Promise.all([nodeIdentity('a'), nodeIdentity('b')]);
  });

  /** A bare TLS server with `tls` that records every byte a client sends after the handshake. */
  async function recordingTlsServer(tls: TlsOptions, respond?: (socket: TLSSocket) => void) {
    const received: Buffer[] = [];
    const closed: Array<Promise<unknown>> = [];
    const server = createTlsServer({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: false }, (socket) => {
      closed.push(once(socket, 'close'));
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => { received.push(chunk); respond?.(socket); });
    });
    defer(() => server.close());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return { url: `wss://127.0.0.1:${port}`, received, allClosed: () => Promise.all(closed) };
  }

  it('serves wss:// and carries frames both ways', async () => {
    const { url, accepted } = await listening({ tls: a.tls });
    expect(url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    const c = await make({ tls: b.tls }).dial(url);
    const s = await accepted.next();
    const [rc, rs] = [record(c), record(s)];
    c.send(frameOf(1));
    s.send(frameOf(2));
    await Promise.all([rs.untilFrames(1), rc.untilFrames(1)]);
    expect([indexOf(rs.frames[0]!), indexOf(rc.frames[0]!)]).toEqual([1, 2]);
  });

  it('refuses a client that offers only TLS 1.2', async () => {
    const { port, accepted, server } = await listening({ tls: a.tls });
    const socket = tlsConnect({ host: '127.0.0.1', port, maxVersion: 'TLSv1.2', rejectUnauthorized: false });
    const [err] = await once<[NodeJS.ErrnoException]>(socket, 'error');
    expect(err.code).toMatch(/ERR_SSL|ECONNRESET/);
    expect(accepted.connections).toHaveLength(0);
    await vi.waitFor(() => expect(server.stats().refused.tls).toBe(1));
  });

  it('accepts a client without a certificate: no peer key, but a channel binding', async () => {
    const { url, accepted } = await listening({ tls: a.tls });
    const c = await make().dial(url);
    const s = await accepted.next();
    expect(s.peerKey).toBeUndefined();
    expect(c.peerKey).toEqual(a.publicKey);
    expect(s.channelBinding).toEqual(c.channelBinding);
  });

  it('with an operator CA, verifies the chain both ways: CA-issued peers connect, self-signed ones are refused by TLS', async () => {
    const pki = await operatorPki();
    const serverTls = await pki.leaf('server');
    const { url, accepted, server } = await listening({ tls: serverTls });
    const c = await make({ tls: await pki.leaf('client') }).dial(url);
    const s = await accepted.next();
    expect(c.peerKey).toHaveLength(32);
    expect(s.peerKey).toHaveLength(32);
    await expect(make({ tls: b.tls }).dial(url)).rejects.toBeInstanceOf(Error); // self-signed client
    expect(accepted.connections).toHaveLength(1);
    expect(server.stats().connections).toBe(1);
    const selfSigned = await listening({ tls: a.tls });
    await expect(make({ tls: await pki.leaf('client-2') }).dial(selfSigned.url)).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(selfSigned.accepted.connections).toHaveLength(0);
  });

  it('sends nothing at all to a server acceptServer refused', async () => {
    const raw = await recordingTlsServer(a.tls);
    const keys: Array<Uint8Array | undefined> = [];
    await expect(make({ tls: b.tls, peerToken: 'secret', acceptServer: (key) => { keys.push(key); return false; } }).dial(raw.url))
      .rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    await raw.allClosed();
    expect(keys).toEqual([a.publicKey]);
    expect(Buffer.concat(raw.received).length).toBe(0);
  });

  it('withholds the token from a TLS server unless acceptServer accepted it', async () => {
    const raw = await recordingTlsServer(a.tls, (socket) => socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'));
    await expect(make({ tls: b.tls, peerToken: 'secret' }).dial(raw.url)).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    await expect(make({ tls: b.tls, peerToken: 'secret', acceptServer: () => true }).dial(raw.url)).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
    const heads = raw.received.map((chunk) => chunk.toString('latin1'));
    expect(heads).toHaveLength(2);
    expect(heads[0]).toMatch(/^GET \/ HTTP\/1\.1\r\n/);
    expect(heads[0]).not.toMatch(/authorization/i);
    expect(heads[1]).toMatch(/\r\nAuthorization: Bearer secret\r\n/);
  });
});
