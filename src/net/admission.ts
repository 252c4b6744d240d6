/**
 * Connection admission shared by both transports: how many connections are open in
 * total, and how many are still unauthenticated, overall and per remote address. A
 * transport asks before it creates a connection, so a refused peer never costs more
 * than the refusal. A connection that proved its membership stops counting against its
 * address: a sales office of fifty laptops behind one NAT is fifty members, bounded by
 * maxConnections and by one session per member, while anyone at an address without a
 * member's key holds at most maxConnectionsPerAddress handshakes.
 */
import type { RefusalReason } from './transport.js';

/** The limits Admission enforces. */
export interface AdmissionLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  maxUnauthenticatedConnections: number;
}

/** Why admission said no, and the HTTP status that tells the peer. */
export interface Refusal {
  status: 429 | 503;
  reason: RefusalReason;
}

/** One admitted connection's place in the counts; release it when the connection ends. */
export interface Slot {
  /** The owner authenticated the peer: stop counting it as unauthenticated (idempotent). */
  authenticated(): void;
  /** The connection ended (or never came to be); idempotent. */
  release(): void;
}

/** The same address whether it arrived as IPv4 or IPv4-mapped IPv6. */
export function normalizeAddress(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}

/**
 * Counts of admitted connections.
 *
 * Invariants:
 * 1. total = admitted slots not yet released (inbound and outbound) <= maxConnections.
 * 2. perAddress[a] = unreleased inbound slots from a not marked authenticated <= maxConnectionsPerAddress; no zero entries.
 * 3. unauthenticated = unreleased inbound slots not marked authenticated <= maxUnauthenticatedConnections.
 */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #perAddress = new Map<string, number>();
  #total = 0;
  #unauthenticated = 0;

  constructor(limits: AdmissionLimits) {
    for (const [key, value] of Object.entries(limits)) {
      if (!Number.isInteger(value) || value <= 0) throw new TypeError(`${key} must be a positive integer`);
    }
    this.#limits = limits;
  }

  /** Admitted connections, inbound and outbound. */
  get total(): number {
    return this.#total;
  }

  /** Admitted inbound connections not yet authenticated. */
  get unauthenticated(): number {
    return this.#unauthenticated;
  }

  /** A slot for an inbound connection from `address`, or the refusal. */
  admitInbound(address: string): Slot | Refusal {
    const key = normalizeAddress(address);
    if (this.#total >= this.#limits.maxConnections) return { status: 503, reason: 'connections' };
    if ((this.#perAddress.get(key) ?? 0) >= this.#limits.maxConnectionsPerAddress) return { status: 429, reason: 'address' };
    if (this.#unauthenticated >= this.#limits.maxUnauthenticatedConnections) return { status: 503, reason: 'unauthenticated' };
    this.#total++;
    this.#unauthenticated++;
    this.#perAddress.set(key, (this.#perAddress.get(key) ?? 0) + 1);
    let authenticated = false;
    let released = false;
    const leaveAddress = () => {
      const left = (this.#perAddress.get(key) ?? 1) - 1;
      if (left === 0) this.#perAddress.delete(key);
      else this.#perAddress.set(key, left);
    };
    return {
      authenticated: () => {
        if (authenticated || released) return;
        authenticated = true;
        this.#unauthenticated--;
        leaveAddress();
      },
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        if (authenticated) return;
        this.#unauthenticated--;
        leaveAddress();
      },
    };
  }

  /** A slot for an outbound connection (a dial in progress counts too), or the refusal. */
  admitOutbound(): Slot | Refusal {
    if (this.#total >= this.#limits.maxConnections) return { status: 503, reason: 'connections' };
    this.#total++;
    let released = false;
    return {
      authenticated: () => {},
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
      },
    };
  }
}

/** True when admission refused. */
export function isRefusal(value: Slot | Refusal): value is Refusal {
  return 'status' in value;
}
