/**
 * The peer protocol as a pure state machine (the "sans-I/O" style of y-protocols, h11
 * and quinn-proto): `step(state, event, env)` returns the next state and the actions to
 * perform. It never touches a socket, a timer or the store; session.ts performs the
 * actions and feeds their results back as events. Signing and verifying are pure too
 * (Ed25519 is deterministic) and come in through `env.auth`. The states and transitions
 * are drawn in PROTOCOL.md; handshake.ts and stream.ts hold the two halves.
 *
 * Invariants (checked by test/sync/protocol.test.ts and handshake.test.ts):
 *  1. The phase moves awaiting-hello [-> redeeming] -> awaiting-auth -> awaiting-open ->
 *     open -> closed, never back; no action but `log` follows the transition to closed.
 *  2. `sent[o]` >= what the peer holds of origin o; an entry with seq <= sent[o] is never
 *     sent again on this stream, so a change crosses a link once.
 *  3. At most `window` batches are unacknowledged (sentBatch - ackedBatch <= window),
 *     counting every frame of a split batch; frames beyond the window wait in `queued`.
 *  4. At most one outbound read (`locate`, `read`, `await-drain` or `backfill`) is in flight; results
 *     of an earlier stream generation are ignored.
 *  5. Entries the peer sent are learned as held by the peer before they are ingested, so
 *     our own commit of them never sends them back (no echo).
 *  6. Before `open`, only handshake messages are accepted; the peer's identity is the
 *     one its signature proved, and clocks are exchanged only after both proofs.
 *  7. Per-session state only ever names origins on the trust list (bounded by it).
 *  8. A change body reaches the peer only if its record is in the peer's holding before
 *     or after the change (else a stub goes); and a third origin's entries reach the
 *     peer only if our holding covers the peer's (else we would hide its records as stubs).
 *  9. With cumulative acks (both hellos name them) an ack covers every batch up to its
 *     own: the receiver acks every ACK_EVERY_FRAMES durable frames (fewer when the peer's
 *     window is small: at least every half window), or ACK_DELAY_MS after the first one
 *     not yet acked, and asks for a resync when a batch number is skipped within an epoch
 *     (a frame lost), since the sender no longer reads a skipped ack as one.
 */
import type { ChangeEntry, StoredEntry } from '../crdt/change-entry.js';
import { lacking, seqsFromWire, seqsOf, toWireClock, type OriginClock, type SeqClock, type WireClock } from '../crdt/origin-clock.js';
import { CrmsyncError } from '../errors.js';
import { FIXED } from '../limits.js';
import { CloseCode } from '../net/transport.js';
import { effectiveHolding, HOLD_ALL, sameHolding, type Holding, type HoldingFilter } from '../crdt/holding.js';
import type { Role, Scope } from '../trust/statements.js';
import type { NodeId } from '../types.js';
import { onAuth, onHello, onOpen, onRedeemed, sayHello } from './handshake.js';
import { holdsSigningInput, recordSigningInput, type BaseMessage, type HoldsReport, type DigestRequestMessage, type DigestResponseMessage, type HelloMessage, type Message, type RecordMessage } from './messages.js';

/** The anti-entropy messages (their exchange lives outside the machine, in anti-entropy.ts). */
export type DigestMessage = DigestRequestMessage | DigestResponseMessage;
import { askResync, fail, flushAck, learnHeld, onIngested, onRead, pump, restart } from './stream.js';

/** Session phases (invariant 1). */
export type Phase = 'awaiting-hello' | 'redeeming' | 'awaiting-auth' | 'awaiting-open' | 'open' | 'closed';

/** What the outbound stream is waiting for (invariant 4). */
export type Outbound = 'idle' | 'locating' | 'reading' | 'draining' | 'backfilling';

/** A changes frame ready to send, with the batch number it carries. */
export interface QueuedFrame {
  batch: number;
  frame: Uint8Array;
  entries: number;
}

/** Who the peer proved to be (from the trust list). */
export interface PeerIdentity {
  node: NodeId;
  publicKey: Uint8Array;
  role: Role;
  admin: boolean;
  scope?: Scope;
}

