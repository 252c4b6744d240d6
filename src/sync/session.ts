/**
 * One sync session with one peer over one connection: the thin driver of the protocol
 * machine (protocol.ts). It decodes frames, feeds events to `step`, and performs the
 * actions: sending, reading the log, ingesting, waiting for drain, closing.
 *
 * Invariants:
 *  1. Events are processed one at a time, in order; an event raised while one is being
 *     processed (a host callback closing this session, say) waits its turn.
 *  2. Inbound frames are handled one at a time, in order: the next frame is decoded
 *     only after the previous one's ingest is staged (its commit queued under the write
 *     lock, which every later ingest sees), so checking and applying a frame overlaps
 *     writing the one before; its `ingested` (the ack) waits until it is durable. At
 *     most `maxInbox` frames wait, and at most `maxStagedFrames` are staged but not
 *     yet durable.
 *  3. A peer's bytes are decoded and validated before use; a bad frame closes this
 *     session with a protocol close code and never throws out of it.
 */
import type { SyncEngine } from '../engine/engine.js';
import { CrmsyncError } from '../errors.js';
import { FIXED, type Limits } from '../limits.js';
import type { HelloVerdict, TrustService } from '../trust/trust-service.js';
import type { Logger } from '../log.js';
import type { TimerHandle } from '../timers.js';
import { ACK_DELAY_MS } from './stream.js';
import { CloseCode, type Connection } from '../net/transport.js';
import type { NodeId } from '../types.js';
import type { CatchUpGate } from './catch-up-gate.js';
import type { StoredEntry } from '../crdt/change-entry.js';
import { decodeMessage, encodeDeflated, encodeMessage } from './codec.js';
import { deflateFrame, deflateWithDictionary, dictionaryCodec } from './frame-deflate.js';
import type { DictionaryZlib } from './dictionary-zlib.js';
import { sessionDictionary } from './frame-dictionary.js';
import { isStub } from '../crdt/change-entry.js';
import { holds, holdsAll, placementOf, type Holding } from '../crdt/holding.js';
import { HANDSHAKE_TYPES, recordSigningInput, type HoldsReport, type RecordMessage } from './messages.js';
import { parseRecordId, type RecordId } from '../types.js';
import { toWireClock } from '../crdt/origin-clock.js';
import { NONCE_BYTES } from './codec.js';
import { StagedWindow } from './staged-window.js';
import { DocPacer } from './doc-pacer.js';
import { SessionFloors } from './session-floors.js';
import {
  initialState, lagOf, step,
  type Action, type Admission, type AuthContext, type DigestMessage, type Env, type Event, type PeerIdentity, type Phase, type ProtocolState,
} from './protocol.js';

/** Trust statements per `trust` frame when sending the whole set (well under maxStatementsPerMessage and maxFrameBytes). */
const TRUST_STATEMENTS_PER_FRAME = 1000;

/** What a session tells its owner, and the owner's clock and random source. */
export interface SessionHost {
  /** Clocks were exchanged with an authenticated peer; the host may close a duplicate session. */
  onOpen(session: PeerSession): void;
  onClose(session: PeerSession, code: number, reason: string): void;
  /** A handshake was refused (the host rate-limits the log line and counts it). */
  onRefused(session: PeerSession, code: number, reason: string, fields: Record<string, unknown>): void;
  /** A frame of a message kind this version does not know was ignored (versioning policy). */
  onUnknownMessage?(session: PeerSession, kind: string): void;
  /** An anti-entropy message from the peer (anti-entropy.ts answers requests and resolves responses). */
  onDigest?(session: PeerSession, message: DigestMessage): void;
  /** Member holds reports the peer relayed, their signatures verified (tombstone collection learns them). */
  onHolds?(reports: HoldsReport[]): void;
  /** The peer's summary of the holds reports it has: the host sends it the newer or missing ones. */
  onHoldsWanted?(session: PeerSession, known: [node: string, at: number][]): void;
  /** A region's base raised our floors of `origins` (other sessions' peers may be below them now). */
  onFloorsRaised?(session: PeerSession, origins: string[]): void;
  /** Changes the peer sent were quarantined (stored, never applied: they failed verification). */
  onQuarantined?(session: PeerSession, count: number): void;
  now(): number;
  /** Calls `fn` after `ms` (the host's timers: virtual in simulations). */
  after(ms: number, fn: () => void): TimerHandle;
  randomBytes(n: number): Uint8Array;
  /** True when `nonce` belongs to one of this node's own sessions. */
  isOwnNonce(nonce: Uint8Array): boolean;
}

