/**
 * Issue 8, attack (6): exhausting a node. Validation bombs before the hello, peers that
 * never read, members flooding 4 MiB frames, half-open and unauthenticated connection
 * floods, and a peer that sends data but never answers pings. The node under attack runs
 * in its own process where its memory is measured (test/integration/node-process.ts,
 * the "memory" op), or in-process where its transport counters are read. Each test
 * states its bound, and an honest peer keeps syncing while the attack runs.
 */
import { connect, type Socket } from 'node:net';
import { readdirSync } from 'node:fs';
import { pack } from 'msgpackr';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { CloseCode } from '../../src/net/transport.js';
import { emptyMapsFrame, expectHonestSync } from '../support/attack-rig.js';
import { rawPeer, type RawPeer, type RawPeerOptions } from '../support/raw-peer.js';
import { sessionSpy } from '../support/session-spy.js';
import { honestRoundTrip, memoryOf, statusOf } from '../support/process-probe.js';
import { Harness, TEST_LIMITS, captureLog, connectedPeers, waitForConvergence } from './helpers.js';

const MiB = 1024 * 1024;
/**
 * RSS a burst of pre-hello bombs may add to the node's process. Each is refused by
 * counting 64 KiB (frame-scan.ts); before that, one cost 1.3 GB.
 */
const BOMB_RSS_BOUND = 96 * MiB;
/**
 * RSS that 24 never-reading members and 8 members flooding 4 MiB frames may add. The
 * governors allow maxInboundBytesTotal (64 MiB) unread, plus about one frame per
 * connection beyond it, plus sendHighWaterBytes (1 MiB) and a batch per never-reading
 * session; the rest is garbage awaiting collection. Before them: 5.4 GB with 32 sessions.
 */
const FLOOD_RSS_BOUND = 320 * MiB;
const FLOOD_SESSIONS = 8;
const FLOOD_FRAMES_PER_SESSION = 6; // 192 MiB in all: three times maxInboundBytesTotal
const NEVER_READING_SESSIONS = 24;
/** Records the attacked node holds, so a never-reading peer has megabytes to be sent. */
const SEED_RECORDS = 800;

const h = new Harness();
afterEach(() => h.cleanup());

/** Connects as a new member whose hello proves it with its own grant only (a hello carries at most 16). */
function member(url: string, id: string, options: RawPeerOptions = {}): Promise<RawPeer> {
  const joining = h.cluster.member(id);
  return rawPeer(url, joining, { proof: joining.cluster.statements.slice(-1), ...options });
}

/** Sends `frames` copies of `frame`, each once the previous left our socket (so the node's reading paces us). */
function pump(peer: RawPeer, frame: Uint8Array, frames: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    const next = (err?: Error): void => {
      if (err) return reject(err);
      if (sent === frames) return resolve();
      sent++;
      peer.ws.send(frame, { binary: true }, next);
    };
    next();
  });
}

