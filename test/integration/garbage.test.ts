/**
 * A peer sending garbage over a real socket: each bad connection is closed with a
 * protocol close code, and the node keeps running and syncing with its real peer.
 */
import { pack, unpack } from 'msgpackr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { CrmNode } from '../../src/index.js';
import { Harness, captureLog, connectedPeers, nextChange, waitForConvergence, type CapturedLog } from './helpers.js';

const MAX_FRAME = 64 * 1024;

/** A bare `ws` client that speaks no crmsync: it records what it gets and how it was closed. */
interface RawPeer {
  ws: WebSocket;
  /** Frames from the node, decoded as plain MessagePack. */
  received: Record<string, unknown>[];
  closed: Promise<{ code: number; reason: string }>;
}

async function rawPeer(url: string): Promise<RawPeer> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const received: Record<string, unknown>[] = [];
  ws.on('message', (data) => received.push(unpack(data as Buffer) as Record<string, unknown>));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') }));
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.on('error', () => undefined); // a reset after the node closed us is expected
  return { ws, received, closed };
}

/** Deterministic pseudo-random bytes (xorshift32), so a failure can be replayed. */
function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const hello = (node: string, protocol = 1) => ({ type: 'hello', protocol, node, clock: [] });

const h = new Harness();
let a: CrmNode;
let b: CrmNode;
let log: CapturedLog;

beforeEach(async () => {
  log = captureLog();
  a = await h.open({ dataDir: await h.tempDir(), nodeId: 'a', logger: log.logger, limits: { maxFrameBytes: MAX_FRAME } });
  b = await h.open({ dataDir: await h.tempDir(), nodeId: 'b', peers: [a.url!] });
  await a.records.create({ id: 'zelda', name: 'Zelda Customer', email: 'zelda@example.com' });
  await waitForConvergence([a, b]);
});
afterEach(() => h.cleanup());

/** After the attack: a still has exactly its real peer and still syncs both ways. */
async function expectStillSyncing(): Promise<void> {
  expect(await connectedPeers(a)).toBe(1);
  const onA = nextChange(a, (e) => e.id === 'after-b');
  await b.records.create({ id: 'after-b', name: 'Written on B afterwards' });
  await onA;
  const onB = nextChange(b, (e) => e.id === 'after-a');
  await a.records.create({ id: 'after-a', name: 'Written on A afterwards' });
  await onB;
  await waitForConvergence([a, b]);
}

describe('a peer sending garbage', () => {
  it('random bytes: closed with 1002 after an ERR_PROTOCOL error message', async () => {
    const peer = await rawPeer(a.url!);
    peer.ws.send(noise(512, 0x9e3779b9));
    expect((await peer.closed).code).toBe(1002);
    expect(peer.received[0]).toMatchObject({ type: 'hello', node: 'a' });
    expect(peer.received.at(-1)).toMatchObject({ type: 'error', code: 'ERR_PROTOCOL' });
    await expectStillSyncing();
  });

  it('truncated MessagePack: closed with 1002', async () => {
    const frame = pack(hello('mallory'));
    const peer = await rawPeer(a.url!);
    peer.ws.send(frame.subarray(0, frame.length - 4));
    expect((await peer.closed).code).toBe(1002);
    expect(peer.received.at(-1)).toMatchObject({ type: 'error', code: 'ERR_PROTOCOL' });
    await expectStillSyncing();
  });

  it('a frame over maxFrameBytes: closed with 1009', async () => {
    const peer = await rawPeer(a.url!);
    peer.ws.send(noise(MAX_FRAME + 1024, 7));
    expect((await peer.closed).code).toBe(1009);
    await expectStillSyncing();
  });

  it('a text frame: closed with 1002', async () => {
    const peer = await rawPeer(a.url!);
    peer.ws.send(JSON.stringify(hello('mallory')));
    expect((await peer.closed).code).toBe(1002);
    await expectStillSyncing();
  });

  it('a hello of another protocol version: closed with 4002', async () => {
    const peer = await rawPeer(a.url!);
    peer.ws.send(pack(hello('mallory', 99)));
    expect((await peer.closed).code).toBe(4002);
    expect(peer.received.at(-1)).toMatchObject({ type: 'error', code: 'ERR_PROTOCOL_VERSION' });
    await expectStillSyncing();
  });

  // An unauthenticated peer never gets as far as sending changes (members that sign garbage
  // are quarantined instead: attacks-bodies.test.ts).
  it('a protocol-1 hello followed by a bogus Automerge change: refused at the handshake (4002), nothing stored', async () => {
    const peer = await rawPeer(a.url!);
    peer.ws.send(pack(hello('mallory')));
    const view = {
      id: 'evil-1', name: 'Mallory Payload', address: {}, tags: [], notes: '', interactions: 0, custom: {},
      createdAt: 1, updatedAt: 1, deleted: false, conflicts: [],
    };
    const entry = { o: 'mallory', s: 1, p: '', r: 'evil-1', c: noise(200, 42), t: 1, f: ['name'], v: view };
    peer.ws.send(pack({ type: 'changes', epoch: 0, batch: 1, entries: [entry] }));
    expect((await peer.closed).code).toBe(4002);
    expect(await a.records.get('evil-1')).toBeUndefined();
    expect((await a.status()).clock).not.toHaveProperty('mallory');
    await expectStillSyncing();
  });

  it('logs each bad connection without customer data', async () => {
    for (const [i, frame] of [noise(64, 1), pack({ type: 'ack', batch: 1, clock: [] })].entries()) {
      const peer = await rawPeer(a.url!);
      peer.ws.send(frame);
      expect((await peer.closed).code, `frame ${i}`).toBe(1002);
    }
    await expectStillSyncing();
    const closes = log.lines.filter((l) => l.msg === 'closing peer session');
    expect(closes.map((l) => l.code)).toEqual(['ERR_PROTOCOL', 'ERR_PROTOCOL']);
    const text = JSON.stringify(log.lines);
    expect(text).not.toContain('Zelda');
    expect(text).not.toContain('zelda@example.com');
  });
});
