/**
 * Peer connections of a node: accepted and dialed connections become sessions; dialed
 * peers are redialed with capped, jittered backoff; two connections to one peer (both
 * sides dialed) are reduced to one by a rule both sides compute alike.
 *
 * Invariants:
 *  1. At most one open session per remote node.
 *  2. Every configured peer has exactly one dial loop until removed or the node closes.
 *  3. After stop(), no timer is pending and no connection is open.
 *  4. Nothing happens before start(): the constructor only stores its collaborators.
 */
import { CatchUpGate, type CatchUpPosition } from './catch-up-gate.js';
import type { SyncEngine } from '../engine/engine.js';
import { statementValue, type TrustStatement } from '../trust/statements.js';
import type { TrustService } from '../trust/trust-service.js';
import { FIXED, type Limits } from '../limits.js';
import type { Logger } from '../log.js';
import { Backoff } from '../net/backoff.js';
import { CloseCode, type Connection, type Transport } from '../net/transport.js';
import { runSoon, type TimerHandle, type Timers } from '../timers.js';
import type { NodeId } from '../types.js';
import type { SeqClock } from '../crdt/origin-clock.js';
import { fingerprintOf } from '../trust/keys.js';
import type { Role } from '../trust/statements.js';
import type { DigestMessage } from './protocol.js';
import { holdsChunks, type HoldsReport } from './messages.js';
import { PeerSession, type SessionStats } from './session.js';

/**
 * Connection state of a configured peer. 'standby': the peer also dials us and both
 * sides keep the other connection (see onOpen); this dialer retries only if that one ends.
 */
export type DialState = 'connecting' | 'connected' | 'standby' | 'backoff' | 'stopped';

/** What status() reports for one peer. */
export interface PeerStatus {
  node: NodeId | null;
  url: string | null;
  direction: 'inbound' | 'outbound';
  state: DialState;
  /** Changes we hold that the peer lacks. */
  behind: number;
  /** Changes the peer holds that we lack. */
  ahead: number;
  /** Seconds the peer has been behind us (0 when current). */
  lagSeconds: number;
  lastSeenAt: number | null;
  retryInMs: number | null;
  stats: SessionStats | null;
  /** Sending a catch-up to this peer: streaming, or waiting for a slot behind `ahead` others (null: not catching up). */
  catchUp: CatchUpPosition | null;
  /** The role the peer proved in the handshake (its trust-list entry), while a session is open. */
  role: Role | null;
  /** The fingerprint of the key the peer proved it holds, while a session is open. */
  key: string | null;
  /** The node id the operator expects at this URL (addPeer's `node`), or null. */
  expectedNode: NodeId | null;
  /** Why the last dial or session of this peer failed (a refused address, a node other than expected), or null. */
  lastError: string | null;
}

interface Dialer {
  url: string;
  state: DialState;
  backoff: Backoff;
  timer: TimerHandle | undefined;
  session: PeerSession | undefined;
  remote: NodeId | undefined;
  retryAt: number | undefined;
  abort: AbortController;
  expected: NodeId | undefined;
  lastError: string | undefined;
}

/** Close codes of sessions ended by entries that failed verification, and the reason counted for each. */
const ENTRY_REJECTIONS: ReadonlyMap<number, string> = new Map([
  [CloseCode.originForked, 'forked'], [CloseCode.badSignature, 'signature'], [CloseCode.unauthorized, 'unauthorized-origin'],
]);

/** Close codes that mean "the peer sent something we refused". */
const REJECTION_CODES: ReadonlySet<number> = new Set([
  CloseCode.protocolError, 1003, 1007, CloseCode.frameTooLarge, CloseCode.originForked, CloseCode.versionMismatch, CloseCode.policyViolation,
]);

/** Collaborators of Peers. */
export interface PeersOptions {
  engine: SyncEngine;
  trust: TrustService;
  /** Random bytes for handshake nonces. */
  randomBytes: (n: number) => Uint8Array;
  transport: Transport;
  limits: Limits;
  timers: Timers;
  /** Uniform random source for backoff jitter (seeded in simulations). */
  random: () => number;
  logger: Logger;
  /** Receives the anti-entropy messages of every session (anti-entropy.ts). */
  digests?: { receive(session: PeerSession, message: DigestMessage): void; closed(session: PeerSession): void };
  /** Member holds reports (node-holds.ts): takes the verified ones sessions receive; a new session exchanges summaries, then the newer reports. */
  holds?: { receive(reports: HoldsReport[]): void; summary(): [node: string, at: number][]; newerThan(known: [node: string, at: number][]): HoldsReport[] };
}