describe('exhausting the node', () => {
  it('pre-hello bombs, never-reading peers and inbox floods stay within a stated RSS bound while an honest peer syncs', async () => {
    const proc = await h.spawn(await h.tempDir(), 'a');
    proc.send({ op: 'create', n: SEED_RECORDS, prefix: 'seed' });
    await proc.waitForLine((l) => l.done === 'create' && l.prefix === 'seed', 120_000);
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [proc.url] });
    await vi.waitFor(async () => expect((await b.status()).records.live).toBe(SEED_RECORDS), { timeout: 60_000, interval: 200 });
    await honestRoundTrip(proc, b);
    const baseline = await memoryOf(proc);

    // Phase 1: 20 strangers at once, each a 60 KB frame of 60,000 empty maps before any hello.
    const bombs = Array.from({ length: 20 }, async () => {
      const peer = await rawPeer(proc.url, h.cluster.member('stranger'), { handshake: false, localAddress: '127.0.0.2' });
      peer.sendRaw(emptyMapsFrame(60_000));
      return (await peer.closed).code;
    });
    const [codes] = await Promise.all([Promise.all(bombs), honestRoundTrip(proc, b)]);
    expect(new Set(codes)).toEqual(new Set([CloseCode.protocolError]));
    const afterBombs = await memoryOf(proc);
    expect(afterBombs.peakRss - baseline.rss, `RSS growth under pre-hello bombs (bound ${BOMB_RSS_BOUND / MiB} MiB)`).toBeLessThan(BOMB_RSS_BOUND);

    // Phase 2: members that stop reading right after the handshake (the node has
    // megabytes to send each), and members sending 4 MiB frames as fast as it reads.
    const sloths = await Promise.all(Array.from({ length: NEVER_READING_SESSIONS }, async (_, i) => {
      const peer = await member(proc.url, `sloth-${i}`, { localAddress: '127.0.0.3' });
      peer.ws.pause();
      return peer;
    }));
    const flood = pack({ type: 'x-flood', pad: Buffer.alloc(4 * MiB - 64, 0x5a) });
    const flooders = await Promise.all(Array.from({ length: FLOOD_SESSIONS }, (_, i) => member(proc.url, `flood-${i}`, { localAddress: '127.0.0.4' })));
    await Promise.all([...flooders.map((peer) => pump(peer, flood, FLOOD_FRAMES_PER_SESSION)), honestRoundTrip(proc, b)]);
    // Every flood frame was read and handled (an unknown kind is ignored), none dropped or refused.
    await vi.waitFor(async () => expect((await statusOf(proc)).unknownMessages).toBe(FLOOD_SESSIONS * FLOOD_FRAMES_PER_SESSION), { timeout: 60_000, interval: 100 });
    const afterFlood = await memoryOf(proc);
    expect(afterFlood.peakRss - baseline.rss, `RSS growth under floods and never-reading peers (bound ${FLOOD_RSS_BOUND / MiB} MiB)`).toBeLessThan(FLOOD_RSS_BOUND);
    for (const peer of flooders) expect(peer.ws.readyState).toBe(WebSocket.OPEN);
    await honestRoundTrip(proc, b);
    if (process.env.CRMSYNC_ATTACK_MEASURE) console.info(JSON.stringify({ baseline, afterBombs, afterFlood }));
    for (const peer of [...sloths, ...flooders]) peer.ws.terminate();
  }, 180_000);

  it('half-open and unauthenticated connection floods are cut at the caps; the node keeps serving, its store keeps working, and its file descriptors come back', async () => {
    // One refusal line per reason for the whole test (the interval outlasts it).
    const caps = { maxPendingUpgrades: 8, upgradeTimeoutMs: 1000, maxConnectionsPerAddress: 4, maxUnauthenticatedConnections: 6, refusedLogIntervalMs: 600_000 };
    const log = captureLog();
    const spy = sessionSpy({ ...TEST_LIMITS, ...caps }, log.logger);
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', transport: spy.transport, limits: caps, logger: log.logger });
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [a.url!] });
    await waitForConvergence([a, b]);
    await vi.waitFor(async () => expect(await connectedPeers(a)).toBe(1));
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const baselineFds = fds();
    const { port } = new URL(a.url!);

    // 100 TCP sockets that start an upgrade request and never finish it.
    const halfOpen = await Promise.all(Array.from({ length: 100 }, () => new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: Number(port), localAddress: '127.0.0.5' }, () => {
        socket.write('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n');
        resolve(socket);
      });
      socket.once('error', reject);
    })));
    const cut = halfOpen.map((socket) => new Promise<void>((resolve) => {
      if (socket.destroyed) resolve();
      socket.on('error', () => undefined).once('close', () => resolve());
    }));
    expect(spy.transport.stats().pendingUpgrades).toBeLessThanOrEqual(caps.maxPendingUpgrades);

    // WebSockets that never say hello: from one address beyond its cap (429), then from
    // others beyond the unauthenticated cap (503).
    const attempt = (localAddress: string): Promise<WebSocket | number> => new Promise((resolve) => {
      const ws = new WebSocket(a.url!, { perMessageDeflate: false, localAddress });
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => undefined);
    });
    const outcome = (all: (WebSocket | number)[]): Record<string, number> => {
      const counts: Record<string, number> = {};
      for (const x of all) counts[x instanceof WebSocket ? 'open' : String(x)] = (counts[String(x instanceof WebSocket ? 'open' : x)] ?? 0) + 1;
      return counts;
    };
    const sameAddress = await Promise.all(Array.from({ length: caps.maxConnectionsPerAddress + 2 }, () => attempt('127.0.1.1')));
    expect(outcome(sameAddress)).toEqual({ open: caps.maxConnectionsPerAddress, 429: 2 });
    const spread = await Promise.all(Array.from({ length: 6 }, (_, i) => attempt(`127.0.1.${2 + i}`)));
    expect(outcome(spread)).toEqual({ open: caps.maxUnauthenticatedConnections - caps.maxConnectionsPerAddress, 503: 6 - (caps.maxUnauthenticatedConnections - caps.maxConnectionsPerAddress) });
    const admitted = [...sameAddress, ...spread].filter((x): x is WebSocket => x instanceof WebSocket);

    // The authenticated peer keeps syncing and the store keeps accepting writes meanwhile.
    await expectHonestSync([a, b]);
    await Promise.all(cut); // every half-open socket was destroyed by the node (evicted, or timed out)
    await vi.waitFor(() => expect(spy.transport.stats().pendingUpgrades).toBe(0), { timeout: 10_000 });
    const { refused } = spy.transport.stats();
    expect(refused).toMatchObject({ address: 2, unauthenticated: 4 });
    expect(refused['pending-upgrades']).toBeGreaterThanOrEqual(100 - caps.maxPendingUpgrades);
    // However many were refused, one log line per reason.
    const reasons = log.lines.filter((l) => l.msg === 'connection refused').map((l) => l.reason as string);
    expect(reasons.length).toBe(new Set(reasons).size);
    expect(reasons).toEqual(expect.arrayContaining(['address', 'pending-upgrades', 'unauthenticated']));
    for (const ws of admitted) ws.terminate();
    await vi.waitFor(() => expect(fds()).toBeLessThanOrEqual(baselineFds), { timeout: 20_000 });
    expect(await connectedPeers(a)).toBe(1);
    await expectHonestSync([a, b]);
  });

  it('data is not liveness: a member that keeps sending but never answers pings is closed with 4004', async () => {
    const log = captureLog();
    const a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', logger: log.logger, limits: { heartbeatMs: 200 } });
    const b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [a.url!] });
    await waitForConvergence([a, b]);
    const zombie = await member(a.url!, 'zombie', { autoPong: false });
    const chatter = setInterval(() => zombie.send({ type: 'have', clock: [] }), 20);
    try {
      // Terminated, not closed: a dead peer would never finish a closing handshake.
      expect((await zombie.closed).code).toBe(1006);
    } finally {
      clearInterval(chatter);
    }
    expect(log.lines.filter((l) => l.msg === 'peer missed heartbeat; terminating')).toHaveLength(1);
    await vi.waitFor(() => expect(log.lines.some((l) => l.peer === 'zombie' && l.code === CloseCode.heartbeatTimeout)).toBe(true));
    expect((await a.status()).peers.filter((p) => p.state === 'connected').map((p) => p.node)).toEqual(['b']);
    await expectHonestSync([a, b]);
  });
});
