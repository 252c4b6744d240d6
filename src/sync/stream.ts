/**
 * The sync part of the protocol machine, once a session is open: the outbound stream
 * (locate, read, frame, window) and the inbound side (ingest results, acks). Pure: see
 * protocol.ts for the machine as a whole and its invariants.
 */
import { isStub, stubOf, type ChangeEntry, type StoredEntry } from '../crdt/change-entry.js';
import { covers, holds, holdsAll, type Holding } from '../crdt/holding.js';
import { learn, toWireClock, type SeqClock } from '../crdt/origin-clock.js';
import { CrmsyncError, hasCode } from '../errors.js';
import { CloseCode } from '../net/transport.js';
import { encodeMessage } from './codec.js';
import { wantLater, type Action, type Env, type Event, type ProtocolState, type QueuedFrame } from './protocol.js';

/**
 * Durable frames covered by one cumulative ack at most (invariant 9): a quarter of the
 * default send window (`sendWindowBatches`, 16), so a sender keeps sending while acks
 * come. To a peer whose window (its `open` says) is smaller than twice this, an ack goes
 * every half window, so its window never waits for ACK_DELAY_MS.
 */
export const ACK_EVERY_FRAMES = 4;
/** Longest a cumulative ack waits for more frames to cover (invariant 9). */
export const ACK_DELAY_MS = 10;

/** Answers an ingest: ack with our clock for the batch's origins (now or with the next ones), or ask for a resync. */
export function onIngested(s: ProtocolState, event: Extract<Event, { type: 'ingested' }>, env: Env, out: Action[]): ProtocolState {
  if (event.gap || event.untrusted) {
    // A frame sent before a resync we already asked for (the next frame is handled while
    // the one before is written: session.ts invariant 2): that resync covers it.
    if (event.epoch < s.recvEpoch) return s;
    return askResync(flushAck(s, env, out), event.epoch, env, out);
  }
  // Invariant 9: one ack for up to ackEvery frames, or what ACK_DELAY_MS collected (every
  // frame at once without cumulative acks).
  const pending = s.pendingAck;
  const origins = pending ? [...new Set([...pending.origins, ...event.origins])] : event.origins;
  s = { ...s, pendingAck: { batch: Math.max(pending?.batch ?? 0, event.batch), origins, frames: (pending?.frames ?? 0) + 1 } };
  if (s.pendingAck!.frames >= ackEvery(s)) s = flushAck(s, env, out);
  else if (!pending) out.push({ type: 'ack-later' });
  // Records we hold whose history we have only in part: asked for once the region holds
  // what we hold (protocol.ts askForPartial).
  return wantLater(s, event.incomplete ?? []);
}

/** How many durable frames one ack may cover on this session (invariant 9): one without cumulative acks. */
function ackEvery(s: ProtocolState): number {
  if (!s.cumulativeAcks) return 1;
  return s.peerWindow === undefined ? ACK_EVERY_FRAMES : Math.max(1, Math.min(ACK_EVERY_FRAMES, Math.floor(s.peerWindow / 2)));
}

/** Sends the cumulative ack of the frames made durable since the last one (invariant 9), if any. */
export function flushAck(s: ProtocolState, env: Env, out: Action[]): ProtocolState {
  const pending = s.pendingAck;
  if (!pending) return s;
  out.push({ type: 'send', message: { type: 'ack', batch: pending.batch, clock: toWireClock(env.holdings, pending.origins) } });
  const { pendingAck: _acked, ...rest } = s;
  return rest;
}

/** Asks the peer to restart its stream from what we hold, in a new epoch after `epoch`. */
export function askResync(s: ProtocolState, epoch: number, env: Env, out: Action[]): ProtocolState {
  const recvEpoch = Math.max(s.recvEpoch, epoch) + 1;
  out.push({ type: 'send', message: { type: 'resync', epoch: recvEpoch, clock: toWireClock(env.holdings), trust: env.auth.trustDigest() } });
  return { ...s, recvEpoch };
}

