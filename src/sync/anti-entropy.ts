/**
 * Anti-entropy between two nodes: compares their holdings through the Merkle digest
 * (digest.ts) in a logarithmic number of round trips, and repairs what differs through
 * normal sync (anti-entropy-run.ts runs an exchange; PROTOCOL.md, "Anti-entropy").
 * This class answers a peer's digest requests, routes responses to the exchange waiting
 * for them, and keeps the one snapshot of our holdings both roles use.
 *
 * Invariants:
 *  1. At most one request per peer is served at a time (another gets 'busy'), at most
 *     `maxDigestRequestsPerWindow` per `digestWindowMs` (beyond: 'rate').
 *  2. At most one scan of the holdings runs at a time; a snapshot is reused while the log
 *     has not moved and it is younger than `digestSnapshotTtlMs`, and a peer that already
 *     caused a rescan in its window is served the existing snapshot (stale reads are
 *     harmless: differences are confirmed by `compare` on fresh heads).
 *  3. Every pending request ends: answered, timed out (ERR_TIMEOUT) or its session
 *     closed (ERR_CLOSED).
 */
import type { Holding, Placement } from '../crdt/holding.js';
import type { OriginClock } from '../crdt/origin-clock.js';
import { toWireClock } from '../crdt/origin-clock.js';
import type { VerifyReport } from '../engine/verify.js';
import { CrmsyncError } from '../errors.js';
import { FIXED, type Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { HeadsPage } from '../store/store.js';
import type { TimerHandle, Timers } from '../timers.js';
import { parseRecordId, type RecordId } from '../types.js';
import { DigestSnapshot, recordHash, type HeldRecord } from './digest.js';
import type { DigestRequestMessage, DigestResponseMessage } from './messages.js';
import type { DigestMessage } from './protocol.js';

/** What anti-entropy reads of the node (the engine): holdings, record heads, and local repair. */
export interface HoldingsSource {
  holdings(): OriginClock;
  lastPosition(): number;
  listHeads(after: string | undefined, limit: number): Promise<HeadsPage>;
  headsOf(ids: readonly RecordId[]): Promise<(string[] | undefined)[]>;
  verifyIds(ids: readonly RecordId[], options: { repair: boolean }): Promise<VerifyReport>;
  /** The records this node keeps: an exchange compares only what both sides keep. */
  holding(): Holding;
  /** Where each record is (territory, owner); undefined for one not held here. */
  placementsOf(ids: readonly RecordId[]): Promise<(Placement | undefined)[]>;
}

/** The part of a session anti-entropy uses. */
export interface DigestChannel {
  sendDigest(message: DigestMessage): void;
}

/** A request body: a digest request without its type and number. */
export type DigestAskBody = Omit<DigestRequestMessage, 'type' | 'req'>;

/** Records read per page while scanning the holdings. */
const SCAN_PAGE = 1000;

interface PeerState {
  busy: boolean;
  windowStart: number;
  requests: number;
  rescanned: boolean;
}

interface Pending {
  resolve(message: DigestResponseMessage): void;
  reject(error: CrmsyncError): void;
  timer: TimerHandle;
}

/** See the file comment for the invariants. */
export class AntiEntropy {
  readonly #source: HoldingsSource;
  readonly #limits: Limits;
  readonly #timers: Timers;
  readonly #logger: Logger;
  readonly #peers = new Map<DigestChannel, PeerState>();
  readonly #pending = new Map<DigestChannel, Map<number, Pending>>();
  #nextReq = 0;
  #snapshot: { position: number; at: number; value: Promise<DigestSnapshot>; building: boolean } | undefined;
  /** Digest requests refused to peers (busy or rate), for status. */
  refused = 0;

  constructor(options: { source: HoldingsSource; limits: Limits; timers: Timers; logger: Logger }) {
    this.#source = options.source;
    this.#limits = options.limits;
    this.#timers = options.timers;
    this.#logger = options.logger;
  }

  /** A digest message from a peer's session. */
  receive(channel: DigestChannel, message: DigestMessage): void {
    if (message.type === 'digest-response') {
      const pending = this.#pending.get(channel)?.get(message.req);
      if (!pending) return; // late (timed out) or never asked: nothing waits for it
      this.#pending.get(channel)!.delete(message.req);
      pending.timer.cancel();
      pending.resolve(message);
      return;
    }
    const peer = this.#peerState(channel);
    const refuse = (reason: string) => {
      this.refused++;
      channel.sendDigest({ type: 'digest-response', req: message.req, refused: reason });
    };
    if (peer.busy) return refuse('busy');
    if (++peer.requests > this.#limits.maxDigestRequestsPerWindow) return refuse('rate');
    peer.busy = true;
    this.#serve(message, peer).then(
      (answer) => channel.sendDigest({ type: 'digest-response', req: message.req, ...answer }),
      (err: unknown) => {
        this.#logger.warn({ err, ask: message.what }, 'digest request failed');
        refuse('failed');
      },
    ).finally(() => { peer.busy = false; });
  }

  /** The session closed: its pending requests fail, its rate state is dropped (invariant 3). */
  closed(channel: DigestChannel): void {
    this.#peers.delete(channel);
    const pending = this.#pending.get(channel);
    this.#pending.delete(channel);
    for (const p of pending?.values() ?? []) {
      p.timer.cancel();
      p.reject(new CrmsyncError('ERR_CLOSED', 'the peer session closed during anti-entropy'));
    }
  }

  /** Sends a request and resolves with its answer (ERR_BUSY if the peer refused it). */
  request(channel: DigestChannel, body: DigestAskBody): Promise<DigestResponseMessage> {
    const req = ++this.#nextReq;
    let map = this.#pending.get(channel);
    if (!map) this.#pending.set(channel, (map = new Map()));
    const pendings = map;
    return new Promise<DigestResponseMessage>((resolve, reject) => {
      const timer = this.#timers.after(this.#limits.digestRequestTimeoutMs, () => {
        pendings.delete(req);
        reject(new CrmsyncError('ERR_TIMEOUT', `the peer did not answer a digest request within ${this.#limits.digestRequestTimeoutMs} ms`));
      });
      pendings.set(req, { resolve, reject, timer });
      channel.sendDigest({ type: 'digest-request', req, ...body });
    }).then((answer) => {
      if (answer.refused !== undefined) throw new CrmsyncError('ERR_BUSY', `the peer refused a digest request (${answer.refused}); try again later`);
      return answer;
    });
  }

  /** Our snapshot (shared by both roles; invariant 2). `rescan: false` reuses any live one. */
  snapshot(rescan = true): Promise<DigestSnapshot> {
    const now = this.#timers.now();
    const current = this.#snapshot;
    const live = current !== undefined && now - current.at < this.#limits.digestSnapshotTtlMs;
    if (current && (current.building || (live && (!rescan || current.position === this.#source.lastPosition())))) return current.value;
    const value = DigestSnapshot.build(this.#scan());
    const entry = { position: this.#source.lastPosition(), at: now, value, building: true };
    this.#snapshot = entry;
    value.then(() => { entry.building = false; }, () => { if (this.#snapshot === entry) this.#snapshot = undefined; });
    return value;
  }

  /** Forgets the snapshot (records were re-derived: their heads may have changed without a log entry). */
  invalidate(): void {
    this.#snapshot = undefined;
  }

  /** Current record hashes of `ids` (empty for records not held). */
  /** What this node keeps. */
  holding(): Holding {
    return this.#source.holding();
  }

  /** Where each record is; undefined for one not held here. */
  placementsOf(ids: readonly string[]): Promise<(Placement | undefined)[]> {
    return this.#source.placementsOf(ids.map((id) => parseRecordId(id)));
  }

  async hashesOf(ids: readonly string[]): Promise<[string, Uint8Array][]> {
    const heads = await this.#source.headsOf(ids.map((id) => parseRecordId(id)));
    return ids.map((id, i) => [id, heads[i] === undefined ? new Uint8Array(0) : recordHash(id, heads[i]!)]);
  }

  /** Re-derives the named records from our own log; resolves with how many were rewritten. */
  async rederive(ids: readonly string[]): Promise<number> {
    const report = await this.#source.verifyIds(ids.map((id) => parseRecordId(id)), { repair: true });
    if (report.repaired > 0) this.invalidate();
    return report.repaired;
  }

  async *#scan(): AsyncIterable<HeldRecord> {
    let after: string | undefined;
    for (;;) {
      const page = await this.#source.listHeads(after, SCAN_PAGE);
      yield* page.records;
      if (page.next === undefined) return;
      after = page.next;
    }
  }

  #peerState(channel: DigestChannel): PeerState {
    const now = this.#timers.now();
    let peer = this.#peers.get(channel);
    if (!peer || now - peer.windowStart >= this.#limits.digestWindowMs) {
      peer = { busy: peer?.busy ?? false, windowStart: now, requests: 0, rescanned: false };
      this.#peers.set(channel, peer);
    }
    return peer;
  }

  async #serve(message: DigestRequestMessage, peer: PeerState): Promise<Omit<DigestResponseMessage, 'type' | 'req'>> {
    switch (message.what) {
      case 'groups': {
        const snapshot = await this.snapshot(!peer.rescanned);
        peer.rescanned = true;
        const groups = snapshot.groups();
        if (groups.length > FIXED.maxDigestGroups) return { refused: 'limit' };
        return { clock: toWireClock(this.#source.holdings()), groups: groups.map((g) => [g.territory, g.summary.count, g.summary.hash]) };
      }
      case 'children': {
        const snapshot = await this.snapshot(false);
        return { children: message.paths.map(([t, prefix]) => snapshot.children(t, prefix).map((c) => [c.count, c.hash] as [number, Uint8Array])) };
      }
      case 'records': {
        const snapshot = await this.snapshot(false);
        const records: DigestResponseMessage['records'] = [];
        for (const [t, prefix] of message.paths) {
          const ids = snapshot.ids(t, prefix);
          records.push(ids.length > FIXED.maxDigestLeafRecords ? null : (await this.hashesOf(ids)).filter(([, hash]) => hash.length > 0));
        }
        return { records };
      }
      case 'compare':
        return { records: [await this.hashesOf(message.ids)] };
      case 'repair':
        return { repaired: await this.rederive(message.ids) };
      default: {
        const unreachable: never = message.what;
        throw new TypeError(`unhandled digest request ${String(unreachable)}`);
      }
    }
  }
}