/** Manages every peer session of one node. */
export class Peers {
  readonly #engine: SyncEngine;
  readonly #trust: TrustService;
  readonly #randomBytes: (n: number) => Uint8Array;
  readonly #refusals: RefusalLog;
  readonly #transport: Transport;
  readonly #limits: Limits;
  /** Catch-up slots shared by every session of this node. */
  readonly #catchUps: CatchUpGate;
  readonly #timers: Timers;
  readonly #random: () => number;
  readonly #logger: Logger;
  readonly #digests: PeersOptions['digests'];
  readonly #holds: PeersOptions['holds'];
  readonly #sessions = new Set<PeerSession>();
  readonly #dialers = new Map<string, Dialer>();
  #ticker: TimerHandle | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Appends not yet passed on to the sessions (#notifyAppended). */
  #appended: { source: NodeId | null; origins: string[] }[] = [];
  /** Connections closed because the peer sent something invalid (metrics). */
  rejected = 0;
  /** Frames of unknown message kinds that were ignored (versioning policy; metrics). */
  unknownMessages = 0;
  /** Refused handshakes by reason (metrics). */
  readonly refusedHandshakes = new Map<string, number>();
  /** Sessions closed because the peer sent entries that failed verification, by reason (metrics). */
  readonly rejectedEntries = new Map<string, number>();
  /** Changes received from peers that failed verification and were quarantined (metrics). */
  quarantined = 0;
  #started = false;
  #stopped = false;

  constructor(options: PeersOptions) {
    this.#engine = options.engine;
    this.#trust = options.trust;
    this.#randomBytes = options.randomBytes;
    this.#refusals = new RefusalLog(options.logger, () => options.timers.now(), options.limits.refusedLogIntervalMs);
    this.#transport = options.transport;
    this.#limits = options.limits;
    this.#catchUps = new CatchUpGate(options.limits.maxConcurrentCatchUps);
    this.#timers = options.timers;
    this.#random = options.random;
    this.#logger = options.logger;
    this.#digests = options.digests;
    this.#holds = options.holds;
  }