/** The whole state of one session. Treat as immutable: step returns a new one. */
export interface ProtocolState {
  readonly phase: Phase;
  readonly self: NodeId;
  /** True on the side that dialed (its hello comes first in the transcript). */
  readonly initiator: boolean;
  /** Our hello's nonce (fresh per session). */
  readonly nonce: Uint8Array;
  /** Our hello and the peer's, exactly as they went over the wire (the transcript). */
  readonly ourHello: Uint8Array | undefined;
  readonly peerHello: Uint8Array | undefined;
  /** What the trust list says about the peer's claimed key (proven once `remote` is set). */
  readonly peer: PeerIdentity | undefined;
  /** The trust statements the peer's hello carried to prove its membership. */
  readonly peerProof: readonly unknown[];
  /** The peer's hello accepts deflated frames after the handshake (frame-deflate.ts). */
  readonly peerInflates: boolean;
  /** The peer's hello accepts small frames deflated from the session's dictionary (frame-dictionary.ts). */
  readonly peerInflatesSmall: boolean;
  /** Both hellos name 'deflate-raw-dict-stream-1': small frames go on one deflate stream per direction (dictionary-zlib.ts). */
  readonly dictionaryStream: boolean;
  /** Both hellos name 'cumulative-acks': acks cover every batch up to theirs (invariant 9). */
  readonly cumulativeAcks: boolean;
  /** The last batch received in `recvEpoch`'s stream (invariant 9: a jump means a frame was lost). */
  readonly lastReceived?: { readonly epoch: number; readonly batch: number };
  /** The peer's send window, from its `open` (invariant 9: ack before it fills). */
  readonly peerWindow?: number;
  /** Batches made durable and not yet acked (invariant 9), with the origins their ack names. */
  readonly pendingAck?: { readonly batch: number; readonly origins: readonly string[]; readonly frames: number };
  /** The peer's node id, set only once its proof verified. */
  readonly remote: NodeId | undefined;
  readonly openedAt: number;
  /** What the peer is known to hold (open, acks, haves, what it sent us). */
  readonly peerHolds: SeqClock;
  /** Highest seq per origin sent (or known held) on this stream (invariant 2). */
  readonly sent: SeqClock;
  /** Next log position to read. */
  readonly cursor: number;
  /** Generation of the outbound stream; bumped by every restart (invariant 4). */
  readonly stream: number;
  readonly outbound: Outbound;
  /** Epoch of what we send (chosen by the peer's resync). */
  readonly epoch: number;
  /** Epoch we expect in what we receive (raised when we ask for a resync). */
  readonly recvEpoch: number;
  /** Highest batch number assigned to a frame (sent or queued). */
  readonly nextBatch: number;
  /** Highest batch number sent. */
  readonly sentBatch: number;
  /** Highest batch number the peer acknowledged. */
  readonly ackedBatch: number;
  /** Frames assigned a batch number but held back by the window (invariant 3). */
  readonly queued: readonly QueuedFrame[];
  /** Last time the outbound stream made progress (an ack, a restart, a first send). */
  readonly lastProgress: number;
  /** Last time the peer was known to hold everything we hold. */
  readonly caughtUpAt: number;
  /** What our `open` said we hold (entries that arrive before the peer's open are announced after it). */
  readonly openSent?: SeqClock;
  /** The peer sent an `error` (logged once: anyone may send them before the handshake). */
  readonly peerReported: boolean;
  /**
   * What the peer holds (crdt/holding.ts): its subscription AND its trust-list scope, set
   * at open. Entries of records outside it go to the peer as stubs (invariant 8).
   */
  readonly peerHolding: Holding;
  /** A holding the peer asked for (`subscribe`), served once the records entering it were sent. */
  readonly pendingHolding?: Holding;
  /** The subscription behind `pendingHolding`, as the peer declared it: echoed in `subscribed` once served. */
  readonly pendingSubscription?: { holding?: HoldingFilter };
  /**
   * Records we hold whose history we have only in part, to ask this region for once it
   * holds every other origin's entries we hold (its documents then hold what we lack).
   */
  readonly wanting?: readonly string[];
  /** Records asked for (`want`) whose documents have not arrived: adopting those completes them. */
  readonly asked?: readonly string[];
  /**
   * Our subscription grew: send `subscribe` once the peer holds our own entries up to this
   * seq. Our changes can move records into the new holding (a move made offline evicted
   * the record here): the peer sends the documents a holding gains only for records it
   * places there when it reads the subscribe, and never sends our own entries back.
   */
  readonly subscribeWhen?: number;
  /** What this session did with the peer's holds reports (node-holds.ts). */
  readonly holds?: HoldsSessionState;
  /**
   * Origins this stream does not serve: the peer is below our floor there (we truncated
   * what it lacks) and we could not bring it there (engine/truncate.ts). Set by each locate.
   */
  readonly unserved?: ReadonlySet<string>;
  /** Our floors rose since the last locate: locate again once the outbound stream is idle. */
  readonly relocate?: true;
  /**
   * Ids of the record documents this region sent since its last `base` (or the session
   * start); 'many' past maxBootstrapTracked. A subscriber asks about what it holds that
   * a bootstrap left out (a record moved out below the floor: PROTOCOL.md "Truncated logs").
   */
  readonly documented?: ReadonlySet<string> | 'many';
  /**
   * Records held here that a bootstrap left out: asked about (`want`) a batch at a time,
   * once the region holds every entry we hold, our own included (its answer must reflect
   * our moves too: one that evicts what we just moved in would lose it here).
   */
  readonly stale?: readonly string[];
}

