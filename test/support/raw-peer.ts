/**
 * A scripted peer over a real socket: it performs the real handshake as a member of a
 * test cluster (or fails it on purpose), then sends whatever frames a test wants —
 * honest, newer-versioned or hostile — and records what the node answers and how it
 * closed the connection. It writes its own origin's entries with correct chain hashes
 * and signatures, so a test can alter exactly one thing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { pack, unpack } from 'msgpackr';
import { WebSocket } from 'ws';
import { chainNext, chainStart, entrySigningInput } from '../../src/crdt/origin-clock.js';
import { changeDigest } from '../../src/engine/entry-check.js';
import { loadNodeKeys, type NodeKeys } from '../../src/trust/keys.js';
import type { MemberOptions } from '../../src/testing.js';
import { clusterIdOf } from '../../src/trust/statements.js';
import { parseFingerprint } from '../../src/trust/keys.js';

/** A connected scripted peer. */
export interface RawPeer {
  ws: WebSocket;
  keys: NodeKeys;
  node: string;
  cluster: string;
  /** Every frame the node sent, decoded as plain MessagePack. */
  received: Record<string, unknown>[];
  closed: Promise<{ code: number; reason: string }>;
  /** Sends a message in wire form (entries as short-key maps, e.g. from `entries()`). */
  send(message: Record<string, unknown>): void;
  sendRaw(bytes: Uint8Array): void;
  /** Resolves with the first received frame (past or future) matching `predicate`. */
  next(predicate: (m: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Builds the next entries of this peer's own origin (chained and signed like a node's). */
  entries(changes: { record: string; change: Uint8Array }[], options?: { signEach?: boolean }): Record<string, unknown>[];
}

/** Connects to `url` as `member`; with `handshake` (default) completes the handshake. */
export async function rawPeer(url: string, member: MemberOptions, options: { handshake?: boolean; channelBinding?: Uint8Array } = {}): Promise<RawPeer> {
  const keys = loadNodeKeys(member.identity.privateKeyPem);
  const cluster = clusterIdOf(parseFingerprint(member.cluster.founder));
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const received: Record<string, unknown>[] = [];
  let waiters: { predicate: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }[] = [];
  const frames: Buffer[] = [];
  ws.on('message', (data) => {
    frames.push(data as Buffer);
    const message = unpack(data as Buffer) as Record<string, unknown>;
    received.push(message);
    waiters = waiters.filter((w) => (w.predicate(message) ? (w.resolve(message), false) : true));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
  await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.on('error', () => undefined);
  let chain = chainStart(cluster, member.nodeId);
  let seq = 0;
  const peer: RawPeer = {
    ws, keys, node: member.nodeId, cluster, received, closed,
    send: (message) => ws.send(pack(message)),
    sendRaw: (bytes) => ws.send(bytes),
    next(predicate, timeoutMs = 20_000) {
      const found = received.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${received.map((m) => m.type).join(', ')}`)), timeoutMs);
        waiters.push({ predicate, resolve: (m) => { clearTimeout(timer); resolve(m); } });
      });
    },
    entries(changes, entryOptions = {}) {
      return changes.map(({ record, change }, i) => {
        const prev = chain;
        chain = chainNext(chain, { seq: ++seq, record }, changeDigest(change));
        const value: Record<string, unknown> = { o: member.nodeId, s: seq, r: record, c: change };
        if (i === 0) value.p = Buffer.from(prev, 'hex');
        if (entryOptions.signEach || i === changes.length - 1) value.g = keys.sign(entrySigningInput(chain));
        return value;
      });
    },
  };
  if (options.handshake === false) return peer;
  const nonce = randomBytes(32);
  const hello = { type: 'hello', protocol: 2, cluster, node: member.nodeId, key: keys.publicKey, nonce, proof: member.cluster.statements };
  const ourHello = pack(hello);
  ws.send(ourHello);
  await peer.next((m) => m.type === 'hello');
  const theirHello = frames[received.findIndex((m) => m.type === 'hello')]!;
  // As the initiator: our hello first in the transcript (see src/sync/handshake.ts).
  const hash = createHash('sha256').update('crmsync/auth/1\0');
  for (const part of [ourHello, theirHello, options.channelBinding ?? new Uint8Array(0)]) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(part.length);
    hash.update(length).update(part);
  }
  ws.send(pack({ type: 'auth', sig: keys.sign(Buffer.concat([Buffer.from('initiator\0'), hash.digest()])) }));
  await peer.next((m) => m.type === 'open');
  ws.send(pack({ type: 'open', clock: [], trust: '' }));
  return peer;
}
