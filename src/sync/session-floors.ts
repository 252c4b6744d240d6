/**
 * A session's part in truncated logs (PROTOCOL.md "Truncated logs"): locating for a peer
 * below our floors (a region brings it there with record documents and `base`; anyone
 * else leaves those origins unserved), and taking a region's floors (then a subscriber
 * asks about the records it holds that the bootstrap's documents left out).
 */
import { holds, holdsAll, type Holding } from '../crdt/holding.js';
import type { SeqClock } from '../crdt/origin-clock.js';
import type { SyncEngine } from '../engine/engine.js';
import type { BaseFloor } from '../engine/truncate.js';
import { CrmsyncError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log.js';
import type { TrustService } from '../trust/trust-service.js';
import type { NodeId, RecordId } from '../types.js';
import type { CatchUpGate } from './catch-up-gate.js';
import { encodeMessage } from './codec.js';
import type { BaseMessage } from './messages.js';
import type { Event, PeerIdentity } from './protocol.js';

/** What the floors part needs of its session. */
export interface FloorsHost<Owner> {
  engine: SyncEngine;
  trust: TrustService;
  limits: Limits;
  logger: Logger;
  /** The catch-up slots, and the session that holds one (a bootstrap is a catch-up). */
  catchUp: CatchUpGate<Owner> | undefined;
  owner: Owner;
  /** Who the peer is and what it holds, as the machine knows it now. */
  peer(): { remote: NodeId | undefined; identity: PeerIdentity | undefined; holding: Holding };
  isOpen(): boolean;
  /** Sends a frame after the handshake (compressed where the peer accepts it). */
  sendFrame(frame: Uint8Array): void;
  /** Sends the signed documents of `ids` (paced); false when the connection closed meanwhile. */
  sendRecords(ids: RecordId[]): Promise<boolean>;
  dispatch(event: Event): void;
  /** Our clock rose to a region's floors (other sessions may now have peers below them). */
  floorsRaised(origins: string[]): void;
}

/** What a locate found: where to read from, floors the peer was brought to, origins left unserved. */
export interface Located {
  cursor: number;
  based?: [origin: string, seq: number][];
  unserved?: string[];
}

/** See the file comment. One per session. */
export class SessionFloors<Owner> {
  readonly #host: FloorsHost<Owner>;
  /** Origins this session brought the peer to our floor of (once per origin and session). */
  readonly #based = new Set<string>();

  constructor(host: FloorsHost<Owner>) {
    this.#host = host;
  }

  /**
   * Where our stream for the peer starts. A peer below our floors lacks entries we
   * truncated: a region brings it there once per session with the documents of every
   * record in its holding, then `base`; anyone else, or a peer still below after that (it
   * does not take `base`), is not served those origins on this stream (it gets them from
   * a region).
   */
  async locate(peerHolds: SeqClock): Promise<Located> {
    const { engine, trust } = this.#host;
    const below = engine.floorsBelow(peerHolds).filter((f) => trust.knows(f.origin));
    if (below.length === 0) return { cursor: await engine.firstMissingPosition(peerHolds) };
    const region = trust.list.memberByNode(engine.nodeId)?.role === 'region';
    // The peer's own origin too: below our floor of it, it lost entries it wrote (restored
    // from an old backup, or started on an empty directory), and must not number on from there.
    const bringable = below.filter((f) => !this.#based.has(f.origin));
    if (!region || bringable.length === 0 || !(await this.#bootstrap(bringable))) {
      return { cursor: await engine.firstMissingPosition(peerHolds), unserved: below.map((f) => f.origin) };
    }
    const based = bringable.map((f): [string, number] => [f.origin, f.seq]);
    const held = new Map(peerHolds);
    for (const [origin, seq] of based) held.set(origin, Math.max(seq, held.get(origin) ?? 0));
    const unserved = below.filter((f) => !bringable.includes(f)).map((f) => f.origin);
    return { cursor: await engine.firstMissingPosition(held), based, ...(unserved.length > 0 ? { unserved } : {}) };
  }

  /**
   * An empty `base`, the documents of every record in the peer's holding and scope
   * (deleted ones too: a document carries its delete, so nothing comes back), then `base`
   * with the floors. Holds a catch-up slot meanwhile. False when the connection closed.
   */
  async #bootstrap(floors: readonly BaseFloor[]): Promise<boolean> {
    const { catchUp: gate, owner, engine, limits } = this.#host;
    if (gate && !gate.holds(owner)) {
      try {
        await gate.acquire(owner);
      } catch {
        return false;
      }
    }
    try {
      const { holding, identity, remote } = this.#host.peer();
      const scope = identity?.scope;
      // The empty base first: a subscriber counts only the documents after it as this
      // bootstrap's (one sent earlier may predate history our floors stand for).
      this.#host.sendFrame(encodeMessage({ type: 'base', floors: [] }));
      let sent = 0;
      for (let after: string | undefined; ;) {
        const ids = await engine.recordIds(after, limits.batchChanges);
        if (ids.length === 0) break;
        after = ids.at(-1);
        const places = holdsAll(holding) && !scope ? undefined : await engine.placementsOf(ids);
        const inside = places ? ids.filter((_, i) => places[i] !== undefined && holds(holding, places[i]!) && (!scope || holds([scope], places[i]!))) : ids;
        if (!(await this.#host.sendRecords(inside))) return false;
        sent += inside.length;
      }
      for (const f of floors) this.#based.add(f.origin);
      this.#host.sendFrame(encodeMessage({ type: 'base', floors: floors.map((f) => [f.origin, f.seq, Buffer.from(f.prev, 'hex'), f.record, Buffer.from(f.digest, 'hex'), f.sig]) }));
      this.#host.logger.info({ peer: remote, records: sent, origins: floors.length }, 'peer below our truncated log: sent record documents and floors');
      return this.#host.isOpen();
    } finally {
      if (gate?.holds(owner)) gate.release(owner);
    }
  }

  /**
   * A region's floors: raise our clock to them. A floor whose signature does not verify
   * is a forgery (the session fails with 4013). `documented`: the documents this
   * bootstrap sent (after its empty `base`).
   */
  async applyBase(floors: BaseMessage['floors'], documented: ReadonlySet<string> | 'many'): Promise<void> {
    const { engine } = this.#host;
    const { remote } = this.#host.peer();
    const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
    // `chain` is recomputed (engine/truncate.ts verifiedFloor): nothing the peer claims is used unchecked.
    const result = await engine.applyBase(floors.map(([origin, seq, prev, record, digest, sig]) => ({ origin, seq, prev: hex(prev), record, digest: hex(digest), sig, chain: '' })), remote!);
    if (result.forged.length > 0) {
      this.#host.dispatch({ type: 'failed', error: new CrmsyncError('ERR_SIGNATURE', `floors sent for origins ${result.forged.slice(0, 5).join(', ')} are not signed by those origins' keys`) });
      return;
    }
    if (result.raised.length > 0) {
      this.#host.floorsRaised(result.raised);
      // A subscriber may hold records that moved out of its holding below the floor: the
      // documents left them out, and no entry will tell. Ask the region about each.
      if (!holdsAll(engine.holding())) this.#host.dispatch({ type: 'stale', ids: await this.#heldExcept(documented) });
    }
    if (result.raised.length > 0 || result.refused.length > 0) {
      this.#host.logger.info({ peer: remote, raised: result.raised.length, refused: result.refused.length }, 'took floors from a region (bootstrap from record documents)');
    }
  }

  /** Ids of the records held here that are not in `documented` (all of them for 'many'). */
  async #heldExcept(documented: ReadonlySet<string> | 'many'): Promise<string[]> {
    const stale: string[] = [];
    for (let after: string | undefined; ;) {
      const ids = await this.#host.engine.recordIds(after, this.#host.limits.batchChanges);
      if (ids.length === 0) return stale;
      after = ids.at(-1);
      for (const id of ids) if (documented === 'many' || !documented.has(id)) stale.push(id);
    }
  }
}
