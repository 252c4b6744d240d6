/**
 * The handshake part of the protocol machine: mutual authentication before any sync
 * state exists. Each side sends `hello` (cluster, node id, key, a fresh nonce), checks
 * the peer's claim against its trust list, then proves possession of its own key by
 * signing the transcript (both hellos as sent, and the TLS channel binding when there
 * is one) with its role in the handshake. Only after both proofs verified are clocks
 * exchanged (`open`), so a peer's identity always comes from its proof, never from what
 * it declares, and a replayed or relayed proof never verifies.
 */
import { createHash } from 'node:crypto';
import { effectiveHolding } from '../crdt/holding.js';
import { forkedOrigin, seqsFromWire, seqsOf, toWireClock } from '../crdt/origin-clock.js';
import { CrmsyncError } from '../errors.js';
import { CloseCode } from '../net/transport.js';
import { encodeMessage } from './codec.js';
import { CUMULATIVE_ACKS, PROTOCOL_VERSION, type AuthMessage, type HelloMessage, type OpenMessage } from './messages.js';
import { ownSeq, type Action, type Admission, type Env, type ProtocolState } from './protocol.js';
import { acceptedEncodings, DEFLATE_RAW, DEFLATE_RAW_DICT, DEFLATE_RAW_DICT_STREAM } from './frame-deflate.js';
import { streamModeSupported } from './dictionary-zlib.js';
import { fail, restart } from './stream.js';

/** The start of the session: our hello, kept as sent for the transcript. */
export function sayHello(s: ProtocolState, env: Env, out: Action[]): ProtocolState {
  const { auth } = env;
  const invite = auth.invite(s.nonce);
  const hello: HelloMessage = {
    type: 'hello', protocol: PROTOCOL_VERSION, cluster: auth.cluster, node: s.self, key: auth.publicKey, nonce: s.nonce, proof: auth.proof, compress: acceptedEncodings(), features: [CUMULATIVE_ACKS],
    ...(invite ? { invite } : {}),
  };
  const frame = encodeMessage(hello);
  out.push({ type: 'send', message: hello, frame });
  return { ...s, ourHello: frame };
}

/** The peer's hello: is it who the trust list says, in our cluster, not ourselves? */
export function onHello(s: ProtocolState, msg: HelloMessage, frame: Uint8Array, env: Env, out: Action[]): ProtocolState {
  if (s.phase !== 'awaiting-hello') return fail(s, new CrmsyncError('ERR_PROTOCOL', 'second hello'), out);
  if (msg.protocol !== PROTOCOL_VERSION) {
    return fail(s, new CrmsyncError('ERR_PROTOCOL_VERSION', `peer speaks protocol ${msg.protocol}, this node speaks ${PROTOCOL_VERSION}`), out);
  }
  if (msg.cluster !== env.auth.cluster) return refuse(s, CloseCode.wrongCluster, 'wrong-cluster', { cluster: msg.cluster }, out);
  // Our own key: either we dialed ourselves (the hello carries one of our own nonces),
  // or another process holds our key (a copied data directory), whose history the
  // clock comparison at `open` examines.
  if (Buffer.from(msg.key).equals(Buffer.from(env.auth.publicKey)) && env.auth.isOwnNonce(msg.nonce)) {
    out.push({ type: 'close', code: CloseCode.selfConnection, reason: 'connected to itself' });
    return { ...s, phase: 'closed' };
  }
  const admission = env.auth.admit(msg);
  const heard: ProtocolState = { ...s, peerHello: frame, peerProof: msg.proof, peerInflates: msg.compress?.includes(DEFLATE_RAW) === true, peerInflatesSmall: msg.compress?.includes(DEFLATE_RAW_DICT) === true,
    dictionaryStream: msg.compress?.includes(DEFLATE_RAW_DICT_STREAM) === true && streamModeSupported(), cumulativeAcks: msg.features?.includes(CUMULATIVE_ACKS) === true };
  if ('redeem' in admission) {
    out.push({ type: 'redeem', hello: msg });
    return { ...heard, phase: 'redeeming' };
  }
  return onRedeemed(heard, admission, env, out);
}

/** The peer is admitted (a member, or its invitation was just honoured): prove ourselves. */
export function onRedeemed(s: ProtocolState, admission: Admission, env: Env, out: Action[]): ProtocolState {
  if (s.phase !== 'awaiting-hello' && s.phase !== 'redeeming') return s;
  if ('redeem' in admission) return fail(s, new CrmsyncError('ERR_PROTOCOL', 'an invitation inside an invitation'), out);
  if (!admission.ok) return refuse(s, admission.code, admission.reason, {}, out);
  const next: ProtocolState = { ...s, phase: 'awaiting-auth', peer: admission.peer };
  const auth: AuthMessage = { type: 'auth', sig: env.auth.sign(signingInput(next, env, s.initiator)) };
  out.push({ type: 'send', message: auth });
  return next;
}