/** A session's handling of the peer's `holds` messages. */
export interface HoldsSessionState {
  /** The peer sent a report that did not verify: its later `holds` are not read (each costs signature checks). */
  readonly ignored?: boolean;
  /** The peer's summary (`known`) was answered: a session answers one (each answer may be every member's report). */
  readonly answered?: boolean;
  /**
   * The newest `at` verified per member in this session: an older or repeated report is
   * skipped before its signature check, so a peer replaying reports costs us no more
   * than the signatures it made itself (at most one entry per active member).
   */
  readonly seen?: ReadonlyMap<string, number>;
}

/** Settings of the machine (from Limits). */
export interface ProtocolSettings {
  /** Unacknowledged batches allowed in flight. */
  window: number;
  maxFrameBytes: number;
  ackTimeoutMs: number;
  handshakeTimeoutMs: number;
}

/** The peer's hello, judged by the trust list (`redeem`: it carries an invitation the host must check). */
export type Admission = { ok: true; peer: PeerIdentity } | { ok: false; code: number; reason: string } | { redeem: true };

/** Identity and trust, as the machine uses them (pure functions of their inputs). */
export interface AuthContext {
  cluster: string;
  publicKey: Uint8Array;
  /** Statements that prove our own membership to a peer that has not heard of it. */
  proof: unknown[];
  /** RFC 9266 channel binding of the TLS connection, or undefined on plain WebSocket. */
  channelBinding: Uint8Array | undefined;
  sign(data: Uint8Array): Uint8Array;
  verify(publicKey: Uint8Array, data: Uint8Array, sig: Uint8Array): boolean;
  /** The public key of the active member `node` (undefined: revoked, or not on our trust list yet). */
  memberKey(node: string): Uint8Array | undefined;
  /** Judges a peer's hello against the trust list (and the proof it carries). */
  admit(hello: HelloMessage): Admission;
  /** True when `nonce` is one of this node's own hellos (we dialed ourselves). */
  isOwnNonce(nonce: Uint8Array): boolean;
  /** A joining node's invitation for its hello (undefined for a member). */
  invite(nonce: Uint8Array): { id: string; mac: Uint8Array } | undefined;
  trustDigest(): string;
  /** Digest of our merge policies. */
  policies: string;
}

/** What the machine may read about the node and the connection at each step. */
export interface Env {
  now: number;
  /** The node's durable holdings. */
  holdings: OriginClock;
  /** Position of the newest durable log entry. */
  lastPosition: number;
  /** True while the connection's send buffer is above its high-water mark. */
  sendBlocked: boolean;
  settings: ProtocolSettings;
  auth: AuthContext;
  /** True for origins on the trust list (invariant 7). */
  known(origin: string): boolean;
  /** False for entries the trust list puts beyond reach (of a revoked or read-only origin): never sent. */
  allowed(origin: string, seq: number): boolean;
  /** Our holdings in wire form. */
  wireClock(): WireClock;
  /** The records this node keeps (its effective holding: crdt/holding.ts). */
  holding: Holding;
  /** The subscription this node declares in its `open` (undefined: everything its scope allows). */
  subscription: HoldingFilter | undefined;
  /**
   * Set while this node's stored data is complete only for this older subscription (it
   * was started with, or changed to, a wider one and no region has answered for it yet):
   * the `open` declares it, and a `subscribe` for `subscription` follows, so the peer
   * sends the documents the new holding gains.
   */
  coveredOnly: HoldingFilter | undefined;
}

/** Inputs of the machine. */
export type Event =
  /** The connection is ready: say hello. */
  | { type: 'start' }
  /** A decoded, validated frame from the peer (`frame`: its bytes, for the transcript). */
  | { type: 'message'; message: Message; frame: Uint8Array }
  /** A frame that did not decode or validate (ERR_PROTOCOL / ERR_FRAME_TOO_LARGE). */
  | { type: 'bad-frame'; error: CrmsyncError }
  /** New durable entries in our log. */
  | { type: 'appended' }
  /** We received these origins' entries from another peer: tell this one. */
  | { type: 'announce'; origins: string[] }
  /** Our trust list gained statements: pass them on (before any entry they authorise). */
  | { type: 'share-trust'; statements: unknown[] }
  /** Periodic timer. */
  | { type: 'tick' }
  /** The ack delay of invariant 9 ran out: ack what was made durable since the last ack. */
  | { type: 'flush-ack' }
  /** Anti-entropy wants to send a digest message (sent only while open). */
  | { type: 'send-digest'; message: DigestMessage }
  /** Result of `locate`. */
  /**
   * `based`: floors the peer was brought to first (record documents and `base`);
   * `unserved`: origins the peer is below our floor and we could not bring it there.
   */
  | { type: 'located'; stream: number; cursor: number; based?: [origin: string, seq: number][]; unserved?: string[] }
  /** Result of `read`; `records`: documents of records these entries move into the peer's holding, sent first. */
  | { type: 'read'; stream: number; entries: StoredEntry[]; records?: RecordMessage[] }
  /** Result of `backfill`: the records entering `holding` were sent; serve the peer that from now on. */
  | { type: 'backfilled'; stream: number; holding: Holding }
  /** The send buffer drained (result of `await-drain`). */
  | { type: 'drained' }
  /** Result of `redeem`: the invitation was honoured (the peer is now a member) or refused. */
  | { type: 'redeemed'; admission: Admission }
  /** Result of `ingest`. */
  | { type: 'ingested'; batch: number; epoch: number; origins: string[]; gap: boolean; untrusted: boolean; incomplete?: string[] }
  /** Records held here whose history is still partial after adopting a document that was not our `want`'s answer. */
  | { type: 'incomplete'; ids: string[] }
  /** Our subscription changed at runtime: tell the peer (`subscribe`) once it holds our own entries. */
  | { type: 'resubscribe' }
  /** Our floors rose (a region's base): the peer may be below them now; locate again. */
  | { type: 'relocate' }
  /** Records held here that a bootstrap left out (after `apply-base`): ask the region about them. */
  | { type: 'stale'; ids: string[] }
  /** Member holds reports to pass on (ours and those we verified), or our summary of them (`known`): sent only while open. */
  | { type: 'share-holds'; reports: HoldsReport[]; known?: [node: string, at: number][] }
  /** An action failed (ingest refused a fork, the store failed...). */
  | { type: 'failed'; error: unknown }
  /** The host asks to close (duplicate connection, revocation, node stopping, peer removed). */
  | { type: 'close'; code: number; reason: string }
  /** The transport closed the connection. */
  | { type: 'closed'; code: number; reason: string };

