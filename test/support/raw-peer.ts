/**
 * A scripted peer over a real socket: it performs the real handshake as a member of a
 * test cluster (or fails it on purpose: another node id, another key, a wrong proof),
 * then sends whatever frames a test wants — honest, newer-versioned or hostile — and
 * records what the node answers and how it closed the connection. It writes its own
 * origin's entries with correct chain hashes and signatures (origin-log.ts), so a test
 * can alter exactly one thing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants, inflateRawSync } from 'node:zlib';
import { pack, unpack } from 'msgpackr';
import { WebSocket } from 'ws';
import { loadNodeKeys, parseFingerprint, type NodeKeys } from '../../src/trust/keys.js';
import type { MemberOptions } from '../../src/testing.js';
import { clusterIdOf } from '../../src/trust/statements.js';
import { FRAME_DICTIONARY_1 } from '../../src/sync/frame-dictionary.js';
import { OriginLog, type RecordChange } from './origin-log.js';

/** How the connection closed. */
export interface Closed {
  code: number;
  reason: string;
}

/** A connected scripted peer. */
export interface RawPeer {
  ws: WebSocket;
  keys: NodeKeys;
  node: string;
  cluster: string;
  /** This peer's own origin log (what `entries()` continues). */
  log: OriginLog;
  /** Every frame the node sent, decoded as plain MessagePack, and the raw frames. */
  received: Record<string, unknown>[];
  frames: Buffer[];
  /** Every frame this peer sent, as sent (to replay them elsewhere). */
  sent: Uint8Array[];
  closed: Promise<Closed>;
  /** Sends a message in wire form (entries as short-key maps, e.g. from `entries()`). */
  send(message: Record<string, unknown>): void;
  sendRaw(bytes: Uint8Array): void;
  /** Sends entries as the next `changes` batch (epoch 0 unless given). */
  sendChanges(entries: Record<string, unknown>[], epoch?: number): number;
  /** Resolves with the first received frame (past or future) matching `predicate`; rejects if the socket closes first. */
  next(predicate: (m: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Builds the next entries of this peer's own origin (chained and signed like a node's). */
  entries(changes: RecordChange[], options?: { signEach?: boolean }): Record<string, unknown>[];
  /** Change bytes of `record` the node sent us so far, in the order received. */
  changesOf(record: string): Uint8Array[];
  /**
   * The session's dictionary of small frames (PROTOCOL.md, "Compressed frames"): the
   * example frames, then both node ids, the smaller first. Undefined before the node's hello.
   */
  dictionary(): Buffer | undefined;
}

/** The marker of a frame deflated from the session dictionary, and the window it is deflated with. */
export const DICTIONARY_MARK = 0xc1;
export const DICTIONARY_WINDOW_BITS = 12;
/** The encoding of small frames on one deflate stream per direction (PROTOCOL.md, "Compressed frames"). */
export const DICTIONARY_STREAM = 'deflate-raw-dict-stream-1';
/** What ends every Z_SYNC_FLUSH, left off each stream frame. */
export const SYNC_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** What the hello claims and how the proof is made (defaults: the member's own, honestly). */
export interface HandshakeScript {
  /** Node id claimed in the hello. */
  node?: string;
  /** Public key claimed in the hello. */
  key?: Uint8Array;
  /** Trust statements sent as proof. */
  proof?: unknown[];
  /** Signs the transcript with these keys instead of the member's, or sends these 64 bytes as the signature. */
  authWith?: NodeKeys | Uint8Array;
  /** The TLS channel binding to sign (none on plain ws). */
  channelBinding?: Uint8Array;
  /** The clock our `open` claims (default empty). */
  openClock?: unknown[];
  /** Frame encodings the hello accepts (default none, as a node before deflated frames). */
  compress?: string[];
  /** Protocol features the hello names (default none, as a node before them: an ack per batch). */
  features?: string[];
  /** The send window our `open` names (default none, as a node before it). */
  window?: number;
}

/** Connection options. */
export interface RawPeerOptions extends HandshakeScript {
  /** Complete the handshake before returning (default true); it throws if the node closes instead. */
  handshake?: boolean;
  /** Answer pings (default true). A peer that does not is dead to the node. */
  autoPong?: boolean;
  /** Acknowledge every `changes` frame with an empty clock (default false). */
  autoAck?: boolean;
  headers?: Record<string, string>;
  /** Local address to connect from (any of 127.0.0.0/8 on loopback: another "remote address" to the node). */
  localAddress?: string;
}

/** The result of a scripted handshake: the node's `open`, or the close it answered with. */
export type HandshakeResult = { open: Record<string, unknown> } | { closed: Closed };

/** Connects to `url` as `member`; with `handshake` (default) completes the handshake. */
export async function rawPeer(url: string, member: MemberOptions, options: RawPeerOptions = {}): Promise<RawPeer & { handshake(script?: HandshakeScript): Promise<HandshakeResult> }> {
  const keys = loadNodeKeys(member.identity.privateKeyPem);
  const cluster = clusterIdOf(parseFingerprint(member.cluster.founder));
  const ws = new WebSocket(url, {
    perMessageDeflate: false, autoPong: options.autoPong ?? true,
    ...(options.headers ? { headers: options.headers } : {}), ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
  const received: Record<string, unknown>[] = [];
  const frames: Buffer[] = [];
  const sent: Uint8Array[] = [];
  const write = (bytes: Uint8Array): void => {
    sent.push(bytes);
    ws.send(bytes);
  };
  type Waiter = { predicate: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void; reject: (err: Error) => void };
  let waiters: Waiter[] = [];
  let batch = 0;
  let nodeId: string | undefined;
  const dictionary = (): Buffer | undefined => {
    if (nodeId === undefined) return undefined;
    const ids = [member.nodeId, nodeId].sort();
    return Buffer.concat([FRAME_DICTIONARY_1, Buffer.from(ids[0]!), Buffer.from(ids[1]!)]);
  };
  // Stream mode, when both hellos name it: every dictionary frame so far (each with its sync
  // tail) is one raw deflate stream; a frame is what inflating it gives beyond the frames before.
  let ourCompress: string[] = [];
  let nodeCompress: string[] = [];
  const streamed: Buffer[] = [];
  let streamedBytes = 0;
  const streaming = () => ourCompress.includes(DICTIONARY_STREAM) && nodeCompress.includes(DICTIONARY_STREAM);
  const inflateSmall = (data: Buffer): Buffer => {
    if (!streaming()) return inflateRawSync(data.subarray(1), { dictionary: dictionary()!, windowBits: DICTIONARY_WINDOW_BITS });
    streamed.push(data.subarray(1), SYNC_TAIL);
    const whole = inflateRawSync(Buffer.concat(streamed), { dictionary: dictionary()!, windowBits: DICTIONARY_WINDOW_BITS, finishFlush: constants.Z_SYNC_FLUSH });
    const frame = whole.subarray(streamedBytes);
    streamedBytes = whole.length;
    return frame;
  };
  ws.on('message', (data) => {
    frames.push(data as Buffer);
    let message: Record<string, unknown>;
    try {
      // Built here from the spec, not with the node's code: a dictionary frame is checked independently.
      const plain = (data as Buffer)[0] === DICTIONARY_MARK ? inflateSmall(data as Buffer) : (data as Buffer);
      message = unpack(plain) as Record<string, unknown>;
      if (message.type === 'hello' && nodeId === undefined) {
        nodeId = String(message.node);
        nodeCompress = Array.isArray(message.compress) ? (message.compress as string[]) : [];
      }
    } catch {
      message = { type: '(undecodable)' };
    }
    received.push(message);
    if (options.autoAck && message.type === 'changes') write(pack({ type: 'ack', batch: message.batch, clock: [] }));
    waiters = waiters.filter((w) => (w.predicate(message) ? (w.resolve(message), false) : true));
  });
  const closed = new Promise<Closed>((resolve) => ws.once('close', (code, reason) => {
    for (const w of waiters) w.reject(new Error(`the node closed the connection (${code} ${reason.toString('utf8')}) before a matching frame; got ${received.map((m) => m.type).join(', ')}`));
    waiters = [];
    resolve({ code, reason: reason.toString('utf8') });
  }));
  await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.on('error', () => undefined); // a reset after the node closed us is expected
  const log = new OriginLog(cluster, member.nodeId, keys);
  const peer: RawPeer = {
    ws, keys, node: member.nodeId, cluster, log, received, frames, sent, closed,
    send: (message) => write(pack(message)),
    sendRaw: write,
    sendChanges(entries, epoch = 0) {
      write(pack({ type: 'changes', epoch, batch: ++batch, entries }));
      return batch;
    },
    next(predicate, timeoutMs = 20_000) {
      const found = received.find(predicate);
      if (found) return Promise.resolve(found);
      if (ws.readyState === WebSocket.CLOSED) return Promise.reject(new Error(`the connection is closed; got ${received.map((m) => m.type).join(', ')}`));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${received.map((m) => m.type).join(', ')}`)), timeoutMs);
        waiters.push({ predicate, resolve: (m) => { clearTimeout(timer); resolve(m); }, reject: (err) => { clearTimeout(timer); reject(err); } });
      });
    },
    entries: (changes, entryOptions) => log.next(changes, entryOptions),
    changesOf: (record) => received.flatMap((m) => (m.type === 'changes' ? (m.entries as Record<string, unknown>[]) : []))
      .filter((e) => e.r === record).map((e) => e.c as Uint8Array),
    dictionary,
  };
  /** Runs the handshake as the initiator with `script`'s lies, if any. */
  const handshake = async (script: HandshakeScript = {}): Promise<HandshakeResult> => {
    ourCompress = script.compress ?? [];
    const hello = {
      type: 'hello', protocol: 2, cluster, node: script.node ?? member.nodeId, key: script.key ?? keys.publicKey,
      nonce: randomBytes(32), proof: script.proof ?? member.cluster.statements,
      ...(script.compress ? { compress: script.compress } : {}),
      ...(script.features ? { features: script.features } : {}),
    };
    const ourHello = pack(hello);
    write(ourHello);
    // A frame, or undefined once the node closed (or never answered) instead.
    const answer = (type: string) => peer.next((m) => m.type === type).then((m) => m, () => undefined);
    if (!(await answer('hello'))) return { closed: await closed };
    const theirHello = frames[received.findIndex((m) => m.type === 'hello')]!;
    write(pack({ type: 'auth', sig: authSignature(script.authWith ?? keys, ourHello, theirHello, script.channelBinding) }));
    const open = await answer('open');
    if (!open) return { closed: await closed };
    write(pack({ type: 'open', clock: script.openClock ?? [], trust: '', ...(script.window ? { window: script.window } : {}) }));
    return { open };
  };
  if (options.handshake !== false) {
    const result = await handshake(options);
    if ('closed' in result) throw new Error(`handshake refused: ${result.closed.code} ${result.closed.reason}`);
  }
  return { ...peer, handshake };
}

/** The initiator's proof: a signature over both hellos as sent and the channel binding (src/sync/handshake.ts). */
export function authSignature(by: NodeKeys | Uint8Array, ourHello: Uint8Array, theirHello: Uint8Array, channelBinding?: Uint8Array): Uint8Array {
  if (by instanceof Uint8Array) return by;
  const hash = createHash('sha256').update('crmsync/auth/1\0');
  for (const part of [ourHello, theirHello, channelBinding ?? new Uint8Array(0)]) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(part.length);
    hash.update(length).update(part);
  }
  return by.sign(Buffer.concat([Buffer.from('initiator\0'), hash.digest()]));
}
