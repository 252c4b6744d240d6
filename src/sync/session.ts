/**
 * One sync session with one peer over one connection: handshake, catch-up, live push,
 * acks, gap recovery. Sockets only move bytes; this class decides what to send.
 *
 * Invariants:
 *  1. State moves awaiting-hello -> open -> closed, never back; nothing is sent after closed.
 *  2. `sentClock[o]` >= what the peer holds of origin o; entries with seq <= sentClock[o]
 *     are never sent again on this stream, so a change crosses this link once.
 *  3. At most `WINDOW` batches are unacked; the sender also waits for socket drain
 *     (backpressure), so neither side buffers more than WINDOW batches.
 *  4. Inbound frames are processed one at a time, in order.
 *  5. A peer's bytes are decoded and validated before use; a bad frame closes this
 *     session with a protocol close code and never throws out of it.
 */
import type { StoredEntry } from '../crdt/change-entry.js';
import { changesAhead, type VectorClock } from '../crdt/vector-clock.js';
import { CrmsyncError, hasCode } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import { CloseCode, type Connection } from '../net/transport.js';
import type { OriginHead } from '../store/store.js';
import { parseNodeId, type NodeId } from '../types.js';
import { decodeMessage, encodeMessage, toWireClock } from './codec.js';
import type { IngestResult } from './ingest.js';
import { PROTOCOL_VERSION, type ChangesMessage, type Message, type WireClock } from './messages.js';

/** Unacked batches in flight per session. */
export const WINDOW = 4;
/** Most inbound frames queued before the peer is considered to be flooding us. */
export const MAX_INBOX = 64;

/** What a session needs from its node (callbacks, not the node itself). */
export interface SessionHost {
  nodeId: NodeId;
  clock(): ReadonlyMap<string, OriginHead>;
  lastLocalSeq(): number;
  readLog(from: number, maxEntries: number, maxBytes: number): Promise<StoredEntry[]>;
  localSeqOf(origin: string, seq: number): Promise<number | undefined>;
  ingest(entries: ChangesMessage['entries'], from: NodeId): Promise<IngestResult>;
  /** The handshake completed; the host may close a duplicate session. */
  onOpen(session: PeerSession): void;
  onClose(session: PeerSession, code: number, reason: string): void;
  now(): number;
}

/** Session states (invariant 1). */
export type SessionState = 'awaiting-hello' | 'open' | 'closed';