/** Outputs of the machine, performed in order by the driver. */
export type Action =
  /** `frame`, when given, is the message already encoded (the hello, kept for the transcript). */
  | { type: 'send'; message: Message; frame?: Uint8Array }
  | { type: 'send-frame'; frame: Uint8Array; batch: number; entries: number }
  /** Send our trust statements (the peer's digest differs from ours). */
  | { type: 'send-trust' }
  | { type: 'locate'; stream: number; peerHolds: SeqClock }
  | { type: 'read'; stream: number; from: number }
  | { type: 'await-drain' }
  /** Dispatch `flush-ack` after ACK_DELAY_MS, unless that timer already runs (invariant 9). */
  | { type: 'ack-later' }
  | { type: 'ingest'; entries: ChangeEntry[]; batch: number; epoch: number }
  /** A record document a region vouched for: load it (the inbox waits for it). */
  | { type: 'adopt'; id: string; doc: Uint8Array; complete: boolean }
  /** A region answered our `want`: these records lie outside our scope there; evict them (the inbox waits for it). */
  | { type: 'evict'; ids: string[] }
  /** The peer wants these records' whole documents (`want`): send those inside its scope (the inbox waits for it). */
  | { type: 'send-records'; ids: string[] }
  /** A region sent every document `holding` gained (`subscribed`): our data is complete for it (the inbox waits for it). */
  | { type: 'covered'; holding: HoldingFilter | undefined }
  /** The peer handled every frame up to our `mark` n (doc-pacer.ts). */
  | { type: 'marked'; n: number }
  /**
   * A region's floors (`base`): raise our clock to them, each checked against its origin's
   * key (the inbox waits for it). `documented`: the documents it sent before (a subscriber
   * then asks about the records it holds that they left out: `stale`).
   */
  | { type: 'apply-base'; floors: BaseMessage['floors']; documented: ReadonlySet<string> | 'many' }
  /** Send the peer the documents of records in `to` but not in `from` (its subscription grew). */
  | { type: 'backfill'; stream: number; from: Holding; to: Holding }
  /** The peer's hello carries an invitation: the host checks it and grants the key (durably). */
  | { type: 'redeem'; hello: HelloMessage }
  /** Trust statements from the peer, to check and add. */
  | { type: 'trust'; statements: unknown[] }
  /** The peer proved its key: the connection counts as authenticated; its hello's proof statements may be added. */
  | { type: 'authenticated'; peer: PeerIdentity; proof: unknown[] }
  /** Clocks were exchanged with `remote`; the host may close a duplicate session. */
  | { type: 'opened'; remote: NodeId }
  /** Member holds reports whose signatures verified: the host learns them (tombstone collection). */
  | { type: 'holds'; reports: HoldsReport[] }
  /** The peer's summary of the reports it holds: send it those that are newer or missing there. */
  | { type: 'holds-wanted'; known: [node: string, at: number][] }
  /** A handshake was refused (the host logs it, rate-limited, and counts it). */
  | { type: 'refused'; code: number; reason: string; fields: Record<string, unknown> }
  | { type: 'close'; code: number; reason: string }
  /** A digest message from the peer, for anti-entropy (anti-entropy.ts); the machine only checks the clocks it carries. */
  | { type: 'digest'; message: DigestMessage }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string; fields: Record<string, unknown> };

/** The result of one step. */
export interface Step {
  state: ProtocolState;
  actions: Action[];
}

