/**
 * Drives protocol machines directly (no sockets, no timers): environments with real
 * keys and trust decisions, a Driver that records actions, and a pair of machines
 * that perform a real handshake by passing each other's messages.
 */
import { createHash } from 'node:crypto';
import type { StoredEntry } from '../../src/crdt/change-entry.js';
import type { OriginHead, WireClock } from '../../src/crdt/origin-clock.js';
import { CloseCode } from '../../src/net/transport.js';
import { encodeMessage } from '../../src/sync/codec.js';
import type { Message } from '../../src/sync/messages.js';
import {
  initialState, step, type Action, type AuthContext, type Env, type Event, type PeerIdentity, type ProtocolState,
} from '../../src/sync/protocol.js';
import { generateNodeKeys, SignatureVerifier, type NodeKeys } from '../../src/trust/keys.js';
import type { NodeId, RecordId } from '../../src/types.js';

export const SELF = 'me' as NodeId;
export const PEER = 'peer' as NodeId;
export const CLUSTER = 'test-cluster';
export const settings = { window: 4, maxFrameBytes: 64 * 1024, ackTimeoutMs: 1000, handshakeTimeoutMs: 2000 };

const verifier = new SignatureVerifier();
export const keysOf: Record<string, NodeKeys> = { [SELF]: generateNodeKeys(), [PEER]: generateNodeKeys() };

/** Members as the tests' trust list sees them; a test may revoke or forget one. */
export const members = new Map<string, PeerIdentity>([
  [SELF, { node: SELF, publicKey: keysOf[SELF]!.publicKey, role: 'region', admin: false }],
  [PEER, { node: PEER, publicKey: keysOf[PEER]!.publicKey, role: 'region', admin: false }],
]);

/** An AuthContext for `node`: real signatures, a trust decision from `members`. */
export function authFor(node: string, options: { channelBinding?: Uint8Array; ownNonces?: Uint8Array[]; revoked?: string[]; policies?: string } = {}): AuthContext {
  const keys = keysOf[node]!;
  return {
    cluster: CLUSTER, publicKey: keys.publicKey, proof: [], channelBinding: options.channelBinding,
    sign: (data) => keys.sign(data),
    verify: (key, data, sig) => verifier.verify(key, data, sig),
    memberKey: (name) => (options.revoked?.includes(name) ? undefined : members.get(name)?.publicKey),
    admit(hello) {
      const member = members.get(hello.node);
      if (options.revoked?.includes(hello.node)) return { ok: false, code: CloseCode.revoked, reason: 'revoked' };
      if (!member || !Buffer.from(member.publicKey).equals(Buffer.from(hello.key))) return { ok: false, code: CloseCode.unknownPeer, reason: 'unknown' };
      return { ok: true, peer: member };
    },
    trustDigest: () => 'digest',
    policies: options.policies ?? 'policies',
    isOwnNonce: (nonce) => (options.ownNonces ?? []).some((n) => Buffer.from(n).equals(Buffer.from(nonce))),
    invite: () => undefined,
  };
}

/** A chain hash for tests (any 64 hex digits). */
export const hash = (n: number) => createHash('sha256').update(String(n)).digest('hex');

/** An environment for `node` holding `holdings` ([origin, seq] pairs). */
export function env(node: string, overrides: Partial<Env> = {}, holdings: [string, number][] = []): Env {
  const clock = new Map<string, OriginHead>(holdings.map(([o, seq]) => [o, { seq, hash: hash(seq) }]));
  return {
    now: 0, holdings: clock, lastPosition: 0, sendBlocked: false, settings, auth: authFor(node),
    known: (origin) => origin !== 'stranger',
    allowed: () => true,
    wireClock: () => [...clock].map(([o, h]): WireClock[number] => [o, h.seq, Buffer.from(h.hash, 'hex')]),
    holding: [], subscription: undefined, coveredOnly: undefined,
    ...overrides,
  };
}

/** A stored entry of `origin` at log position `localSeq`, signed, with `bytes` of change. */
export function entry(origin: string, seq: number, localSeq: number, bytes = 10): StoredEntry {
  return {
    origin: origin as NodeId, seq, record: `r${localSeq}` as RecordId, change: new Uint8Array(bytes), chain: hash(seq),
    time: 0, fields: [], localSeq, sig: new Uint8Array(64), boundary: true,
  };
}

let nonces = 0;
/** A distinct nonce per call. */
export function nonce(): Uint8Array {
  return createHash('sha256').update(`nonce ${++nonces}`).digest();
}

/** Drives one machine and keeps every action it emitted. */
export class Driver {
  state: ProtocolState;
  readonly actions: Action[] = [];
  constructor(public env: Env, self: NodeId = SELF, initiator = true) {
    this.state = initialState(self, env.now, { initiator, nonce: nonce() });
  }
  feed(event: Event, patch: Partial<Env> = {}): Action[] {
    this.env = { ...this.env, ...patch };
    const result = step(this.state, event, this.env);
    this.state = result.state;
    this.actions.push(...result.actions);
    return result.actions;
  }
  message(message: Message, patch: Partial<Env> = {}): Action[] {
    return this.feed({ type: 'message', message, frame: encodeMessage(message) }, patch);
  }
  /** Delivers what `actions` sent, as the peer's frames would arrive. */
  deliver(actions: Action[]): Action[] {
    const out: Action[] = [];
    for (const a of actions) {
      if (a.type !== 'send') continue;
      const frame = a.frame ?? encodeMessage(a.message);
      out.push(...this.feed({ type: 'message', message: a.message, frame }));
    }
    return out;
  }

  /**
   * Runs a real handshake between a machine for SELF (returned) and one for PEER that
   * holds `peerHoldings`; SELF's messages to PEER are discarded after the handshake.
   */
  static open(selfEnv: Env = env(SELF), peerHoldings: [string, number][] = []): Driver {
    const self = new Driver(selfEnv, SELF, true);
    const peer = new Driver(env(PEER, {}, peerHoldings), PEER, false);
    let toPeer = self.feed({ type: 'start' });
    let toSelf = peer.feed({ type: 'start' });
    for (let round = 0; round < 4 && (self.state.phase !== 'open' || peer.state.phase !== 'open'); round++) {
      const a = peer.deliver(toPeer);
      const b = self.deliver(toSelf);
      toPeer = b;
      toSelf = a;
    }
    if (self.state.phase !== 'open') throw new Error(`handshake did not open: ${self.state.phase} / ${peer.state.phase}`);
    return self;
  }
}

export const sends = (actions: Action[]) => actions.filter((a): a is Extract<Action, { type: 'send' }> => a.type === 'send').map((a) => a.message);
export const frames = (actions: Action[]) => actions.filter((a): a is Extract<Action, { type: 'send-frame' }> => a.type === 'send-frame');
export const closes = (actions: Action[]) => actions.filter((a): a is Extract<Action, { type: 'close' }> => a.type === 'close');
export const of = <T extends Action['type']>(actions: Action[], type: T) => actions.filter((a): a is Extract<Action, { type: T }> => a.type === type);