/** See the file comment for the invariants. */
export class PeerSession {
  state: SessionState = 'awaiting-hello';
  remote: NodeId | undefined;
  /** What the peer is known to hold (hello, acks, haves). */
  readonly peerClock = new Map<string, number>();
  private readonly sentClock = new Map<string, number>();
  private cursor = 1;
  private epoch = 0; // stream epoch for what we send (set by the peer's resync)
  private recvEpoch = 0; // epoch we expect in what we receive
  private batchNo = 0;
  private ackedBatch = 0;
  private lastProgress: number;
  private readonly openedAt: number;
  private caughtUpAt: number; // last time the peer was known to hold everything we hold
  private pumping = false;
  private pumpAgain = false;
  private inbox = Promise.resolve();
  private inboxDepth = 0;
  /** Counters for status and metrics. */
  readonly stats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, changesIn: 0, changesOut: 0, lastSeenAt: 0 };

  constructor(
    readonly connection: Connection,
    private readonly host: SessionHost,
    private readonly limits: Limits,
    private readonly logger: Logger,
  ) {
    this.openedAt = this.lastProgress = this.caughtUpAt = host.now();
  }

  /** Installs handlers and sends our hello. */
  start(): void {
    this.connection.setHandlers({
      onFrame: (frame) => this.receive(frame),
      onClose: (code, reason) => this.closed(code, reason),
    });
    this.send({ type: 'hello', protocol: PROTOCOL_VERSION, node: this.host.nodeId, clock: toWireClock(this.host.clock()) });
  }

  /**
   * Changes the peer lacks that we hold, changes we lack that the peer holds, and for
   * how long (seconds) the peer has been behind us.
   */
  lag(): { peerBehind: number; weBehind: number; seconds: number } {
    const mine = seqClock(this.host.clock());
    const now = this.host.now();
    const peerBehind = changesAhead(mine, this.peerClock);
    if (peerBehind === 0) this.caughtUpAt = now;
    return { peerBehind, weBehind: changesAhead(this.peerClock, mine), seconds: peerBehind === 0 ? 0 : (now - this.caughtUpAt) / 1000 };
  }

  /** New entries were appended to our log: push what the peer lacks. */
  notifyAppended(): void {
    if (this.state === 'open') void this.pump();
  }

  /** Tells the peer what we now hold (after receiving from someone else). */
  announce(origins: string[]): void {
    if (this.state === 'open' && origins.length > 0) this.send({ type: 'have', clock: toWireClock(this.host.clock(), origins) });
  }

  /** Timer work: handshake timeout, and resending when acks stop coming. */
  tick(now: number): void {
    if (this.state === 'awaiting-hello' && now - this.openedAt > this.limits.handshakeTimeoutMs) {
      this.close(CloseCode.handshakeTimeout, 'handshake timed out');
    } else if (this.state === 'open' && this.batchNo > this.ackedBatch && now - this.lastProgress > this.limits.ackTimeoutMs) {
      this.logger.warn({ peer: this.remote, unacked: this.batchNo - this.ackedBatch }, 'acks timed out; resending');
      void this.restartStream(this.peerClock, this.epoch);
    }
  }

  /** Closes the connection (idempotent); onClose follows from the transport. */
  close(code: number, reason: string, error?: CrmsyncError): void {
    if (this.state === 'closed') return;
    if (error) this.send({ type: 'error', code: error.code, message: error.message.slice(0, 1000) });
    this.connection.close(code, reason);
    this.closed(code, reason);
  }

  private closed(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.host.onClose(this, code, reason);
  }

  private send(msg: Message): boolean {
    return this.sendFrame(encodeMessage(msg));
  }

  private sendFrame(frame: Uint8Array): boolean {
    if (this.state === 'closed') return false;
    this.stats.framesOut++;
    this.stats.bytesOut += frame.length;
    return this.connection.send(frame);
  }

  private receive(frame: Uint8Array): void {
    if (this.state === 'closed') return;
    this.stats.framesIn++;
    this.stats.bytesIn += frame.length;
    this.stats.lastSeenAt = this.host.now();
    if (++this.inboxDepth > MAX_INBOX) {
      this.close(CloseCode.policyViolation, 'too many unprocessed frames');
      return;
    }
    this.inbox = this.inbox.then(async () => {
      try {
        if (this.state !== 'closed') await this.handle(decodeMessage(frame, this.limits.maxFrameBytes));
      } catch (err) {
        this.fail(err);
      } finally {
        this.inboxDepth--;
      }
    });
  }

  private fail(err: unknown): void {
    const code = hasCode(err, 'ERR_FRAME_TOO_LARGE') ? CloseCode.frameTooLarge
      : hasCode(err, 'ERR_ORIGIN_FORKED') ? CloseCode.originForked
      : hasCode(err, 'ERR_PROTOCOL_VERSION') ? CloseCode.versionMismatch
      : hasCode(err, 'ERR_PROTOCOL') ? CloseCode.protocolError
      : CloseCode.internalError;
    const errCode = err instanceof CrmsyncError ? err.code : 'ERR_INTERNAL';
    this.logger.warn({ peer: this.remote, conn: this.connection.id, code: errCode, err: code === CloseCode.internalError ? err : undefined }, 'closing peer session');
    this.close(code, errCode, err instanceof CrmsyncError ? err : undefined);
  }

  private async handle(msg: Message): Promise<void> {
    switch (msg.type) {
      case 'hello':
        return this.onHello(msg.protocol, msg.node, msg.clock);
      case 'changes':
        return this.onChanges(msg);
      case 'ack': {
        this.requireOpen();
        const skipped = msg.batch > this.ackedBatch + 1 && msg.batch <= this.batchNo;
        if (msg.batch > this.ackedBatch && msg.batch <= this.batchNo) this.ackedBatch = msg.batch;
        this.learn(msg.clock);
        this.lastProgress = this.host.now();
        this.lag(); // refreshes caughtUpAt when this ack made the peer current
        // Acks return in batch order; a skipped one means a batch or its ack was lost. A
        // lost batch is not always noticed by the peer (a gap shows only when a later
        // entry of the same origin arrives), so resend from what the peer is known to hold.
        if (skipped) return this.restartStream(this.peerClock, this.epoch);
        return this.pump();
      }
      case 'have':
        this.requireOpen();
        return this.learn(msg.clock);
      case 'resync':
        this.requireOpen();
        // Every new resync carries a higher epoch than the last; one we already follow
        // is a repeat (see onChanges) and restarting again would only resend twice.
        if (msg.epoch <= this.epoch) return;
        return this.restartStream(clockFromWire(msg.clock), msg.epoch);
      case 'error':
        this.logger.warn({ peer: this.remote, code: msg.code }, 'peer reported an error');
        return;
      default: {
        const unreachable: never = msg;
        throw new TypeError(`unhandled message ${String(unreachable)}`);
      }
    }
  }

  private requireOpen(): void {
    if (this.state !== 'open') throw new CrmsyncError('ERR_PROTOCOL', 'message before hello');
  }

  private async onHello(protocol: number, node: string, clock: WireClock): Promise<void> {
    if (this.state !== 'awaiting-hello') throw new CrmsyncError('ERR_PROTOCOL', 'second hello');
    if (protocol !== PROTOCOL_VERSION) {
      throw new CrmsyncError('ERR_PROTOCOL_VERSION', `peer speaks protocol ${protocol}, this node speaks ${PROTOCOL_VERSION}`);
    }
    const remote = parseNodeId(node);
    // Fork checks come first: the two copies of a copied data directory share a node id,
    // and when they dial each other the fork must be reported, not closed silently as a
    // self-connection. A genuine self-connection sent a clock our durable clock has since
    // reached, so a peer with our id holding more of our own origin is another writer.
    const mine = this.host.clock();
    for (const [origin, seq, hash] of clock) {
      const head = mine.get(origin);
      const differs = head !== undefined && head.seq === seq && head.hash !== hash;
      const aheadOfUs = remote === this.host.nodeId && origin === remote && seq > (head?.seq ?? 0);
      if (differs || aheadOfUs) {
        throw new CrmsyncError('ERR_ORIGIN_FORKED', `peer holds a different history for node "${origin}" (was a data directory copied?)`);
      }
    }
    if (remote === this.host.nodeId) {
      this.close(CloseCode.selfConnection, 'connected to itself');
      return;
    }
    this.remote = remote;
    this.state = 'open';
    this.host.onOpen(this);
    if (this.state !== 'open') return; // closed as a duplicate
    this.logger.info({ peer: remote, conn: this.connection.id, direction: this.connection.direction }, 'peer session open');
    await this.restartStream(clockFromWire(clock), 0);
  }

  private async onChanges(msg: ChangesMessage): Promise<void> {
    this.requireOpen();
    if (msg.epoch < this.recvEpoch) {
      // Sent before the sender saw our resync. If that resync was lost, the sender keeps
      // resending in the old epoch on ack timeouts and nothing would ever be acked:
      // repeat it (the sender ignores repeats of an epoch it already follows).
      this.send({ type: 'resync', epoch: this.recvEpoch, clock: toWireClock(this.host.clock()) });
      return;
    }
    const result = await this.host.ingest(msg.entries, this.remote!);
    this.stats.changesIn += result.accepted;
    if (result.gap) {
      this.recvEpoch = Math.max(this.recvEpoch, msg.epoch) + 1;
      this.send({ type: 'resync', epoch: this.recvEpoch, clock: toWireClock(this.host.clock()) });
      return;
    }
    const origins = new Set(msg.entries.map((e) => e.origin));
    const clock = toWireClock(this.host.clock(), origins);
    // The peer is known to hold what it sent, not what we hold: our clock may be ahead
    // for these origins (our own entries, or ones relayed by a third node), and learning
    // it would mark those entries as delivered, so they would never be sent to this peer.
    this.learn(msg.entries.map((e): WireClock[number] => [e.origin, e.seq, '']));
    this.send({ type: 'ack', batch: msg.batch, clock });
  }

  /** Merges what the peer says it holds into peerClock and sentClock (invariant 2). */
  private learn(clock: WireClock): void {
    for (const [origin, seq] of clock) {
      if (seq > (this.peerClock.get(origin) ?? 0)) this.peerClock.set(origin, seq);
      if (seq > (this.sentClock.get(origin) ?? 0)) this.sentClock.set(origin, seq);
    }
  }

  /** Restarts our outbound stream from what the peer holds. */
  private async restartStream(peerHolds: VectorClock, epoch: number): Promise<void> {
    this.epoch = Math.max(this.epoch, epoch);
    this.ackedBatch = this.batchNo;
    this.lastProgress = this.host.now();
    this.sentClock.clear();
    for (const [origin, seq] of peerHolds) {
      this.sentClock.set(origin, seq);
      if (seq > (this.peerClock.get(origin) ?? 0)) this.peerClock.set(origin, seq);
    }
    this.cursor = await this.firstMissing(peerHolds);
    await this.pump();
  }

  /** The first localSeq of our log holding an entry the peer lacks. */
  private async firstMissing(peerHolds: VectorClock): Promise<number> {
    let first = this.host.lastLocalSeq() + 1;
    for (const [origin, head] of this.host.clock()) {
      const held = peerHolds.get(origin) ?? 0;
      if (head.seq <= held) continue;
      const at = await this.host.localSeqOf(origin, held + 1);
      if (at !== undefined && at < first) first = at;
    }
    return first;
  }

  /** Sends batches from the cursor while the window and the socket allow (invariant 3). */
  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        await this.pumpBatches();
      } while (this.pumpAgain && this.state === 'open');
    } catch (err) {
      this.fail(err);
    } finally {
      this.pumping = false;
    }
  }

  private async pumpBatches(): Promise<void> {
    while (this.state === 'open' && this.cursor <= this.host.lastLocalSeq() && this.batchNo - this.ackedBatch < WINDOW) {
      if (this.connection.bufferedAmount > this.limits.sendHighWaterBytes) {
        await this.connection.drained();
        continue;
      }
      const epoch = this.epoch;
      const entries = await this.host.readLog(this.cursor, this.limits.batchChanges, this.limits.batchBytes);
      if (entries.length === 0 || this.epoch !== epoch || this.state !== 'open') return;
      const fresh = entries.filter((e) => {
        if (e.seq <= (this.sentClock.get(e.origin) ?? 0)) return false;
        this.sentClock.set(e.origin, e.seq);
        return true;
      });
      this.cursor = entries[entries.length - 1]!.localSeq + 1;
      if (fresh.length === 0) continue;
      if (this.batchNo === this.ackedBatch) this.lastProgress = this.host.now();
      this.stats.changesOut += fresh.length;
      this.sendChanges(fresh);
    }
  }

  /**
   * Sends entries as `changes` frames no larger than maxFrameBytes: the log read bounds a
   * batch by an estimate of its size, and a batch of large records (long notes) can
   * exceed the frame limit, which the peer would refuse on every resend.
   */
  private sendChanges(entries: StoredEntry[]): void {
    const frame = encodeMessage({ type: 'changes', epoch: this.epoch, batch: this.batchNo + 1, entries });
    if (frame.length > this.limits.maxFrameBytes && entries.length > 1) {
      const half = entries.length >> 1;
      this.sendChanges(entries.slice(0, half));
      this.sendChanges(entries.slice(half));
      return;
    }
    this.batchNo++;
    this.sendFrame(frame);
  }
}

function clockFromWire(clock: WireClock): Map<string, number> {
  return new Map(clock.map(([origin, seq]) => [origin, seq]));
}

function seqClock(clock: ReadonlyMap<string, OriginHead>): Map<string, number> {
  return new Map([...clock].map(([origin, head]) => [origin, head.seq]));
}