/** Counters for status and metrics. */
export interface SessionStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  changesIn: number;
  changesOut: number;
  lastSeenAt: number;
}

/** See the file comment for the invariants. */
export class PeerSession {
  readonly stats: SessionStats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, changesIn: 0, changesOut: 0, lastSeenAt: 0 };
  readonly #connection: Connection;
  readonly #engine: SyncEngine;
  readonly #trust: TrustService;
  readonly #auth: AuthContext;
  readonly #host: SessionHost;
  readonly #limits: Limits;
  readonly #logger: Logger;
  #state: ProtocolState;
  readonly #events: Event[] = [];
  #dispatching = false;
  #inbox: Promise<void> = Promise.resolve();
  #inboxDepth = 0;
  #closeReported = false;
  readonly #catchUp: CatchUpGate | undefined;
  /** Paces the record documents we send (doc-pacer.ts). */
  readonly #pacer: DocPacer;
  /** Answers to the peer's `want`s, one after the other; how many are queued. */
  #answering: Promise<void> = Promise.resolve();
  #wantsQueued = 0;
  /** Locating for a peer below our floors, and taking a region's (session-floors.ts). */
  readonly #floors: SessionFloors<object>;
  /** The timer of a cumulative ack waiting for more frames (protocol.ts invariant 9). */
  #ackTimer: TimerHandle | undefined;
  /** Deflate and inflate of small frames both ways, once the peer proved its node id (frame-dictionary.ts); closed with the session. */
  #dictionary: DictionaryZlib | undefined;

  constructor(options: { connection: Connection; engine: SyncEngine; trust: TrustService; host: SessionHost; limits: Limits; logger: Logger; catchUp?: CatchUpGate }) {
    const { connection, engine, trust, host } = options;
    this.#catchUp = options.catchUp;
    this.#connection = connection;
    this.#engine = engine;
    this.#trust = trust;
    this.#host = host;
    this.#limits = options.limits;
    this.#logger = options.logger;
    this.#auth = authContext(trust, connection, (nonce) => host.isOwnNonce(nonce), options.engine.policies);
    this.#pacer = new DocPacer((n) => this.#send(encodeMessage({ type: 'mark', n })), options.limits.ackTimeoutMs);
    this.#floors = new SessionFloors({
      engine, trust, limits: options.limits, logger: options.logger, catchUp: this.#catchUp, owner: this,
      peer: () => ({ remote: this.#state.remote, identity: this.#state.peer, holding: this.#state.peerHolding }),
      isOpen: () => this.#connection.isOpen,
      sendFrame: (frame) => this.#send(frame),
      sendRecords: async (ids) => this.#sendRecordMessages(await this.#recordMessages(ids)),
      dispatch: (event) => this.#dispatch(event),
      floorsRaised: (origins) => this.#host.onFloorsRaised?.(this, origins),
    });
    this.#state = initialState(engine.nodeId, host.now(), { initiator: connection.direction === 'outbound', nonce: host.randomBytes(NONCE_BYTES) });
  }

  /** The nonce of this session's hello. */
  get nonce(): Uint8Array {
    return this.#state.nonce;
  }

  /** Who the peer proved to be (undefined until its proof verified). */
  get peer(): PeerIdentity | undefined {
    return this.#state.remote === undefined ? undefined : this.#state.peer;
  }

  /** The connection this session runs on. */
  get connection(): Connection {
    return this.#connection;
  }

  /** The session's phase. */
  get state(): Phase {
    return this.#state.phase;
  }

  /** The peer's node id, once the handshake completed. */
  get remote(): NodeId | undefined {
    return this.#state.remote;
  }

  /** A read-only view of the protocol state (tests and diagnostics). */
  get protocolState(): ProtocolState {
    return this.#state;
  }

  /** Installs handlers and sends our hello. */
  start(): void {
    this.#connection.setHandlers({
      onFrame: (frame) => this.#receive(frame),
      onClose: (code, reason) => this.#dispatch({ type: 'closed', code, reason }),
    });
    this.#dispatch({ type: 'start' });
  }

  /** Changes the peer lacks, changes we lack, and for how long the peer has been behind us. */
  lag(): { peerBehind: number; weBehind: number; seconds: number } {
    return lagOf(this.#state, { holdings: this.#engine.holdings(), now: this.#host.now() });
  }

  /** New entries were appended to our log: push what the peer lacks. */
  notifyAppended(): void {
    this.#dispatch({ type: 'appended' });
  }

  /**
   * Tells the peer this node's subscription changed (it serves us that from now on), once
   * it holds our own entries (protocol.ts subscribeWhen). Once our `open` is sent it
   * declared the old subscription: the change follows it. Before that, the `open` will
   * carry the new one.
   */
  resubscribe(): void {
    this.#dispatch({ type: 'resubscribe' });
  }

  /** Our floors rose (a region's base, taken in another session): locate again for this peer. */
  relocate(): void {
    this.#dispatch({ type: 'relocate' });
  }

  /** Tells the peer what we now hold (after receiving from someone else). */
  announce(origins: string[]): void {
    this.#dispatch({ type: 'announce', origins });
  }

  /** Passes new trust statements to the peer (they must arrive before entries they authorise). */
  shareTrust(statements: unknown[]): void {
    this.#dispatch({ type: 'share-trust', statements });
  }

  /** Passes member holds reports to the peer, or with `known` our summary of them (sent only while open). */
  shareHolds(reports: HoldsReport[], known?: [node: string, at: number][]): void {
    this.#dispatch({ type: 'share-holds', reports, ...(known ? { known } : {}) });
  }

  /** Sends an anti-entropy message (dropped unless the session is open). */
  sendDigest(message: DigestMessage): void {
    this.#dispatch({ type: 'send-digest', message });
  }

  /** Timer work: handshake timeout, resending when acks stop coming, marks that time out. */
  tick(): void {
    this.#dispatch({ type: 'tick' });
    this.#pacer.tick(this.#host.now());
  }

  /** Closes the connection (idempotent); the host hears onClose once. */
  close(code: number, reason: string): void {
    this.#dispatch({ type: 'close', code, reason });
  }

  #env(): Env {
    return {
      now: this.#host.now(),
      holdings: this.#engine.holdings(),
      lastPosition: this.#engine.lastPosition(),
      sendBlocked: this.#connection.bufferedAmount > this.#limits.sendHighWaterBytes,
      settings: {
        window: this.#limits.sendWindowBatches, maxFrameBytes: this.#limits.maxFrameBytes,
        ackTimeoutMs: this.#limits.ackTimeoutMs, handshakeTimeoutMs: this.#limits.handshakeTimeoutMs,
      },
      auth: this.#auth,
      known: (origin) => this.#trust.knows(origin),
      allowed: (origin, seq) => this.#trust.allows(origin, seq),
      wireClock: () => toWireClock(this.#engine.holdings()),
      holding: this.#engine.holding(),
      subscription: this.#engine.subscription(),
      coveredOnly: this.#engine.coveredOnly(),
    };
  }

  /** Invariant 1: one event at a time; re-entrant calls are queued. */
  #dispatch(event: Event): void {
    this.#events.push(event);
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      for (let next = this.#events.shift(); next; next = this.#events.shift()) {
        const wasOpen = this.#state.phase;
        const { state, actions } = step(this.#state, next, this.#env());
        this.#state = state;
        for (const action of actions) this.#perform(action);
        if (state.phase === 'closed' && wasOpen !== 'closed') this.#reportClose(next, actions);
      }
    } finally {
      this.#dispatching = false;
    }
  }

  #reportClose(event: Event, actions: Action[]): void {
    if (this.#closeReported) return;
    this.#closeReported = true;
    this.#catchUp?.cancel(this);
    this.#pacer.close();
    this.#dictionary?.close();
    this.#ackTimer?.cancel();
    const close = actions.find((a): a is Extract<Action, { type: 'close' }> => a.type === 'close');
    const { code, reason } = close ?? (event.type === 'closed' ? event : { code: CloseCode.normal, reason: 'closed' });
    this.#host.onClose(this, code, reason);
  }

  #perform(action: Action): void {
    switch (action.type) {
      case 'send': {
        const frame = action.frame ?? encodeMessage(action.message);
        if (HANDSHAKE_KINDS.has(action.message.type)) this.#sendFrame(frame);
        else this.#send(frame);
        return;
      }
      case 'send-trust': {
        // Erasures can make the set larger than one message may carry: sent in order, in parts.
        const statements = this.#trust.statements();
        for (let i = 0; i === 0 || i < statements.length; i += TRUST_STATEMENTS_PER_FRAME) {
          this.#send(encodeMessage({ type: 'trust', statements: statements.slice(i, i + TRUST_STATEMENTS_PER_FRAME) }));
        }
        return;
      }
      case 'trust':
        this.#trust.receive(action.statements, this.#state.remote!).catch((err: unknown) => this.#dispatch({ type: 'failed', error: err }));
        return;
      case 'authenticated':
        this.#connection.authenticated();
        // The statements that proved the peer's membership are the cluster's own: keep them.
        if (action.proof.length > 0) this.#trust.receive(action.proof, action.peer.node).catch((error: unknown) => this.#dispatch({ type: 'failed', error }));
        return;
      case 'redeem': {
        const { node, key, nonce, invite } = action.hello;
        // Like an ingest, the inbox waits for it: the peer's auth must find the verdict in place.
        this.#pendingWork = this.#trust.redeem({ node, key, nonce, invite: invite! }, this.#host.now()).then(
          (verdict) => this.#dispatch({ type: 'redeemed', admission: admissionOf(verdict) }),
          (error: unknown) => this.#dispatch({ type: 'failed', error }),
        );
        return;
      }
      case 'refused':
        this.#host.onRefused(this, action.code, action.reason, action.fields);
        return;
      case 'send-frame':
        this.stats.changesOut += action.entries;
        this.#send(action.frame);
        return;
      case 'locate':
        this.#async(this.#floors.locate(action.peerHolds), (located) => ({ type: 'located', stream: action.stream, ...located }));
        return;
      case 'read':
        this.#async(this.#readWithRecords(action.from), ({ entries, records }) => ({ type: 'read', stream: action.stream, entries, records }));
        return;
      case 'await-drain':
        this.#async(this.#connection.drained(), () => ({ type: 'drained' }));
        return;
      case 'ingest':
        this.#ingest(action);
        return;
      case 'adopt':
        // Like an ingest, the inbox waits for it: the changes after it build on the document.
        this.#pendingWork = this.#engine.adopt(parseRecordId(action.id), action.doc, this.#state.remote!, action.complete).then(
          (adoption) => { if (adoption === 'partial') this.#dispatch({ type: 'incomplete', ids: [action.id] }); },
          (error: unknown) => this.#dispatch({ type: 'failed', error }),
        );
        return;
      case 'evict':
        this.#pendingWork = this.#engine.evictRecords(action.ids.map((id) => parseRecordId(id))).catch((error: unknown) => this.#dispatch({ type: 'failed', error }));
        return;
      case 'send-records':
        // Not awaited by the inbox: the peer's `marked` answers to our documents come through it.
        // One answer at a time; an honest peer waits for each before it asks again.
        if (this.#wantsQueued >= FIXED.maxQueuedWants) {
          this.close(CloseCode.policyViolation, 'too many unanswered wants');
          return;
        }
        this.#wantsQueued++;
        this.#answering = this.#answering.then(() => this.#sendRecords(action.ids))
          .catch((error: unknown) => this.#dispatch({ type: 'failed', error }))
          .finally(() => { this.#wantsQueued--; });
        return;
      case 'marked':
        this.#pacer.marked(action.n);
        return;
      case 'apply-base':
        this.#pendingWork = this.#floors.applyBase(action.floors, action.documented).catch((error: unknown) => this.#dispatch({ type: 'failed', error }));
        return;
      case 'covered':
        this.#pendingWork = this.#engine.markCovered(action.holding).catch((error: unknown) => this.#dispatch({ type: 'failed', error }));
        return;
      case 'backfill':
        this.#async(this.#backfill(action.from, action.to), () => ({ type: 'backfilled', stream: action.stream, holding: action.to }));
        return;
      case 'opened':
        this.#logger.debug({ peer: action.remote, conn: this.#connection.id, direction: this.#connection.direction }, 'handshake complete');
        this.#host.onOpen(this);
        // Records still marked as held in part (a session closed before asking, or before
        // the answer): ask this region. Their later entries may never come (truncated).
        if (this.#state.peer?.role === 'region' && !holdsAll(this.#engine.holding())) {
          this.#async(this.#engine.partialRecords(), (ids) => ({ type: 'stale', ids }));
        }
        return;
      case 'close':
        this.#connection.close(action.code, action.reason);
        return;
      case 'digest':
        this.#host.onDigest?.(this, action.message);
        return;
      case 'holds':
        this.#host.onHolds?.(action.reports);
        return;
      case 'holds-wanted':
        this.#host.onHoldsWanted?.(this, action.known);
        return;
      case 'log':
        this.#logger[action.level]({ conn: this.#connection.id, ...action.fields }, action.message);
        return;
      case 'ack-later':
        this.#ackTimer ??= this.#host.after(ACK_DELAY_MS, () => {
          this.#ackTimer = undefined;
          this.#dispatch({ type: 'flush-ack' });
        });
        return;
      default: {
        const unreachable: never = action;
        throw new TypeError(`unhandled action ${String(unreachable)}`);
      }
    }
  }

  /**
   * Reads the next batch for the peer. Far behind, the read waits for a catch-up slot and
   * holds it until the peer is within the threshold again (catch-up-gate.ts).
   */
  async #readLog(from: number): Promise<StoredEntry[]> {
    const gate = this.#catchUp;
    const threshold = this.#limits.catchUpThresholdChanges;
    if (gate && !gate.holds(this) && this.#engine.lastPosition() - from > threshold) {
      try {
        await gate.acquire(this);
      } catch {
        return []; // the session closed while waiting: the machine ignores this read
      }
    }
    const entries = await this.#engine.entriesFrom(from, this.#limits.batchChanges, this.#limits.batchBytes);
    if (gate?.holds(this)) {
      const reached = entries.length > 0 ? entries[entries.length - 1]!.localSeq : this.#engine.lastPosition();
      if (this.#engine.lastPosition() - reached <= threshold) gate.release(this);
    }
    return entries;
  }

  /**
   * Reads the next batch, and the documents of records its entries move into the peer's
   * holding (their history went to the peer as stubs): they are sent first (move-in).
   */
  async #readWithRecords(from: number): Promise<{ entries: StoredEntry[]; records: RecordMessage[] }> {
    const entries = await this.#readLog(from);
    const holding = this.#state.peerHolding;
    if (holdsAll(holding)) return { entries, records: [] };
    const entering = new Set<RecordId>();
    for (const e of entries) {
      const place = e.place;
      if (place && place[0] !== null && !holds(holding, place[0]) && holds(holding, place[1]) && !isStub(e)) entering.add(e.record);
    }
    return { entries, records: await this.#recordMessages([...entering]) };
  }

  /** The subscription grew: send the documents of the records entering it. */
  async #backfill(from: Holding, to: Holding): Promise<void> {
    const ids = await this.#engine.recordsEntering(from, to);
    for (let i = 0; i < ids.length; i += this.#limits.batchChanges) {
      if (!(await this.#sendRecordMessages(await this.#recordMessages(ids.slice(i, i + this.#limits.batchChanges))))) return;
    }
  }

  /**
   * Answers a `want`: the documents of the named records held here that lie inside the
   * peer's trust-list scope (never beyond what it may read; outside its subscription is
   * fine: it evicts what it does not hold), then `outside` for the rest.
   */
  async #sendRecords(ids: readonly string[]): Promise<void> {
    const scope = this.#state.peer?.scope;
    const inside: RecordId[] = [];
    const outside: string[] = [];
    for (const id of ids) {
      const recordId = parseRecordId(id);
      const view = await this.#engine.get(recordId);
      if (view && (!scope || holds([scope], placementOf(view)))) inside.push(recordId);
      else outside.push(id);
    }
    const messages = await this.#recordMessages(inside);
    // Gone meanwhile (erased, collected): answered as outside, so the asker's question closes.
    const sent = new Set(messages.map((m) => m.id));
    outside.push(...inside.filter((id) => !sent.has(id)));
    if (!(await this.#sendRecordMessages(messages))) return;
    if (outside.length > 0) this.#send(encodeMessage({ type: 'outside', ids: outside }));
  }

  /**
   * Sends the signed documents of `ids` (at most a batch: they are read before sending),
   * waiting for drain above the high-water mark. False when the connection closed meanwhile.
   */
  async #sendRecordMessages(messages: RecordMessage[]): Promise<boolean> {
    for (const message of messages) {
      if (!this.#connection.isOpen) return false;
      this.#send(encodeMessage(message));
      if (this.#connection.bufferedAmount > this.#limits.sendHighWaterBytes) await this.#connection.drained();
      // The receiver adopts documents one by one: at most a few marks' worth wait there.
      await this.#pacer.sent(this.#host.now());
    }
    return this.#connection.isOpen;
  }

  /** Signed `record` messages for records held here (this node vouches for each document). */
  async #recordMessages(ids: RecordId[]): Promise<RecordMessage[]> {
    const messages: RecordMessage[] = [];
    for (const id of ids) {
      const doc = await this.#engine.recordDocument(id);
      if (doc) messages.push({ type: 'record', id, doc, sig: this.#trust.keys.sign(recordSigningInput(this.#trust.cluster, id, doc)) });
    }
    return messages;
  }

  /** Where this session stands for catch-up slots (undefined: not catching up). */
  catchUpPosition(): ReturnType<CatchUpGate['position']> {
    return this.#catchUp?.position(this);
  }

  /** Runs an async action; its result (or failure) comes back as an event. */
  #async<T>(work: Promise<T>, toEvent: (value: T) => Event): void {
    work.then(
      (value) => this.#dispatch(toEvent(value)),
      (error: unknown) => this.#dispatch({ type: 'failed', error }),
    );
  }

  /** The ingest (or redemption) started by the frame being handled; the inbox awaits it (invariant 2). */
  #pendingWork: Promise<void> | undefined;
  /** Ingests staged but not yet durable (invariant 2). */
  readonly #staged = new StagedWindow(FIXED.maxStagedFrames);

  #ingest(action: Extract<Action, { type: 'ingest' }>): void {
    let staged!: () => void;
    const queued = new Promise<void>((resolve) => (staged = resolve));
    const done = this.#engine.ingest(action.entries, this.#state.remote!, staged).then(
      (result) => {
        this.stats.changesIn += result.accepted;
        for (const evidence of result.forks) {
          this.#logger.error({ conn: this.#connection.id, peer: this.#state.remote, evidence }, 'origin signed two histories; set aside (nothing more of it is taken)');
        }
        if (result.quarantined > 0) this.#host.onQuarantined?.(this, result.quarantined);
        const origins = [...new Set(action.entries.map((e) => e.origin))];
        this.#dispatch({ type: 'ingested', batch: action.batch, epoch: action.epoch, origins, gap: result.gap, untrusted: result.untrusted.length > 0, ...(result.incomplete?.length ? { incomplete: result.incomplete } : {}) });
      },
      (error: unknown) => this.#dispatch({ type: 'failed', error }),
    );
    this.#staged.add(done);
    // The next frame waits until this one is staged, or done (a refused frame never
    // stages), and until there is room in the staged window.
    this.#pendingWork = Promise.race([queued, done]).then(() => this.#staged.room());
  }

  /**
   * A frame after the handshake as it goes to this peer, where its hello accepts that and
   * it pays: a small one deflated from the session dictionary, a large one deflated on its
   * own (frame-deflate.ts); else as it is. Handshake frames never are: the peer decodes
   * them before it knows we compress.
   */
  #compressed(frame: Uint8Array): Uint8Array {
    if (frame.length < this.#limits.minDeflateFrameBytes) {
      // Small: from the dictionary (up to MAX_DICTIONARY_FRAME_BYTES; larger ones go plain).
      const dictionary = this.#state.peerInflatesSmall || this.#state.dictionaryStream ? this.#sessionDictionary() : undefined;
      if (!dictionary) return frame;
      try {
        return deflateWithDictionary(frame, dictionary) ?? frame;
      } catch (err) {
        // Only a zlib failure gets here. On a stream the codec is broken from now on and
        // every frame goes plain: the peer's inflater saw nothing of the failed one.
        this.#logger.warn({ conn: this.#connection.id, err }, 'deflating a small frame failed; sending it plain');
        return frame;
      }
    }
    const deflated = this.#state.peerInflates ? deflateFrame(frame, this.#limits.minDeflateFrameBytes) : undefined;
    return deflated ? encodeDeflated(deflated) : frame;
  }

  /** The session's dictionary codec once the peer proved who it is (both ends build the dictionary from both ids). */
  #sessionDictionary(): DictionaryZlib | undefined {
    const remote = this.#state.remote;
    if (remote === undefined || this.#state.phase === 'closed') return undefined;
    this.#dictionary ??= dictionaryCodec(sessionDictionary(this.#engine.nodeId, remote), this.#state.dictionaryStream);
    return this.#dictionary;
  }

  /** Sends a frame after the handshake: compressed where the peer accepts it and that pays. */
  #send(frame: Uint8Array): void {
    this.#sendFrame(this.#compressed(frame));
  }

  #sendFrame(frame: Uint8Array): void {
    if (!this.#connection.isOpen) return;
    this.stats.framesOut++;
    this.stats.bytesOut += frame.length;
    this.#connection.send(frame);
  }

  #receive(frame: Uint8Array): void {
    if (this.#state.phase === 'closed') return;
    this.stats.framesIn++;
    this.stats.bytesIn += frame.length;
    this.stats.lastSeenAt = this.#host.now();
    if (++this.#inboxDepth > this.#limits.maxInboxFrames) {
      this.close(CloseCode.policyViolation, 'too many unprocessed frames');
      return;
    }
    this.#inbox = this.#inbox.then(async () => {
      try {
        if (this.#state.phase === 'closed') return;
        // Small frames until the peer proved its key; its `open` (a clock naming up to every
        // member) already gets the full limits, but still only handshake messages parse.
        const unproven = this.#state.remote === undefined;
        const max = unproven ? Math.min(FIXED.maxHandshakeFrameBytes, this.#limits.maxFrameBytes) : this.#limits.maxFrameBytes;
        const decoded = eventOf(frame, max, this.#state.phase !== 'open', unproven, this.#sessionDictionary());
        if ('unknown' in decoded) {
          this.#logger.debug({ conn: this.#connection.id, kind: decoded.unknown }, 'ignored a message of an unknown kind');
          this.#host.onUnknownMessage?.(this, decoded.unknown);
          return;
        }
        this.#dispatch(decoded.event);
        const work = this.#pendingWork;
        this.#pendingWork = undefined;
        if (work) await work;
      } finally {
        this.#inboxDepth--;
        this.#connection.processed(frame.length); // inbound flow control: the transport reads on
      }
    });
  }
}