/**
 * Merges what the peer says it holds into peerHolds and sent (invariant 2). Only origins
 * on the trust list are learned: a peer cannot grow our per-session state with names.
 */
export function learnHeld(s: ProtocolState, held: Iterable<readonly [string, number, ...unknown[]]>, env: Env): ProtocolState {
  const known = [...held].filter(([origin]) => env.known(origin));
  if (known.length === 0) return s;
  const peerHolds = new Map(s.peerHolds);
  const sent = new Map(s.sent);
  learn(peerHolds, known);
  learn(sent, known);
  return { ...s, peerHolds, sent };
}

/** Restarts our outbound stream from what the peer holds: locate the first missing entry. */
export function restart(s: ProtocolState, peerHolds: SeqClock, epoch: number, env: Env, out: Action[]): ProtocolState {
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

/** An entry to send, and whether a frame may end after it (a boundary at or after it, before the next fresh one). */
interface Fresh {
  entry: StoredEntry;
  /** Chain hash before the entry (sent on the first entry of each origin in a frame). */
  prev: string | undefined;
  cut: boolean;
}

/** Keeps entries not yet sent on this stream and turns them into frames (invariant 2). */
export function onRead(s: ProtocolState, entries: StoredEntry[], env: Env): ProtocolState {
  if (entries.length === 0) return { ...s, outbound: 'idle' };
  const sent = new Map(s.sent);
  const fresh: Fresh[] = [];
  const chains = new Map<string, string | undefined>();
  // Invariant 8: relaying third origins to a peer needs a holding that covers the peer's.
  const relays = covers(env.holding, s.peerHolding);
  for (const entry of entries) {
    const prev = chains.has(entry.origin) ? chains.get(entry.origin) : entry.prev;
    chains.set(entry.origin, entry.chain);
    if (entry.seq > (sent.get(entry.origin) ?? 0) && env.allowed(entry.origin, entry.seq) && (relays || entry.origin === s.self) && !s.unserved?.has(entry.origin)) {
      sent.set(entry.origin, entry.seq);
      fresh.push({ entry: servedAs(entry, s.peerHolding), prev, cut: false });
    }
    if (entry.boundary && fresh.length > 0) fresh[fresh.length - 1]!.cut = true;
  }
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
 * The entry as a peer holding `holding` gets it (invariant 8): in full if its record is
 * in the holding before or after the change, else as a stub (an entry never applied
 * here, and so never placed, goes as a stub to every subscriber).
 */
export function servedAs(entry: StoredEntry, holding: Holding): StoredEntry {
  if (holdsAll(holding) || isStub(entry)) return entry;
  const place = entry.place;
  if (place && ((place[0] !== null && holds(holding, place[0])) || holds(holding, place[1]))) return entry;
  return stubOf(entry);
}

/**
 * Encodes entries as `changes` frames no larger than maxFrameBytes, numbered from
 * `after + 1`. A batch of large records can exceed the frame limit (the log read bounds
 * it by an estimate), so it is split, but only where a frame may end: after a boundary,
 * where every origin's last entry is signed. Each origin's last entry in a frame carries
 * the origin's signature; the others travel without theirs (the chain covers them).
 * Each frame is a batch of its own and counts against the window.
 */
export function frames(fresh: Fresh[], epoch: number, after: number, maxFrameBytes: number): QueuedFrame[] {
  const result: QueuedFrame[] = [];
  const split = (part: Fresh[]): void => {
    const batch = after + result.length + 1;
    const frame = encodeMessage({ type: 'changes', epoch, batch, entries: wireEntries(part) });
    const cut = frame.length > maxFrameBytes ? middleCut(part) : -1;
    if (cut >= 0) {
      split(part.slice(0, cut + 1));
      split(part.slice(cut + 1));
      return;
    }
    result.push({ batch, frame, entries: part.length });
  };
  split(fresh);
  return result;
}

/** The cut point (index of the last entry of the first half) nearest the middle, or -1. */
function middleCut(part: Fresh[]): number {
  let best = -1;
  const middle = (part.length - 1) / 2;
  for (let i = 0; i < part.length - 1; i++) {
    if (part[i]!.cut && (best < 0 || Math.abs(i - middle) < Math.abs(best - middle))) best = i;
  }
  return best;
}

function wireEntries(part: Fresh[]): ChangeEntry[] {
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  part.forEach((f, i) => {
    if (!first.has(f.entry.origin)) first.set(f.entry.origin, i);
    last.set(f.entry.origin, i);
  });
  return part.map((f, i) => {
    const { origin, seq, record, change, sig, ext, digest } = f.entry;
    const wire: ChangeEntry = { origin, seq, record, change };
    if (digest !== undefined) wire.digest = digest;
    if (last.get(origin) === i && sig) wire.sig = sig;
    if (first.get(origin) === i && f.prev !== undefined) wire.prev = f.prev;
    if (ext) wire.ext = ext;
    return wire;
  });
}

/** Sends queued frames while the window allows, then asks for more (invariants 3 and 4). */
export function pump(s: ProtocolState, env: Env, out: Action[]): ProtocolState {
  const { window } = env.settings;
  let sentBatch = s.sentBatch;
  let sending = 0;
  while (sending < s.queued.length && sentBatch - s.ackedBatch < window) {
    const frame = s.queued[sending++]!;
    out.push({ type: 'send-frame', frame: frame.frame, batch: frame.batch, entries: frame.entries });
    sentBatch = frame.batch;
  }
  const next = sending === 0 ? s : { ...s, sentBatch, queued: s.queued.slice(sending) };
  // A grown subscription: the records entering it go first, then the stream reads on with the new filter.
  // Our floors rose (a region's base): the peer may now be below them; locate again once idle.
  if (next.relocate && next.outbound === 'idle') {
    const { relocate: _done, ...rest } = next;
    return restart(rest, rest.peerHolds, rest.epoch, env, out);
  }
  if (next.pendingHolding && next.outbound === 'idle') {
    out.push({ type: 'backfill', stream: next.stream, from: next.peerHolding, to: next.pendingHolding });
    return { ...next, outbound: 'backfilling' };
  }
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
export function fail(s: ProtocolState, err: unknown, out: Action[]): ProtocolState {
  const code = closeCodeFor(err);
  const errCode = err instanceof CrmsyncError ? err.code : 'ERR_INTERNAL';
  const evidence = (err as { evidence?: unknown }).evidence;
  out.push({
    type: 'log', level: evidence ? 'error' : 'warn', message: evidence ? 'origin fork detected; closing peer session' : 'closing peer session',
    fields: { peer: s.remote, code: errCode, reason: err instanceof CrmsyncError ? err.message : undefined, ...(code === CloseCode.internalError ? { err } : {}), ...(evidence ? { evidence } : {}) },
  });
  if (err instanceof CrmsyncError) out.push({ type: 'send', message: { type: 'error', code: err.code, message: err.message.slice(0, 1000) } });
  out.push({ type: 'close', code, reason: errCode });
  return { ...s, phase: 'closed' };
}

/** The close code for an error that ends a session. */
export function closeCodeFor(err: unknown): number {
  if (hasCode(err, 'ERR_FRAME_TOO_LARGE')) return CloseCode.frameTooLarge;
  if (hasCode(err, 'ERR_ORIGIN_FORKED')) return CloseCode.originForked;
  if (hasCode(err, 'ERR_PROTOCOL_VERSION')) return CloseCode.versionMismatch;
  if (hasCode(err, 'ERR_SIGNATURE')) return CloseCode.badSignature;
  if (hasCode(err, 'ERR_UNAUTHORIZED')) return CloseCode.unauthorized;
  if (hasCode(err, 'ERR_PROTOCOL')) return CloseCode.protocolError;
  return CloseCode.internalError;
}