/** The state of a new session; `nonce` must be fresh random bytes. */
export function initialState(self: NodeId, now: number, options: { initiator: boolean; nonce: Uint8Array }): ProtocolState {
  return {
    phase: 'awaiting-hello', self, initiator: options.initiator, nonce: options.nonce, ourHello: undefined, peerHello: undefined,
    peer: undefined, peerProof: [], peerInflates: false, peerInflatesSmall: false, dictionaryStream: false, cumulativeAcks: false, remote: undefined, openedAt: now,
    peerHolds: new Map(), sent: new Map(), cursor: 1, stream: 0, outbound: 'idle',
    epoch: 0, recvEpoch: 0, nextBatch: 0, sentBatch: 0, ackedBatch: 0, queued: [],
    lastProgress: now, caughtUpAt: now, peerReported: false, peerHolding: HOLD_ALL,
  };
}

/**
 * Asks the region for the records in `wanting` once it holds every entry of every other
 * origin that we hold: its documents then contain every change we kept as a stub (a
 * region applies all it holds), so adopting them completes ours. Asked earlier, a
 * document could lack a change we have only as a stub, and nothing would ask again.
 */
function askForPartial(s: ProtocolState, env: Env, out: Action[]): ProtocolState {
  // One question at a time (the region answers wants one after the other, and bounds them).
  if (!s.wanting || s.wanting.length === 0 || (s.asked?.length ?? 0) > 0 || !peerHoldsOurs(s, env)) return s;
  out.push({ type: 'send', message: { type: 'want', ids: [...s.wanting] } });
  const { wanting, ...rest } = s;
  return { ...rest, asked: [...new Set([...(s.asked ?? []), ...wanting])].slice(-FIXED.maxWantIds) };
}

/** Notes a document's id for the next `base` (bounded: past the limit, 'many'). */
function noteDocumented(documented: ReadonlySet<string> | 'many' | undefined, id: string): ReadonlySet<string> | 'many' {
  if (documented === 'many') return documented;
  if ((documented?.size ?? 0) >= FIXED.maxBootstrapTracked) return 'many';
  // Mutated in place: a copy per document would make a bootstrap quadratic. The set is
  // this session's alone and replaced (not mutated) when a base takes it.
  const set = (documented ?? new Set<string>()) as Set<string>;
  set.add(id);
  return set;
}

/**
 * Asks the region about records a bootstrap left out (`stale`), a batch at a time, once
 * it holds every entry we hold, our own included, and earlier questions were answered.
 */
function askAboutStale(s: ProtocolState, env: Env, out: Action[]): ProtocolState {
  if (!s.stale || s.stale.length === 0 || (s.asked?.length ?? 0) > 0 || (s.wanting?.length ?? 0) > 0) return s;
  if (!peerHoldsOurs(s, env) || (s.peerHolds.get(s.self) ?? 0) < ownSeq(s, env)) return s;
  const ids = s.stale.slice(0, FIXED.maxWantIds);
  out.push({ type: 'send', message: { type: 'want', ids } });
  return { ...s, stale: s.stale.slice(ids.length), asked: ids };
}

/** Sends the `subscribe` that waits for the peer to hold our own entries (subscribeWhen). */
function askToSubscribe(s: ProtocolState, env: Env, out: Action[]): ProtocolState {
  if (s.subscribeWhen === undefined || (s.peerHolds.get(s.self) ?? 0) < s.subscribeWhen) return s;
  out.push({ type: 'send', message: { type: 'subscribe', ...(env.subscription ? { holding: env.subscription } : {}) } });
  const { subscribeWhen: _sent, ...rest } = s;
  return rest;
}

/** Whether the peer holds every entry of every other origin that we hold (as far as we know). */
function peerHoldsOurs(s: ProtocolState, env: Env): boolean {
  for (const [origin, head] of env.holdings) {
    if (origin !== s.self && (s.peerHolds.get(origin) ?? 0) < head.seq) return false;
  }
  return true;
}

/** Our own origin's last seq (what a peer must hold to hold every change we made). */
export function ownSeq(s: ProtocolState, env: Env): number {
  return env.holdings.get(s.self)?.seq ?? 0;
}

/** Adds records to ask this region for (only a region vouches for a whole document); bounded. */
export function wantLater(s: ProtocolState, ids: readonly string[]): ProtocolState {
  if (ids.length === 0 || s.peer?.role !== 'region') return s;
  return { ...s, wanting: [...new Set([...(s.wanting ?? []), ...ids])].slice(0, FIXED.maxWantIds) };
}

/** The transition function. */
export function step(state: ProtocolState, event: Event, env: Env): Step {
  if (state.phase === 'closed') return { state, actions: [] };
  const out: Action[] = [];
  const next = transition(state, event, env, out);
  if (next.phase !== 'open') return { state: next, actions: out };
  const pumped = askAboutStale(askToSubscribe(askForPartial(pump(next, env, out), env, out), env, out), env, out);
  const current = lacking(seqsOf(env.holdings), pumped.peerHolds) === 0;
  return { state: current ? { ...pumped, caughtUpAt: env.now } : pumped, actions: out };
}