  /**
   * Starts accepting sessions (listening on `listen` when given), pushing new entries
   * to them and running timers. Resolves with the URL peers dial, or null.
   */
  async start(listen?: { host: string; port: number }): Promise<string | null> {
    if (this.#started) throw new TypeError('Peers.start() was already called');
    this.#started = true;
    this.#transport.onConnection((connection) => this.#adopt(connection, undefined));
    const unsubscribeLog = this.#engine.onAppended((entries, source) => this.#notifyAppended(source, [...new Set(entries.map((e) => e.origin))]));
    const onTrust = () => this.#enforceTrust();
    const onAdded = (added: TrustStatement[]) => {
      const values = added.map(statementValue);
      for (const session of this.#sessions) session.shareTrust(values);
    };
    this.#trust.events.on('changed', onTrust);
    this.#trust.events.on('added', onAdded);
    this.#unsubscribe = () => {
      unsubscribeLog();
      this.#trust.events.off('changed', onTrust);
      this.#trust.events.off('added', onAdded);
    };
    this.#scheduleTick();
    return listen ? (await this.#transport.listen(listen)).url : null;
  }

  /** Tells every open session's peer that this node's subscription changed. */
  resubscribe(): void {
    for (const session of this.#sessions) session.resubscribe();
  }

  /** What each connected peer is known to hold (its open, acks and haves): input of tombstone collection. */
  holdings(): [NodeId, SeqClock][] {
    return this.openSessions().flatMap((s) => (s.remote === undefined ? [] : [[s.remote, s.protocolState.peerHolds] as [NodeId, SeqClock]]));
  }

  /** Open sessions. */
  openSessions(): PeerSession[] {
    return [...this.#sessions].filter((s) => s.state === 'open');
  }

  /**
   * Starts dialing a peer URL (idempotent). With `expected`, a session that proves another
   * node id is closed and reported in status (lastError): the URL reaches the wrong node.
   */
  add(url: string, expected?: NodeId): void {
    if (this.#stopped || this.#dialers.has(url)) return;
    const dialer: Dialer = {
      url, state: 'connecting', timer: undefined, session: undefined, remote: undefined, retryAt: undefined,
      abort: new AbortController(), expected, lastError: undefined,
      backoff: new Backoff({ baseMs: this.#limits.reconnectBaseMs, maxMs: this.#limits.reconnectMaxMs, random: this.#random }),
    };
    this.#dialers.set(url, dialer);
    void this.#dial(dialer);
  }

  /** Stops dialing a peer URL and closes its session. */
  remove(url: string): boolean {
    const dialer = this.#dialers.get(url);
    if (!dialer) return false;
    this.#dialers.delete(url);
    this.#stopDialer(dialer);
    return true;
  }

  /** Configured peer URLs. */
  urls(): string[] {
    return [...this.#dialers.keys()];
  }

  #stopDialer(dialer: Dialer): void {
    dialer.state = 'stopped';
    dialer.timer?.cancel();
    dialer.abort.abort();
    dialer.session?.close(CloseCode.normal, 'peer removed');
  }

  async #dial(dialer: Dialer): Promise<void> {
    if (dialer.state === 'stopped') return;
    dialer.state = 'connecting';
    dialer.retryAt = undefined;
    try {
      const connection = await this.#transport.dial(dialer.url, { signal: dialer.abort.signal });
      if ((dialer.state as DialState) === 'stopped') {
        connection.close(CloseCode.normal, 'peer removed');
        return;
      }
      dialer.session = this.#adopt(connection, dialer);
    } catch (err) {
      this.#logger.debug({ url: dialer.url, code: (err as { code?: string }).code }, 'dial failed');
      dialer.lastError = (err as Error | undefined)?.message ?? String(err);
      this.#retry(dialer);
    }
  }

  #retry(dialer: Dialer): void {
    if (dialer.state === 'stopped' || this.#stopped) return;
    const delay = dialer.backoff.next();
    dialer.state = 'backoff';
    dialer.retryAt = this.#timers.now() + delay;
    dialer.timer = this.#timers.after(delay, () => void this.#dial(dialer));
  }

  #adopt(connection: Connection, dialer: Dialer | undefined): PeerSession {
    const session = new PeerSession({
      connection, engine: this.#engine, trust: this.#trust, limits: this.#limits, logger: this.#logger, catchUp: this.#catchUps,
      host: {
        now: () => this.#timers.now(),
        after: (ms, fn) => this.#timers.after(ms, fn),
        randomBytes: this.#randomBytes,
        onOpen: (s) => this.#onOpen(s, dialer),
        onClose: (s, code, reason) => this.#onClose(s, dialer, code, reason),
        onRefused: (_s, code, reason, fields) => {
          this.refusedHandshakes.set(reason, (this.refusedHandshakes.get(reason) ?? 0) + 1);
          this.#refusals.refused(reason, { code, remoteAddress: connection.remoteAddress, ...fields });
        },
        onUnknownMessage: () => this.unknownMessages++,
        onQuarantined: (_s, count) => { this.quarantined += count; },
        // Clocks rose without log entries: tell the others, and let each locate again (its
        // peer may now be below our floors, and only a locate brings it there).
        onFloorsRaised: (from, origins) => {
          for (const other of this.#sessions) {
            if (other === from) continue;
            other.announce(origins);
            other.relocate();
          }
        },
        onDigest: (s, message) => this.#digests?.receive(s, message),
        onHolds: (reports) => this.#holds?.receive(reports),
        onHoldsWanted: (s, known) => { if (this.#holds) this.#sendHolds(s, this.#holds.newerThan(known)); },
        isOwnNonce: (nonce) => [...this.#sessions].some((s) => s.connection.direction === 'outbound' && Buffer.from(s.nonce).equals(Buffer.from(nonce))),
      },
    });
    if (this.#stopped) {
      connection.close(CloseCode.goingAway, 'node stopping');
      return session;
    }
    this.#sessions.add(session);
    session.start();
    return session;
  }

  /** Invariant 1: keep the connection dialed by the smaller node id (both sides agree). */
  #onOpen(session: PeerSession, dialer: Dialer | undefined): void {
    if (dialer?.expected !== undefined && session.remote !== dialer.expected) {
      // A trusted member, but not the one the operator meant: the URL is wrong. Retried with
      // backoff (the address may be reassigned), and shown in status until it is right.
      dialer.lastError = `${dialer.url} reached node "${session.remote}", not the expected "${dialer.expected}"`;
      session.close(CloseCode.normal, 'not the expected node');
      return;
    }
    if (dialer) {
      dialer.lastError = undefined;
      dialer.state = 'connected';
      dialer.remote = session.remote;
      dialer.backoff.reset();
    }
    for (const other of this.#sessions) {
      if (other === session || other.state !== 'open' || other.remote !== session.remote) continue;
      const keepNew = this.#preferred(session, other);
      const loser = keepNew ? other : session;
      loser.close(CloseCode.duplicate, 'duplicate connection');
      if (!keepNew) return;
    }
    if (this.#holds) session.shareHolds([], this.#holds.summary().slice(0, FIXED.maxHoldsKnown));
  }

  /** Passes member holds reports to every open session's peer. */
  shareHolds(reports: HoldsReport[]): void {
    for (const session of this.openSessions()) this.#sendHolds(session, reports);
  }

  #sendHolds(session: PeerSession, reports: HoldsReport[]): void {
    for (const chunk of holdsChunks(reports, FIXED.maxHoldsReports, FIXED.maxHoldsClockEntries)) session.shareHolds(chunk);
  }

  #preferred(a: PeerSession, b: PeerSession): boolean {
    const dialerOf = (s: PeerSession) => (s.connection.direction === 'outbound' ? this.#engine.nodeId : s.remote!);
    const da = dialerOf(a);
    const db = dialerOf(b);
    if (da === db) return true; // same dialer twice: the older one is stale
    return da < db;
  }

  #onClose(session: PeerSession, dialer: Dialer | undefined, code: number, reason: string): void {
    this.#sessions.delete(session);
    this.#digests?.closed(session);
    if (REJECTION_CODES.has(code)) this.rejected++;
    const rejection = session.remote ? ENTRY_REJECTIONS.get(code) : undefined;
    if (rejection) this.rejectedEntries.set(rejection, (this.rejectedEntries.get(rejection) ?? 0) + 1);
    if (session.remote) {
      // A duplicate is routine (both sides dial each other): not worth an info line.
      this.#logger[code === CloseCode.duplicate ? 'debug' : 'info']({ peer: session.remote, code, reason }, 'peer session closed');
      if (code !== CloseCode.duplicate) this.#wakeStandby(session.remote);
    }
    if (!dialer || dialer.session !== session) return;
    dialer.session = undefined;
    if (dialer.state === 'stopped' || this.#stopped) return;
    // A duplicate stands by only while another open session to that node carries the
    // sync, and redials as soon as that one ends (wakeStandby): the peer may have closed
    // ours for a newer connection under our id (a copied data directory) that it then
    // refuses as forked, and we must not stay cut off from the peer.
    const carried = code === CloseCode.duplicate && this.openSessions().some((s) => s.remote === session.remote);
    if (carried) {
      dialer.state = 'standby';
      dialer.retryAt = undefined;
      return;
    }
    if (code === CloseCode.selfConnection || code === CloseCode.originForked) {
      // Retrying at the cap keeps a parked dialer cheap; the other connection carries the sync.
      dialer.state = 'backoff';
      const delay = this.#limits.reconnectMaxMs;
      dialer.retryAt = this.#timers.now() + delay;
      dialer.timer = this.#timers.after(delay, () => void this.#dial(dialer));
      return;
    }
    this.#retry(dialer);
  }

  /** The trust list changed: sessions whose peer is no longer a member are closed (revocation takes effect live). */
  #enforceTrust(): void {
    for (const session of this.#sessions) {
      const peer = session.peer;
      if (!peer) continue;
      const standing = this.#trust.list.standing(peer.publicKey);
      if (standing !== 'member') session.close(standing === 'revoked' ? CloseCode.revoked : CloseCode.unknownPeer, `peer ${standing}`);
    }
  }

  /** The session that carried the sync with `remote` ended: standing-by dialers take over. */
  #wakeStandby(remote: NodeId): void {
    if (this.#stopped || this.openSessions().some((s) => s.remote === remote)) return;
    for (const dialer of this.#dialers.values()) {
      if (dialer.state === 'standby' && dialer.remote === remote) this.#retry(dialer);
    }
  }

  /**
   * New entries in our log: every session pushes what its peer lacks, once the promise
   * continuations already queued have run (`Timers.soon`: setImmediate). A push reads the
   * log's tail and encodes, deflates and writes a frame (about 0.3 ms of CPU on the 2-core
   * machine); started from the commit's callback, it ran a few promise steps later, among
   * the steps of the caller's next write, and held that write back from LevelDB. Now the
   * next write is submitted first and the push runs while it waits for its fsync. Commits
   * that complete meanwhile are passed on with it, in one notification per session.
   */
  #notifyAppended(source: NodeId | null, origins: string[]): void {
    this.#appended.push({ source, origins });
    if (this.#appended.length === 1) runSoon(this.#timers, () => this.#passAppended());
  }

  #passAppended(): void {
    const appended = this.#appended;
    this.#appended = [];
    if (this.#stopped) return;
    for (const session of this.#sessions) {
      session.notifyAppended();
      // Origins the peer may not have heard of yet: those of entries that came from elsewhere.
      const origins = new Set<string>();
      for (const { source, origins: from } of appended) {
        if (source !== null && session.remote !== source) for (const origin of from) origins.add(origin);
      }
      if (origins.size > 0) session.announce([...origins]);
    }
  }

  #scheduleTick(): void {
    const interval = Math.max(50, Math.min(this.#limits.ackTimeoutMs, this.#limits.handshakeTimeoutMs) / 4);
    this.#ticker = this.#timers.after(interval, () => {
      for (const session of this.#sessions) session.tick();
      if (!this.#stopped) this.#scheduleTick();
    });
  }

  /** Status of every configured peer and every inbound session. */
  status(): PeerStatus[] {
    const now = this.#timers.now();
    const rows: PeerStatus[] = [];
    const seen = new Set<PeerSession>();
    const row = (session: PeerSession | undefined, url: string | null, state: DialState, retryAt?: number): PeerStatus => {
      const lag = session?.state === 'open' ? session.lag() : undefined;
      const peer = session?.state === 'open' ? session.peer : undefined;
      return {
        node: session?.remote ?? null, url, direction: session?.connection.direction ?? 'outbound', state,
        behind: lag?.peerBehind ?? 0, ahead: lag?.weBehind ?? 0, lagSeconds: lag?.seconds ?? 0,
        lastSeenAt: session?.stats.lastSeenAt || null, retryInMs: retryAt === undefined ? null : Math.max(0, retryAt - now),
        stats: session ? { ...session.stats } : null,
        catchUp: session?.catchUpPosition() ?? null,
        role: peer?.role ?? null, key: peer ? fingerprintOf(peer.publicKey) : null,
        expectedNode: null, lastError: null,
      };
    };
    for (const dialer of this.#dialers.values()) {
      if (dialer.session) seen.add(dialer.session);
      const r = row(dialer.session?.state === 'open' ? dialer.session : undefined, dialer.url, dialer.state, dialer.retryAt);
      if (!r.node && dialer.remote) r.node = dialer.remote;
      r.expectedNode = dialer.expected ?? null;
      r.lastError = dialer.lastError ?? null;
      rows.push(r);
    }
    for (const session of this.#sessions) {
      if (!seen.has(session) && session.state === 'open') rows.push(row(session, null, 'connected'));
    }
    return rows;
  }

  /** Closes every session and stops every dialer (invariant 3). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#ticker?.cancel();
    this.#unsubscribe?.();
    for (const dialer of this.#dialers.values()) this.#stopDialer(dialer);
    for (const session of this.#sessions) session.close(CloseCode.goingAway, 'node stopping');
    await this.#transport.close();
  }
}

/**
 * Refused-connection log lines, rate-limited: at most one line per reason per interval,
 * with how many were refused since, so a flood of bad peers cannot flood the log.
 */
class RefusalLog {
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly logger: Logger, private readonly now: () => number, private readonly intervalMs: number) {}

  refused(reason: string, fields: Record<string, unknown>): void {
    const now = this.now();
    const last = this.#last.get(reason);
    if (last && now - last.at < this.intervalMs) {
      last.suppressed++;
      return;
    }
    this.#last.set(reason, { at: now, suppressed: 0 });
    this.logger.warn({ reason, ...fields, suppressed: last?.suppressed ?? 0 }, 'peer refused');
  }
}
