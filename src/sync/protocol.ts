/**
 * The peer protocol as a pure state machine (the "sans-I/O" style of y-protocols, h11
 * and quinn-proto): `step(state, event, env)` returns the next state and the actions to
 * perform. It never touches a socket, a timer or the store; session.ts performs the
 * actions and feeds their results back as events. The states and transitions are drawn
 * in PROTOCOL.md.
 *
 * Invariants (checked by test/sync/protocol.test.ts):
 *  1. The phase moves awaiting-hello -> open -> closed, never back; no action but `log`
 *     follows the transition to closed.
 *  2. `sent[o]` >= what the peer holds of origin o; an entry with seq <= sent[o] is never
 *     sent again on this stream, so a change crosses a link once.
 *  3. At most `window` batches are unacknowledged (sentBatch - ackedBatch <= window),
 *     counting every frame of a split batch; frames beyond the window wait in `queued`.
 *  4. At most one outbound read (`locate`, `read` or `await-drain`) is in flight; results
 *     of an earlier stream generation are ignored.
 *  5. Entries the peer sent are learned as held by the peer before they are ingested, so
 *     our own commit of them never sends them back (no echo).
 */
import type { ChangeEntry, StoredEntry } from '../crdt/change-entry.js';
import {
  forkedOrigin, lacking, learn, seqsFromWire, seqsOf, toWireClock,
  type OriginClock, type SeqClock,
} from '../crdt/origin-clock.js';
import { CrmsyncError, hasCode } from '../errors.js';
import { CloseCode } from '../net/transport.js';
import type { NodeId } from '../types.js';
import { encodeMessage } from './codec.js';
import { PROTOCOL_VERSION, type Message } from './messages.js';

/** Session phases (invariant 1). */
export type Phase = 'awaiting-hello' | 'open' | 'closed';

/** What the outbound stream is waiting for (invariant 4). */
export type Outbound = 'idle' | 'locating' | 'reading' | 'draining';

/** A changes frame ready to send, with the batch number it carries. */
export interface QueuedFrame {
  batch: number;
  frame: Uint8Array;
  entries: number;
}

/** The whole state of one session. Treat as immutable: step returns a new one. */
export interface ProtocolState {
  readonly phase: Phase;
  readonly self: NodeId;
  readonly remote: NodeId | undefined;
  readonly openedAt: number;
  /** What the peer is known to hold (hello, acks, haves, what it sent us). */
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
}

/** Settings of the machine (from Limits). */
export interface ProtocolSettings {
  /** Unacknowledged batches allowed in flight. */
  window: number;
  maxFrameBytes: number;
  ackTimeoutMs: number;
  handshakeTimeoutMs: number;
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
}

/** Inputs of the machine. */
export type Event =
  /** The connection is ready: say hello. */
  | { type: 'start' }
  /** A decoded, validated frame from the peer. */
  | { type: 'message'; message: Message }
  /** A frame that did not decode or validate (ERR_PROTOCOL / ERR_FRAME_TOO_LARGE). */
  | { type: 'bad-frame'; error: CrmsyncError }
  /** New durable entries in our log. */
  | { type: 'appended' }
  /** We received these origins' entries from another peer: tell this one. */
  | { type: 'announce'; origins: string[] }
  /** Periodic timer. */
  | { type: 'tick' }
  /** Result of `locate`. */
  | { type: 'located'; stream: number; cursor: number }
  /** Result of `read`. */
  | { type: 'read'; stream: number; entries: StoredEntry[] }
  /** The send buffer drained (result of `await-drain`). */
  | { type: 'drained' }
  /** Result of `ingest`. */
  | { type: 'ingested'; batch: number; epoch: number; origins: string[]; gap: boolean }
  /** An action failed (ingest refused a fork, the store failed...). */
  | { type: 'failed'; error: unknown }
  /** The host asks to close (duplicate connection, node stopping, peer removed). */
  | { type: 'close'; code: number; reason: string }
  /** The transport closed the connection. */
  | { type: 'closed'; code: number; reason: string };