/** Changes the peer lacks, changes we lack, and for how long the peer has been behind us. Pure. */
export function lagOf(state: ProtocolState, env: Pick<Env, 'holdings' | 'now'>): { peerBehind: number; weBehind: number; seconds: number } {
  const mine = seqsOf(env.holdings);
  const peerBehind = lacking(mine, state.peerHolds);
  return {
    peerBehind,
    weBehind: lacking(state.peerHolds, mine),
    seconds: peerBehind === 0 ? 0 : Math.max(0, env.now - state.caughtUpAt) / 1000,
  };
}

function transition(s: ProtocolState, event: Event, env: Env, out: Action[]): ProtocolState {
  switch (event.type) {
    case 'start':
      return sayHello(s, env, out);
    case 'message':
      return onMessage(s, event.message, event.frame, env, out);
    case 'bad-frame':
      return fail(s, event.error, out);
    case 'failed':
      return fail(s, event.error, out);
    case 'appended':
      return s;
    case 'announce':
      if (s.phase === 'open' && event.origins.length > 0) out.push({ type: 'send', message: { type: 'have', clock: toWireClock(env.holdings, event.origins) } });
      return s;
    case 'share-holds':
      if (s.phase === 'open' && (event.reports.length > 0 || event.known)) {
        out.push({ type: 'send', message: { type: 'holds', reports: event.reports, ...(event.known ? { known: event.known } : {}) } });
      }
      return s;
    case 'share-trust':
      if (s.phase === 'open' && event.statements.length > 0) out.push({ type: 'send', message: { type: 'trust', statements: event.statements } });
      return s;
    case 'tick':
      return onTick(s, env, out);
    case 'flush-ack':
      return s.phase === 'open' ? flushAck(s, env, out) : s;
    case 'send-digest':
      if (s.phase === 'open') out.push({ type: 'send', message: event.message });
      return s;
    case 'located':
      if (event.stream !== s.stream || s.outbound !== 'locating') return s;
      return { ...(event.based ? learnHeld(s, event.based, env) : s), cursor: event.cursor, outbound: 'idle', unserved: new Set(event.unserved) };
    case 'read':
      if (event.stream !== s.stream || s.outbound !== 'reading') return s;
      for (const record of event.records ?? []) out.push({ type: 'send', message: record });
      return onRead(s, event.entries, env);
    case 'backfilled': {
      if (event.stream !== s.stream || s.outbound !== 'backfilling') return s;
      const still = s.pendingHolding && !sameHolding(s.pendingHolding, event.holding) ? { pendingHolding: s.pendingHolding } : undefined;
      const { pendingHolding: _done, pendingSubscription, ...rest } = s;
      if (still) return { ...rest, ...still, ...(pendingSubscription ? { pendingSubscription } : {}), peerHolding: event.holding, outbound: 'idle' };
      if (pendingSubscription) out.push({ type: 'send', message: { type: 'subscribed', ...pendingSubscription } });
      return { ...rest, peerHolding: event.holding, outbound: 'idle' };
    }
    case 'incomplete':
      return s.phase === 'open' ? wantLater(s, event.ids) : s;
    case 'relocate':
      return s.phase === 'open' ? { ...s, relocate: true } : s;
    case 'stale':
      return s.phase === 'open' && event.ids.length > 0 ? { ...s, stale: [...(s.stale ?? []), ...event.ids] } : s;
    case 'resubscribe':
      // Before our open is sent there is nothing to follow: the open declares the change.
      return s.phase === 'open' || s.phase === 'awaiting-open' ? { ...s, subscribeWhen: ownSeq(s, env) } : s;
    case 'drained':
      return s.outbound === 'draining' ? { ...s, outbound: 'idle' } : s;
    case 'ingested':
      return s.phase === 'open' ? onIngested(s, event, env, out) : s;
    case 'redeemed':
      return onRedeemed(s, event.admission, env, out);
    case 'close':
      out.push({ type: 'close', code: event.code, reason: event.reason });
      return { ...s, phase: 'closed' };
    case 'closed':
      return { ...s, phase: 'closed' };
    default: {
      const unreachable: never = event;
      throw new TypeError(`unhandled event ${String(unreachable)}`);
    }
  }
}

