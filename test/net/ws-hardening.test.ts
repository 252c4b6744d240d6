/**
 * The WebSocket transport's listening port under abuse, with real sockets: half-open
 * requests that would exhaust file descriptors, oversized or overlong request heads,
 * extra requests on one socket, and a peer that sends data but never answers pings.
 */
import { readdirSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CloseCode } from '../../src/net/transport.js';
import { frameOf, nodeIdentity, once, record, type NodeIdentity } from './helpers.js';
import { wsHarness } from './ws-harness.js';
const fdCount = (): number => readdirSync('/proc/self/fd').length;

describe('ws transport under abuse', () => {
  const { make, listening, track } = wsHarness();
  let identity: NodeIdentity;
  beforeAll(async () => {
    identity = await nodeIdentity('server');
  });

  /** A raw TCP socket to `port` that writes `data` once connected; resolves with everything it read when it closes. */
  function rawRequest(port: number, data: string): { socket: Socket; reply: Promise<string> } {
    const socket = track(tcpConnect(port, '127.0.0.1'));
    socket.on('error', () => {});
    socket.once('connect', () => socket.write(data));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    return { socket, reply: once(socket, 'close').then(() => Buffer.concat(chunks).toString('latin1')) };
  }

  it('closes half-open requests within upgradeTimeoutMs, holds at most maxPendingUpgrades, lets an honest peer in, and returns to the baseline fd count', async () => {
    const upgradeTimeoutMs = 500;
    const maxPendingUpgrades = 20;
    const attackers = 300;
    const { server, accepted, url, port } = await listening({ upgradeTimeoutMs, maxPendingUpgrades });
    const baseline = fdCount();
    let peakFds = 0;
    let peakPending = 0;
    const sample = (): void => {
      peakFds = Math.max(peakFds, fdCount());
      peakPending = Math.max(peakPending, server.stats().pendingUpgrades);
    };
    const started = performance.now();
    const lifetimes: number[] = [];
    const closed = Array.from({ length: attackers }, () => {
      const { socket, reply } = rawRequest(port, 'GET / HT'); // half a request line, then nothing
      const opened = performance.now();
      socket.once('connect', sample);
      return reply.then(() => { lifetimes.push(performance.now() - opened); sample(); });
    });
    const destroyed = () => (server.stats().refused['pending-upgrades'] ?? 0) + (server.stats().refused['upgrade-timeout'] ?? 0);
    // Every attacker has been accepted by the server (and all but the newest evicted) ...
    await vi.waitFor(() => expect(server.stats().pendingUpgrades + destroyed()).toBe(attackers), { timeout: 20_000 });
    sample();
    // ... and an honest peer still gets in while they are held.
    const honest = await make().dial(url);
    const s = await accepted.next();
    await Promise.all(closed);
    const allClosedAfterMs = performance.now() - started;
    expect(destroyed()).toBe(attackers);
    expect(server.stats().refused['pending-upgrades']).toBeGreaterThanOrEqual(attackers - maxPendingUpgrades);
    expect(peakPending).toBeLessThanOrEqual(maxPendingUpgrades);
    expect(Math.max(...lifetimes)).toBeLessThan(upgradeTimeoutMs + 10_000); // Node's own defaults would hold them for minutes
    expect(server.stats().pendingUpgrades).toBe(0);
    expect(honest.isOpen && s.isOpen).toBe(true);
    const rs = record(s);
    honest.close(CloseCode.normal, 'done');
    await rs.closed;
    await vi.waitFor(() => expect(fdCount()).toBeLessThanOrEqual(baseline), { timeout: 10_000 });
    if (process.env.CRMSYNC_NET_MEASURE) {
      console.info(JSON.stringify({ attackers, upgradeTimeoutMs, maxPendingUpgrades, baseline, peakFds, peakPending, after: fdCount(),
        maxLifetimeMs: Math.round(Math.max(...lifetimes)), allClosedAfterMs: Math.round(allClosedAfterMs), refused: server.stats().refused }));
    }
  });

  it('drops TCP connections beyond maxConnections + maxPendingUpgrades at accept (the file descriptor ceiling)', async () => {
    const { server, url, port, accepted } = await listening({ maxConnections: 1, maxPendingUpgrades: 1, upgradeTimeoutMs: 60_000 });
    await make().dial(url);
    await accepted.next();
    const held = rawRequest(port, 'GET / HT');
    await vi.waitFor(() => expect(server.stats().pendingUpgrades).toBe(1));
    const dropped = rawRequest(port, 'GET / HT');
    expect(await dropped.reply).toBe('');
    // Dropped by the server itself: the guard neither saw it nor evicted the held socket for it.
    expect(server.stats().pendingUpgrades).toBe(1);
    expect(server.stats().refused).toEqual({});
    expect(held.socket.destroyed).toBe(false);
  });

  it('destroys sockets that never finish the TLS handshake', async () => {
    const { server, port } = await listening({ tls: identity.tls, upgradeTimeoutMs: 200 });
    const silent = Array.from({ length: 5 }, () => rawRequest(port, ''));
    await Promise.all(silent.map((s) => s.reply));
    expect(server.stats()).toMatchObject({ pendingUpgrades: 0, refused: { 'upgrade-timeout': 5 } });
  });

  it('answers a plain request with 426 and closes the socket, and serves one request per socket', async () => {
    const { port, accepted } = await listening();
    const plain = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n').reply;
    expect(plain).toMatch(/^HTTP\/1\.1 426 /);
    const pipelined = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /again HTTP/1.1\r\nHost: x\r\n\r\n').reply;
    expect(pipelined.match(/HTTP\/1\.1 426 /g)).toHaveLength(1);
    expect(accepted.connections).toHaveLength(0);
  });

  const upgradeHead = (extra: string): string =>
    `GET / HTTP/1.1\r\nHost: x\r\n${extra}Upgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

  it('refuses an upgrade request head over maxUpgradeHeaderBytes with 431 and no connection', async () => {
    const { port, url, accepted } = await listening();
    expect(await rawRequest(port, upgradeHead(`X-Pad: ${'a'.repeat(9 * 1024)}\r\n`)).reply).toMatch(/^HTTP\/1\.1 431 /);
    expect(accepted.connections).toHaveLength(0);
    await make().dial(url); // a well-formed upgrade goes through
    await accepted.next();
  });

  it('parses at most maxUpgradeHeaders headers: an upgrade whose headers come after 40 others is refused', async () => {
    const { port, accepted } = await listening();
    const filler = Array.from({ length: 40 }, (_, i) => `X-Filler-${i}: 1\r\n`).join('');
    expect(await rawRequest(port, upgradeHead(filler)).reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(accepted.connections).toHaveLength(0);
  });

  it('terminates a peer that sends data but never answers pings, at the second heartbeat, with 4004', async () => {
    const { url, accepted } = await listening({ heartbeatMs: 100 });
    const raw = new WebSocket(url, { perMessageDeflate: false, autoPong: false });
    raw.on('error', () => {});
    await once(raw, 'open');
    let pings = 0;
    raw.on('ping', () => { pings++; raw.send(frameOf(pings)); }); // busy, but no pong
    const rs = record(await accepted.next());
    expect(await rs.closed).toEqual({ code: CloseCode.heartbeatTimeout, reason: 'heartbeat timeout' });
    expect(pings).toBe(1);
    expect(rs.frames.length).toBeGreaterThanOrEqual(1); // its data arrived and did not count as liveness
    raw.terminate();
  });
});