/** The peer's proof: a signature over the transcript, by the key its hello named. */
export function onAuth(s: ProtocolState, msg: AuthMessage, env: Env, out: Action[]): ProtocolState {
  if (s.phase !== 'awaiting-auth' || !s.peer) return fail(s, new CrmsyncError('ERR_PROTOCOL', 'auth out of order'), out);
  if (!env.auth.verify(s.peer.publicKey, signingInput(s, env, !s.initiator), msg.sig)) {
    return refuse(s, CloseCode.badSignature, 'bad-proof', { node: s.peer.node }, out);
  }
  out.push({ type: 'authenticated', peer: s.peer, proof: [...s.peerProof] });
  // Data complete only for an older subscription: declare that one, then ask for the new
  // one (once the peer holds our own entries: protocol.ts subscribeWhen), so the peer sends
  // the documents it gains (as for a subscription changed at runtime).
  const declared = env.coveredOnly ?? env.subscription;
  const open: OpenMessage = { type: 'open', clock: env.wireClock(), trust: env.auth.trustDigest(), policies: env.auth.policies, window: env.settings.window, ...(declared ? { holding: declared } : {}) };
  out.push({ type: 'send', message: open });
  const opened: ProtocolState = { ...s, phase: 'awaiting-open', remote: s.peer.node, openSent: seqsOf(env.holdings) };
  return env.coveredOnly ? { ...opened, subscribeWhen: ownSeq(s, env) } : opened;
}

/** The peer's clock: refuse a forked history, then start syncing. */
export function onOpen(s: ProtocolState, msg: OpenMessage, env: Env, out: Action[]): ProtocolState {
  if (s.phase !== 'awaiting-open' || !s.remote) return fail(s, new CrmsyncError('ERR_PROTOCOL', 'open before auth'), out);
  // Our own origin or the peer's decides first: either means a copied data directory.
  const ownOrder = [...msg.clock].sort(([a], [b]) => Number(b === s.self || b === s.remote) - Number(a === s.self || a === s.remote));
  const forked = forkedOrigin(env.holdings, ownOrder, s.self, s.remote);
  if (forked === s.self || forked === s.remote) {
    return fail(s, new CrmsyncError('ERR_ORIGIN_FORKED', `peer holds a different history for node "${forked}" (was a data directory copied?)`), out);
  }
  if (forked !== undefined) {
    // A third origin's heads differ: unproven here (a clock is not signed), and no reason to
    // stop syncing the rest. Proven forks are set aside at ingest (entry-check.ts).
    out.push({ type: 'log', level: 'warn', message: 'peer holds a different history of a third origin; syncing the others', fields: { peer: s.remote, origin: forked } });
  }
  // Different policies would show different winners for the same conflicts: refuse, so
  // an operator fixes the configuration instead of two halves of a cluster disagreeing.
  if (msg.policies !== undefined && msg.policies !== env.auth.policies) {
    out.push({ type: 'log', level: 'warn', message: 'peer declares other merge policies; declare the same mergePolicies on every node', fields: { peer: s.remote, ours: env.auth.policies, theirs: msg.policies } });
    out.push({ type: 'close', code: CloseCode.policyMismatch, reason: 'merge policies differ' });
    return { ...s, phase: 'closed' };
  }
  if (s.remote === s.self) {
    out.push({ type: 'log', level: 'warn', message: 'another process holds this node\'s key (a copied data directory?)', fields: {} });
    out.push({ type: 'close', code: CloseCode.selfConnection, reason: 'another process holds this node\'s key' });
    return { ...s, phase: 'closed' };
  }
  out.push({ type: 'opened', remote: s.remote });
  out.push({ type: 'log', level: 'info', message: 'peer session open', fields: { peer: s.remote, role: s.peer?.role } });
  if (msg.trust !== env.auth.trustDigest()) out.push({ type: 'send-trust' });
  const held = new Map([...seqsFromWire(msg.clock)].filter(([origin]) => env.known(origin)));
  // Entries that became durable after our open was sent were announced to no one here
  // (announce waits for open): say so now, or the peer would count them as missing.
  const moved = [...env.holdings].filter(([origin, head]) => (s.openSent?.get(origin) ?? 0) !== head.seq).map(([origin]) => origin);
  if (moved.length > 0) out.push({ type: 'send', message: { type: 'have', clock: toWireClock(env.holdings, moved) } });
  // What the peer holds: what it subscribed to, never beyond its trust-list scope.
  const peerHolding = effectiveHolding(msg.holding, s.peer?.scope);
  return restart({ ...s, phase: 'open', openSent: undefined, peerHolding, ...(msg.window === undefined ? {} : { peerWindow: msg.window }) }, held, 0, env, out);
}

/** Refuses a peer with a distinct close code; one log line (rate-limited by the host). */
function refuse(s: ProtocolState, code: number, reason: string, fields: Record<string, unknown>, out: Action[]): ProtocolState {
  out.push({ type: 'refused', code, reason, fields });
  out.push({ type: 'close', code, reason });
  return { ...s, phase: 'closed' };
}

/**
 * What each side signs: a domain-separated hash of both hellos exactly as sent (the
 * initiator's first) and the TLS channel binding, prefixed with the signer's role, so
 * a signature can be neither replayed on another connection nor reflected back.
 */
function signingInput(s: ProtocolState, env: Env, asInitiator: boolean): Uint8Array {
  const [first, second] = s.initiator ? [s.ourHello, s.peerHello] : [s.peerHello, s.ourHello];
  const hash = createHash('sha256').update('crmsync/auth/1\0');
  for (const part of [first, second, env.auth.channelBinding ?? new Uint8Array(0)]) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(part?.length ?? 0);
    hash.update(length).update(part ?? new Uint8Array(0));
  }
  return Buffer.concat([Buffer.from(asInitiator ? 'initiator\0' : 'responder\0'), hash.digest()]);
}