function onMessage(s: ProtocolState, msg: Message, frame: Uint8Array, env: Env, out: Action[]): ProtocolState {
  switch (msg.type) {
    case 'hello':
      return onHello(s, msg, frame, env, out);
    case 'auth':
      return onAuth(s, msg, env, out);
    case 'open':
      return onOpen(s, msg, env, out);
    case 'error':
      // The peer closes after it (it decides the close code); until then, one log line per
      // session however many it sends, so an unauthenticated peer cannot fill the log.
      if (s.peerReported) return s;
      out.push({ type: 'log', level: 'warn', message: 'peer reported an error', fields: { code: msg.code } });
      return { ...s, peerReported: true };
    default:
      break;
  }
  if (s.phase !== 'open') return fail(s, new CrmsyncError('ERR_PROTOCOL', `${msg.type} before the handshake completed`), out);
  switch (msg.type) {
    case 'changes': {
      if (msg.epoch < s.recvEpoch) {
        // Sent before the sender saw our resync. If that resync was lost, the sender keeps
        // resending in the old epoch on ack timeouts and nothing would ever be acked:
        // repeat it (the sender ignores repeats of an epoch it already follows).
        out.push({ type: 'send', message: { type: 'resync', epoch: s.recvEpoch, clock: toWireClock(env.holdings) } });
        return s;
      }
      if (s.cumulativeAcks) {
        // Invariant 9: a batch number skipped within an epoch is a frame lost on the way.
        const last = s.lastReceived;
        if (last?.epoch === msg.epoch && msg.batch > last.batch + 1) return askResync(flushAck(s, env, out), msg.epoch, env, out);
        s = { ...s, lastReceived: { epoch: msg.epoch, batch: last?.epoch === msg.epoch ? Math.max(last.batch, msg.batch) : msg.batch } };
      }
      out.push({ type: 'ingest', entries: msg.entries, batch: msg.batch, epoch: msg.epoch });
      // Invariant 5: the peer holds what it sent (sequences are contiguous per origin).
      return learnHeld(s, msg.entries.map((e) => [e.origin, e.seq] as const), env);
    }
    case 'ack': {
      const valid = msg.batch > s.ackedBatch && msg.batch <= s.sentBatch;
      // Acks return in batch order; a skipped one means a batch or its ack was lost. A
      // lost batch is not always noticed by the peer (a gap shows only when a later
      // entry of the same origin arrives), so resend from what the peer is known to hold.
      // With cumulative acks the peer skips on purpose and notices lost batches itself
      // (invariant 9).
      const skipped = valid && msg.batch > s.ackedBatch + 1 && !s.cumulativeAcks;
      const acked = learnHeld({ ...s, ackedBatch: valid ? msg.batch : s.ackedBatch, lastProgress: env.now }, msg.clock, env);
      return skipped ? restart(acked, acked.peerHolds, acked.epoch, env, out) : acked;
    }
    case 'have':
      return learnHeld(s, msg.clock, env);
    case 'resync': {
      // Every new resync carries a higher epoch than the last; one we already follow is
      // a repeat and restarting again would only resend twice.
      if (msg.epoch <= s.epoch) return s;
      // The peer may lack the trust statements behind what we sent: they go first.
      if (msg.trust !== undefined && msg.trust !== env.auth.trustDigest()) out.push({ type: 'send-trust' });
      const held = new Map([...seqsFromWire(msg.clock)].filter(([origin]) => env.known(origin)));
      return restart(s, held, msg.epoch, env, out);
    }
    case 'trust':
      out.push({ type: 'trust', statements: msg.statements });
      return s;
    case 'digest-request':
    case 'digest-response': {
      out.push({ type: 'digest', message: msg });
      return msg.clock === undefined ? s : onPeerClock(s, msg.clock, env, out);
    }
    case 'record': {
      // Only a region vouches for a whole document (its history is not origin-signed as one).
      if (s.peer?.role !== 'region') {
        out.push({ type: 'log', level: 'warn', message: 'ignored a record document from a member that is not a region', fields: { peer: s.remote } });
        return s;
      }
      if (!env.auth.verify(s.peer.publicKey, recordSigningInput(env.auth.cluster, msg.id, msg.doc), msg.sig)) {
        return fail(s, new CrmsyncError('ERR_SIGNATURE', 'a record document is not signed by the peer that sent it'), out);
      }
      s = { ...s, documented: noteDocumented(s.documented, msg.id) };
      // The answer to our `want` (asked once the region held what we hold) is complete, if
      // the region still holds what we hold now: entries we took from others since asking
      // may be missing from it (then it counts as partial, and we ask again). This checks
      // every origin, not the record's: cheaper to ask again than to track per record, and
      // rare (14 of 257 answers over simulation seeds 1 to 300).
      if (s.asked?.includes(msg.id)) {
        out.push({ type: 'adopt', id: msg.id, doc: msg.doc, complete: peerHoldsOurs(s, env) });
        return { ...s, asked: s.asked.filter((id) => id !== msg.id) };
      }
      out.push({ type: 'adopt', id: msg.id, doc: msg.doc, complete: false });
      return s;
    }
    case 'subscribe': {
      const wanted = effectiveHolding(msg.holding, s.peer?.scope);
      const declared = msg.holding ? { holding: msg.holding } : {};
      // Nothing to send: answer at once (a subscriber waits for the answer to call its data complete).
      if (!s.pendingHolding && sameHolding(wanted, s.peerHolding)) {
        out.push({ type: 'send', message: { type: 'subscribed', ...declared } });
        return s;
      }
      return { ...s, pendingHolding: wanted, pendingSubscription: declared };
    }
    case 'want':
      out.push({ type: 'send-records', ids: msg.ids });
      return s;
    case 'outside': {
      // Only for records we asked a region for: its view covered ours when it answered.
      const asked = msg.ids.filter((id) => s.asked?.includes(id));
      if (asked.length === 0 || s.peer?.role !== 'region') return s;
      out.push({ type: 'evict', ids: asked });
      return { ...s, asked: s.asked!.filter((id) => !asked.includes(id)) };
    }
    case 'mark':
      // Frames are handled in order, each after the one before: everything before it is handled.
      out.push({ type: 'send', message: { type: 'marked', n: msg.n } });
      return s;
    case 'marked':
      out.push({ type: 'marked', n: msg.n });
      return s;
    case 'base':
      // Only a region vouches for the documents that stand for the history below its floors.
      if (s.peer?.role !== 'region') {
        out.push({ type: 'log', level: 'warn', message: 'ignored floors (base) from a member that is not a region', fields: { peer: s.remote } });
        return s;
      }
      out.push({ type: 'apply-base', floors: msg.floors, documented: s.documented ?? new Set() });
      return { ...s, documented: new Set() };
    case 'subscribed':
      // Only a region vouches for the history a subscriber skipped (as for `record`).
      if (s.peer?.role === 'region') out.push({ type: 'covered', holding: msg.holding });
      return s;
    case 'holds': {
      const answer = msg.known !== undefined && !s.holds?.answered;
      if (answer) out.push({ type: 'holds-wanted', known: msg.known! });
      return onHolds(answer ? { ...s, holds: { ...s.holds, answered: true } } : s, msg.reports, env, out);
    }
    default: {
      const unreachable: never = msg;
      throw new TypeError(`unhandled message ${String(unreachable)}`);
    }
  }
}