/** Outputs of the machine, performed in order by the driver. */
export type Action =
  | { type: 'send'; message: Message }
  | { type: 'send-frame'; frame: Uint8Array; batch: number; entries: number }
  | { type: 'locate'; stream: number; peerHolds: SeqClock }
  | { type: 'read'; stream: number; from: number }
  | { type: 'await-drain' }
  | { type: 'ingest'; entries: ChangeEntry[]; batch: number; epoch: number }
  /** The handshake completed with `remote`; the host may close a duplicate session. */
  | { type: 'opened'; remote: NodeId }
  | { type: 'close'; code: number; reason: string }
  | { type: 'log'; level: 'debug' | 'info' | 'warn'; message: string; fields: Record<string, unknown> };

/** The result of one step. */
export interface Step {
  state: ProtocolState;
  actions: Action[];
}

/** The state of a new session. */
export function initialState(self: NodeId, now: number): ProtocolState {
  return {
    phase: 'awaiting-hello', self, remote: undefined, openedAt: now,
    peerHolds: new Map(), sent: new Map(), cursor: 1, stream: 0, outbound: 'idle',
    epoch: 0, recvEpoch: 0, nextBatch: 0, sentBatch: 0, ackedBatch: 0, queued: [],
    lastProgress: now, caughtUpAt: now,
  };
}

