/**
 * The checks an inbound peer passes before it gets a connection, shared by both
 * transports so they refuse alike: the transport is open, the bearer token matches,
 * the owner's acceptPeer agrees, and admission has room. Every refusal is counted and
 * logged through a RefusalLog (rate-limited).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../log.js';
import { Admission, isRefusal, type Slot } from './admission.js';
import type { CommonLimits } from './connection-support.js';
import { RefusalLog } from './refusal-log.js';
import type { InboundBudget } from './flow-control.js';
import type { PeerInfo, PeerVerdict, RefusalReason, TransportOptions, TransportStats } from './transport.js';

/** A refusal as the peer sees it (the HTTP status of the upgrade response). */
export interface GateRefusal {
  ok: false;
  status: 401 | 403 | 429 | 503;
  reason: RefusalReason;
}

/** Hashes a token so timingSafeEqual always compares equal lengths and leaks no length. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Admission of inbound peers and outbound dials for one transport. */
export class PeerGate {
  readonly admission: Admission;
  readonly refusals: RefusalLog;
  readonly #tokenDigest: Buffer | undefined;
  readonly #acceptPeer: TransportOptions['acceptPeer'];
  readonly #log: Logger;

  constructor(options: TransportOptions, limits: CommonLimits, log: Logger) {
    this.admission = new Admission(limits);
    this.refusals = new RefusalLog({ intervalMs: limits.refusedLogIntervalMs, now: () => performance.now(), logger: log });
    this.#tokenDigest = options.peerToken === undefined ? undefined : digest(options.peerToken);
    this.#acceptPeer = options.acceptPeer;
    this.#log = log;
  }

  /** Checks an inbound peer, cheapest first; on success the connection's slot. */
  admitInbound(peer: PeerInfo & { token: string | undefined; closing: boolean }): { ok: true; slot: Slot } | GateRefusal {
    const { remoteAddress } = peer;
    const refuse = (status: GateRefusal['status'], reason: RefusalReason, detail?: string): GateRefusal => {
      this.refusals.refused(reason, { remoteAddress, status, ...(detail === undefined ? {} : { detail }) });
      return { ok: false, status, reason };
    };
    if (peer.closing) return refuse(503, 'closing');
    if (!this.#tokenMatches(peer.token)) return refuse(401, 'token');
    const verdict = this.#askOwner({ peerKey: peer.peerKey, remoteAddress });
    if (!verdict.ok) return refuse(verdict.status, 'peer', verdict.reason);
    const slot = this.admission.admitInbound(remoteAddress);
    if (isRefusal(slot)) return refuse(slot.status, slot.reason);
    return { ok: true, slot };
  }

  /** A slot for a dial, or undefined at maxConnections. */
  admitOutbound(): Slot | undefined {
    const slot = this.admission.admitOutbound();
    return isRefusal(slot) ? undefined : slot;
  }

  #tokenMatches(presented: string | undefined): boolean {
    if (!this.#tokenDigest) return true;
    if (presented === undefined) return false;
    return timingSafeEqual(digest(presented), this.#tokenDigest);
  }

  #askOwner(info: PeerInfo): PeerVerdict {
    if (!this.#acceptPeer) return { ok: true };
    try {
      return this.#acceptPeer(info);
    } catch (err) {
      this.#log.error({ err }, 'acceptPeer threw; refusing the peer');
      return { ok: false, status: 503, reason: 'acceptPeer failed' };
    }
  }
}

/** A transport's counters from its parts (both transports report alike). */
export function transportStats(parts: { connections: number; gate: PeerGate; budget: InboundBudget; pendingUpgrades: number }): TransportStats {
  return {
    connections: parts.connections,
    unauthenticated: parts.gate.admission.unauthenticated,
    unprocessedBytes: parts.budget.unprocessedBytes,
    pausedConnections: parts.budget.pausedCount,
    pendingUpgrades: parts.pendingUpgrades,
    refused: parts.gate.refusals.totals(),
  };
}