/**
 * Reports relayed by the peer, each signed by the member it describes. Reports of nodes
 * that are not active members here are skipped (revoked, or granted on a trust list that
 * has not reached us). One that does not verify is dropped with the peer's later `holds`
 * (not a close: an honest relay may hold a report signed by a key since replaced).
 */
function onHolds(s: ProtocolState, reports: readonly HoldsReport[], env: Env, out: Action[]): ProtocolState {
  if (s.holds?.ignored) return s;
  const verified: HoldsReport[] = [];
  const seen = new Map(s.holds?.seen);
  for (const report of reports) {
    if (report.at <= (seen.get(report.node) ?? -1)) continue;
    const key = env.auth.memberKey(report.node);
    if (!key) continue;
    if (!env.auth.verify(key, holdsSigningInput(env.auth.cluster, report), report.sig)) {
      out.push({ type: 'log', level: 'warn', message: 'a holds report did not verify: ignoring the peer\'s holds for this session', fields: { peer: s.remote, node: report.node } });
      if (verified.length > 0) out.push({ type: 'holds', reports: verified });
      return { ...s, holds: { ...s.holds, ignored: true, seen } };
    }
    seen.set(report.node, report.at);
    verified.push(report);
  }
  if (verified.length > 0) out.push({ type: 'holds', reports: verified });
  return verified.length > 0 ? { ...s, holds: { ...s.holds, seen } } : s;
}

/**
 * The peer stated what it durably holds (anti-entropy). If it lacks entries this stream
 * counted as delivered while nothing is in flight (every sent batch acknowledged, so the
 * clock cannot predate them), something was lost: resend from its clock, as an ack
 * timeout would. This never happens between correct nodes; it is the safety net that
 * makes a stuck stream repair itself through normal sync.
 */
function onPeerClock(s: ProtocolState, clock: WireClock, env: Env, out: Action[]): ProtocolState {
  if (s.sentBatch !== s.ackedBatch || s.queued.length > 0 || s.outbound !== 'idle') return s;
  const reported = new Map([...seqsFromWire(clock)].filter(([origin]) => env.known(origin)));
  const missing = lacking(s.sent, reported);
  if (missing === 0) return s;
  out.push({ type: 'log', level: 'warn', message: 'peer lacks entries the stream counted as delivered; resending', fields: { peer: s.remote, missing } });
  return restart(s, reported, s.epoch, env, out);
}

function onTick(s: ProtocolState, env: Env, out: Action[]): ProtocolState {
  const { now, settings } = env;
  if (s.phase !== 'open' && now - s.openedAt > settings.handshakeTimeoutMs) {
    out.push({ type: 'refused', code: CloseCode.handshakeTimeout, reason: 'handshake-timeout', fields: {} });
    out.push({ type: 'close', code: CloseCode.handshakeTimeout, reason: 'handshake timed out' });
    return { ...s, phase: 'closed' };
  }
  if (s.phase === 'open' && s.sentBatch > s.ackedBatch && now - s.lastProgress > settings.ackTimeoutMs) {
    out.push({ type: 'log', level: 'warn', message: 'acks timed out; resending', fields: { peer: s.remote, unacked: s.sentBatch - s.ackedBatch } });
    return restart(s, s.peerHolds, s.epoch, env, out);
  }
  return s;
}

export type { QueuedFrame as Frame };
export { frames } from './stream.js';