/** The transition function. */
export function step(state: ProtocolState, event: Event, env: Env): Step {
  if (state.phase === 'closed') return { state, actions: [] };
  const out: Action[] = [];
  const next = transition(state, event, env, out);
  if (next.phase !== 'open') return { state: next, actions: out };
  const pumped = pump(next, env, out);
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
      out.push({ type: 'send', message: { type: 'hello', protocol: PROTOCOL_VERSION, node: s.self, clock: toWireClock(env.holdings) } });
      return s;
    case 'message':
      return onMessage(s, event.message, env, out);
    case 'bad-frame':
    case 'failed':
      return fail(s, event.type === 'bad-frame' ? event.error : event.error, out);
    case 'appended':
      return s;
    case 'announce':
      if (s.phase === 'open' && event.origins.length > 0) out.push({ type: 'send', message: { type: 'have', clock: toWireClock(env.holdings, event.origins) } });
      return s;
    case 'tick':
      return onTick(s, env, out);
    case 'located':
      if (event.stream !== s.stream || s.outbound !== 'locating') return s;
      return { ...s, cursor: event.cursor, outbound: 'idle' };
    case 'read':
      if (event.stream !== s.stream || s.outbound !== 'reading') return s;
      return onRead(s, event.entries, env);
    case 'drained':
      return s.outbound === 'draining' ? { ...s, outbound: 'idle' } : s;
    case 'ingested':
      return onIngested(s, event, env, out);
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

function onMessage(s: ProtocolState, msg: Message, env: Env, out: Action[]): ProtocolState {
  if (msg.type === 'hello') return onHello(s, msg, env, out);
  if (msg.type === 'error') {
    out.push({ type: 'log', level: 'warn', message: 'peer reported an error', fields: { code: msg.code } });
    return s;
  }
  if (s.phase !== 'open') return fail(s, new CrmsyncError('ERR_PROTOCOL', 'message before hello'), out);
  switch (msg.type) {
    case 'changes': {
      if (msg.epoch < s.recvEpoch) {
        // Sent before the sender saw our resync. If that resync was lost, the sender keeps
        // resending in the old epoch on ack timeouts and nothing would ever be acked:
        // repeat it (the sender ignores repeats of an epoch it already follows).
        out.push({ type: 'send', message: { type: 'resync', epoch: s.recvEpoch, clock: toWireClock(env.holdings) } });
        return s;
      }
      out.push({ type: 'ingest', entries: msg.entries, batch: msg.batch, epoch: msg.epoch });
      // Invariant 5: the peer holds what it sent (sequences are contiguous per origin).
      return learnHeld(s, msg.entries.map((e) => [e.origin, e.seq] as const));
    }
    case 'ack': {
      const valid = msg.batch > s.ackedBatch && msg.batch <= s.sentBatch;
      // Acks return in batch order; a skipped one means a batch or its ack was lost. A
      // lost batch is not always noticed by the peer (a gap shows only when a later
      // entry of the same origin arrives), so resend from what the peer is known to hold.
      const skipped = valid && msg.batch > s.ackedBatch + 1;
      const acked = learnHeld({ ...s, ackedBatch: valid ? msg.batch : s.ackedBatch, lastProgress: env.now }, msg.clock);
      return skipped ? restart(acked, acked.peerHolds, acked.epoch, env, out) : acked;
    }
    case 'have':
      return learnHeld(s, msg.clock);
    case 'resync':
      // Every new resync carries a higher epoch than the last; one we already follow is
      // a repeat and restarting again would only resend twice.
      if (msg.epoch <= s.epoch) return s;
      return restart(s, seqsFromWire(msg.clock), msg.epoch, env, out);
    default: {
      const unreachable: never = msg;
      throw new TypeError(`unhandled message ${String(unreachable)}`);
    }
  }
}

function onHello(s: ProtocolState, msg: Extract<Message, { type: 'hello' }>, env: Env, out: Action[]): ProtocolState {
  if (s.phase !== 'awaiting-hello') return fail(s, new CrmsyncError('ERR_PROTOCOL', 'second hello'), out);
  if (msg.protocol !== PROTOCOL_VERSION) {
    return fail(s, new CrmsyncError('ERR_PROTOCOL_VERSION', `peer speaks protocol ${msg.protocol}, this node speaks ${PROTOCOL_VERSION}`), out);
  }
  const remote = msg.node as NodeId;
  // Fork checks come first: the two copies of a copied data directory share a node id,
  // and when they dial each other the fork must be reported, not closed silently as a
  // self-connection.
  const forked = forkedOrigin(env.holdings, msg.clock, s.self, remote);
  if (forked !== undefined) {
    return fail(s, new CrmsyncError('ERR_ORIGIN_FORKED', `peer holds a different history for node "${forked}" (was a data directory copied?)`), out);
  }
  if (remote === s.self) {
    out.push({ type: 'close', code: CloseCode.selfConnection, reason: 'connected to itself' });
    return { ...s, phase: 'closed' };
  }
  out.push({ type: 'opened', remote });
  out.push({ type: 'log', level: 'info', message: 'peer session open', fields: { peer: remote } });
  return restart({ ...s, phase: 'open', remote }, seqsFromWire(msg.clock), 0, env, out);
}

function onTick(s: ProtocolState, env: Env, out: Action[]): ProtocolState {
  const { now, settings } = env;
  if (s.phase === 'awaiting-hello' && now - s.openedAt > settings.handshakeTimeoutMs) {
    out.push({ type: 'close', code: CloseCode.handshakeTimeout, reason: 'handshake timed out' });
    return { ...s, phase: 'closed' };
  }
  if (s.phase === 'open' && s.sentBatch > s.ackedBatch && now - s.lastProgress > settings.ackTimeoutMs) {
    out.push({ type: 'log', level: 'warn', message: 'acks timed out; resending', fields: { peer: s.remote, unacked: s.sentBatch - s.ackedBatch } });
    return restart(s, s.peerHolds, s.epoch, env, out);
  }
  return s;
}

function onIngested(s: ProtocolState, event: Extract<Event, { type: 'ingested' }>, env: Env, out: Action[]): ProtocolState {
  if (event.gap) {
    const recvEpoch = Math.max(s.recvEpoch, event.epoch) + 1;
    out.push({ type: 'send', message: { type: 'resync', epoch: recvEpoch, clock: toWireClock(env.holdings) } });
    return { ...s, recvEpoch };
  }
  out.push({ type: 'send', message: { type: 'ack', batch: event.batch, clock: toWireClock(env.holdings, event.origins) } });
  return s;
}

/** Merges what the peer says it holds into peerHolds and sent (invariant 2). */
function learnHeld(s: ProtocolState, held: Iterable<readonly [string, number, ...unknown[]]>): ProtocolState {
  const peerHolds = new Map(s.peerHolds);
  const sent = new Map(s.sent);
  const list = [...held];
  learn(peerHolds, list);
  learn(sent, list);
  return { ...s, peerHolds, sent };
}

/** Restarts our outbound stream from what the peer holds: locate the first missing entry. */
function restart(s: ProtocolState, peerHolds: SeqClock, epoch: number, env: Env, out: Action[]): ProtocolState {
  const merged = new Map(s.peerHolds);
  learn(merged, peerHolds);
  const stream = s.stream + 1;
  out.push({ type: 'locate', stream, peerHolds });
  return {
    ...s, epoch: Math.max(s.epoch, epoch), stream, outbound: 'locating', peerHolds: merged, sent: new Map(peerHolds),
    // Frames not yet sent are dropped with their batch numbers; sent ones count as acked.
    queued: [], nextBatch: s.sentBatch, ackedBatch: s.sentBatch, lastProgress: env.now,
  };
}

/** Keeps entries not yet sent on this stream and turns them into frames (invariant 2). */
function onRead(s: ProtocolState, entries: StoredEntry[], env: Env): ProtocolState {
  if (entries.length === 0) return { ...s, outbound: 'idle', cursor: env.lastPosition + 1 };
  const sent = new Map(s.sent);
  const fresh = entries.filter((e) => {
    if (e.seq <= (sent.get(e.origin) ?? 0)) return false;
    sent.set(e.origin, e.seq);
    return true;
  });
  const cursor = entries[entries.length - 1]!.localSeq + 1;
  if (fresh.length === 0) return { ...s, sent, cursor, outbound: 'idle' };
  const queued = [...s.queued];
  let nextBatch = s.nextBatch;
  for (const part of frames(fresh, s.epoch, nextBatch, env.settings.maxFrameBytes)) {
    nextBatch = part.batch;
    queued.push(part);
  }
  const idle = s.sentBatch === s.ackedBatch && s.queued.length === 0;
  return { ...s, sent, cursor, outbound: 'idle', queued, nextBatch, lastProgress: idle ? env.now : s.lastProgress };
}

/**
 * Encodes entries as `changes` frames no larger than maxFrameBytes, numbered from
 * `after + 1`: the log read bounds a batch by an estimate of its size, and a batch of
 * large records (long notes) can exceed the frame limit, which the peer would refuse on
 * every resend. Each frame is a batch of its own and counts against the window.
 */
export function frames(entries: StoredEntry[], epoch: number, after: number, maxFrameBytes: number): QueuedFrame[] {
  const result: QueuedFrame[] = [];
  const split = (part: StoredEntry[]): void => {
    const batch = after + result.length + 1;
    const frame = encodeMessage({ type: 'changes', epoch, batch, entries: part });
    if (frame.length > maxFrameBytes && part.length > 1) {
      const half = part.length >> 1;
      split(part.slice(0, half));
      split(part.slice(half));
      return;
    }
    result.push({ batch, frame, entries: part.length });
  };
  split(entries);
  return result;
}

/** Sends queued frames while the window allows, then asks for more (invariants 3 and 4). */
function pump(s: ProtocolState, env: Env, out: Action[]): ProtocolState {
  const { window } = env.settings;
  let sentBatch = s.sentBatch;
  let sending = 0;
  while (sending < s.queued.length && sentBatch - s.ackedBatch < window) {
    const frame = s.queued[sending++]!;
    out.push({ type: 'send-frame', frame: frame.frame, batch: frame.batch, entries: frame.entries });
    sentBatch = frame.batch;
  }
  const next = sending === 0 ? s : { ...s, sentBatch, queued: s.queued.slice(sending) };
  if (next.queued.length > 0 || next.outbound !== 'idle') return next;
  if (next.cursor > env.lastPosition || next.sentBatch - next.ackedBatch >= window) return next;
  if (env.sendBlocked) {
    out.push({ type: 'await-drain' });
    return { ...next, outbound: 'draining' };
  }
  out.push({ type: 'read', stream: next.stream, from: next.cursor });
  return { ...next, outbound: 'reading' };
}

/** Closes with the code that matches the error (a peer can never crash the node). */
function fail(s: ProtocolState, err: unknown, out: Action[]): ProtocolState {
  const code = closeCodeFor(err);
  const errCode = err instanceof CrmsyncError ? err.code : 'ERR_INTERNAL';
  out.push({ type: 'log', level: 'warn', message: 'closing peer session', fields: { peer: s.remote, code: errCode, ...(code === CloseCode.internalError ? { err } : {}) } });
  if (err instanceof CrmsyncError) out.push({ type: 'send', message: { type: 'error', code: err.code, message: err.message.slice(0, 1000) } });
  out.push({ type: 'close', code, reason: errCode });
  return { ...s, phase: 'closed' };
}

/** The close code for an error that ends a session. */
export function closeCodeFor(err: unknown): number {
  if (hasCode(err, 'ERR_FRAME_TOO_LARGE')) return CloseCode.frameTooLarge;
  if (hasCode(err, 'ERR_ORIGIN_FORKED')) return CloseCode.originForked;
  if (hasCode(err, 'ERR_PROTOCOL_VERSION')) return CloseCode.versionMismatch;
  if (hasCode(err, 'ERR_PROTOCOL')) return CloseCode.protocolError;
  return CloseCode.internalError;
}