const HANDSHAKE_KINDS: ReadonlySet<string> = new Set(HANDSHAKE_TYPES);

/** Decodes one frame into a protocol event, or names the unknown message kind it carries. */
function eventOf(frame: Uint8Array, maxFrameBytes: number, handshake: boolean, unproven: boolean, dictionary: DictionaryZlib | undefined): { event: Event } | { unknown: string } {
  try {
    const decoded = decodeMessage(frame, maxFrameBytes, handshake, unproven, dictionary);
    return 'unknown' in decoded ? decoded : { event: { type: 'message', message: decoded, frame } };
  } catch (err) {
    const error = err instanceof CrmsyncError ? err : new CrmsyncError('ERR_PROTOCOL', 'frame failed to decode', { cause: err });
    return { event: { type: 'bad-frame', error } };
  }
}

/** How a session proves itself and judges its peer: the node's keys and trust list. */
function authContext(trust: TrustService, connection: Connection, isOwnNonce: (nonce: Uint8Array) => boolean, policies: string): AuthContext {
  return {
    policies,
    cluster: trust.cluster,
    publicKey: trust.keys.publicKey,
    proof: trust.ownProof(),
    channelBinding: connection.channelBinding,
    sign: (data) => trust.keys.sign(data),
    verify: (key, data, sig) => trust.verifier.verify(key, data, sig),
    memberKey: (node) => trust.list.memberByNode(node)?.publicKey,
    admit(hello): Admission {
      const verdict = trust.judge(hello);
      if (!verdict.ok && verdict.reason === 'unknown' && hello.invite) return { redeem: true };
      return admissionOf(verdict);
    },
    trustDigest: () => trust.list.digest(),
    isOwnNonce,
    invite: (nonce) => trust.invitationFor(nonce),
  };
}

/** A trust verdict as the machine's admission (each refusal with its close code). */
function admissionOf(verdict: HelloVerdict | { ok: false; reason: string }): Admission {
  if (verdict.ok) {
    const { node, publicKey, role, admin, scope } = verdict.member;
    return { ok: true, peer: { node, publicKey, role, admin, ...(scope ? { scope } : {}) } };
  }
  const code = verdict.reason === 'revoked' ? CloseCode.revoked : verdict.reason.startsWith('invitation-') ? CloseCode.invitationRefused : CloseCode.unknownPeer;
  return { ok: false, code, reason: verdict.reason };
}
