/**
 * An in-memory network of named transports for deterministic simulations.
 *
 * In 'auto' mode packets are delivered FIFO in a later macrotask (setImmediate), which
 * behaves like a fast reliable socket. In 'manual' mode every packet waits in
 * `inFlight` until the driver delivers, drops or duplicates it; the driver owns the
 * order, so a seeded driver replays the same run exactly. Manual mode uses no timers.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { CrmsyncError } from '../errors.js';
import { DEFAULT_LIMITS } from '../limits.js';
import type { MemoryConnection } from './memory-connection.js';
import { MemoryTransport } from './memory-node.js';
import { Wire, type DeliveryMode, type InFlightItem } from './memory-wire.js';
import { ed25519KeyOf } from './tls-identity.js';
import { CloseCode, trustsServer, type TransportOptions } from './transport.js';

export type { DeliveryMode, InFlightItem };
export { MemoryTransport };

/** Close code both sides see when a node crashes (RFC 6455 1006, as ws reports a lost TCP link). */
export const CRASH_CLOSE_CODE = 1006;

const pairKey = (a: string, b: string): string => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);

/** Options of a memory transport: TransportOptions (all optional) and a certificate key without PEMs. */
export interface MemoryTransportOptions extends Partial<TransportOptions> {
  /**
   * The raw Ed25519 key this transport presents as if in its TLS certificate (an
   * alternative to `tls.cert`, whose key is used otherwise). A transport with either
   * listens "over TLS": its connections carry a channel binding, and each side sees the
   * other's key as peerKey. `tls.ca` is not simulated: there is no chain to verify here.
   */
  publicKey?: Uint8Array | undefined;
}

/** A deterministic stand-in for the TLS exporter: the same on both ends, different per connection. */
function memoryChannelBinding(link: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`crmsync memory channel binding\u0000${link}`).digest());
}

/** The error a dialer sees for a refusal with HTTP-like `status`. */
function refusalError(status: 401 | 403 | 429 | 503): CrmsyncError {
  return status === 401 || status === 403
    ? new CrmsyncError('ERR_UNAUTHORIZED', `the peer refused us (${status})`)
    : new CrmsyncError('ERR_BUSY', `the peer is at capacity (${status})`);
}

/**
 * A simulated network: names transports, connects dials, and lets a test cut links
 * (partition), crash nodes (closeAll) and, in manual mode, steer every packet.
 *
 * Invariants:
 * 1. At most one open transport per name; a crashed or closed name can be reused.
 * 2. Connections between partitioned names are closed, and no new one can be made.
 * 3. Manual mode delivers nothing on its own; every packet leaves `inFlight` only through
 *    deliver(), drop(), or a partition/crash that kills its connection.
 */
export class MemoryNetwork {
  /** The delivery mode chosen at construction. */
  readonly mode: DeliveryMode;
  readonly #transports = new Map<string, MemoryTransport>();
  readonly #listening = new Map<string, MemoryTransport>();
  readonly #partitions = new Set<string>();
  readonly #wire: Wire;
  #links = 0;

  constructor(options: { mode?: DeliveryMode } = {}) {
    this.mode = options.mode ?? 'auto';
    this.#wire = new Wire(this.mode);
  }

  /** Creates the transport named `name` (its listen URL is `mem://name`). */
  transport(name: string, options: MemoryTransportOptions = {}): MemoryTransport {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new TypeError(`invalid transport name ${JSON.stringify(name)}`);
    if (this.#transports.has(name)) throw new TypeError(`transport ${name} already exists`);
    if (options.publicKey && options.tls) throw new TypeError('give publicKey or tls, not both');
    const transport = new MemoryTransport(name, {
      ...options,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes,
      sendHighWaterBytes: options.sendHighWaterBytes ?? DEFAULT_LIMITS.sendHighWaterBytes,
      heartbeatMs: options.heartbeatMs ?? DEFAULT_LIMITS.heartbeatMs,
    }, options.publicKey ?? (options.tls ? ed25519KeyOf(new X509Certificate(options.tls.cert)) : undefined), this);
    this.#transports.set(name, transport);
    return transport;
  }

  /** Packets waiting for the driver, oldest first (manual mode; empty in auto mode). */
  get inFlight(): readonly InFlightItem[] {
    return this.mode === 'manual' ? this.#wire.items() : [];
  }

  /** Number of packets waiting (manual mode) or queued for the next flush (auto mode). */
  get pendingCount(): number {
    return this.#wire.length;
  }

  /** Delivers the packet at `index` now, synchronously (manual mode). */
  deliver(index: number): void {
    this.#wire.deliver(index);
  }

  /** Loses the frame at `index` (manual mode). Closes cannot be dropped: use partition or closeAll. */
  drop(index: number): void {
    this.#wire.drop(index);
  }

  /** Appends a copy of the frame at `index` to the end of `inFlight` (manual mode). */
  duplicate(index: number): void {
    this.#wire.duplicate(index);
  }

  /** Delivers oldest-first until nothing is in flight; throws past `maxSteps` (a livelock). */
  deliverAll(maxSteps = 1_000_000): number {
    let steps = 0;
    while (this.#wire.length > 0) {
      if (++steps > maxSteps) throw new Error(`deliverAll: still busy after ${maxSteps} deliveries`);
      this.#wire.deliver(0);
    }
    return steps;
  }

  /** Cuts the link between `a` and `b`: their connections close on both sides, dials fail. */
  partition(a: string, b: string): void {
    this.#partitions.add(pairKey(a, b));
    for (const transport of [this.#transports.get(a), this.#transports.get(b)]) {
      for (const connection of transport?.connections() ?? []) {
        const other = connection.peer.localName;
        if ((connection.localName === a && other === b) || (connection.localName === b && other === a)) {
          this.#kill(connection, CloseCode.heartbeatTimeout, 'network partition');
        }
      }
    }
  }

  /** Restores the link between `a` and `b`; existing connections stay closed. */
  heal(a: string, b: string): void {
    this.#partitions.delete(pairKey(a, b));
  }

  /** Crashes node `name`: every connection closes with CRASH_CLOSE_CODE, its listener and transport are gone. */
  closeAll(name: string): void {
    const transport = this.#transports.get(name);
    if (!transport) return;
    for (const connection of transport.connections()) this.#kill(connection, CRASH_CLOSE_CODE, 'connection lost');
    transport.markCrashed();
  }

  /** Internal (MemoryTransport): starts accepting dials for `transport`. */
  register(transport: MemoryTransport): void {
    this.#listening.set(transport.name, transport);
  }

  /** Internal (MemoryTransport): the transport is gone; its name may be reused. */
  forget(transport: MemoryTransport): void {
    if (this.#listening.get(transport.name) === transport) this.#listening.delete(transport.name);
    if (this.#transports.get(transport.name) === transport) this.#transports.delete(transport.name);
  }

  /** Internal (MemoryTransport): connects `from` to the transport listening as `target`, checking what ws checks. */
  connect(from: MemoryTransport, target: string): MemoryConnection {
    const listener = this.#listening.get(target);
    if (!listener) throw Object.assign(new Error(`nothing listens at mem://${target}`), { code: 'ECONNREFUSED' });
    if (this.#partitions.has(pairKey(from.name, target))) {
      throw new CrmsyncError('ERR_TIMEOUT', `dial to mem://${target} timed out (network partition)`);
    }
    const secure = listener.publicKey !== undefined;
    if (from.options.acceptServer && !from.options.acceptServer(listener.publicKey)) {
      throw new CrmsyncError('ERR_UNAUTHORIZED', 'the server was refused by acceptServer');
    }
    // As over ws: the token goes to a TLS server only when trusted (trustServer, else acceptServer; memory links count as loopback).
    const token = secure && !trustsServer(from.options, listener.publicKey) ? undefined : from.options.peerToken;
    const outboundSlot = from.admitOutbound();
    const admitted = listener.admitInbound(from.name, token, secure ? from.publicKey : undefined);
    if (!admitted.ok) {
      outboundSlot.release();
      throw refusalError(admitted.status);
    }
    const inboundSlot = admitted.slot;
    const binding = secure ? memoryChannelBinding(`${from.name}>${target}#${this.#links++}`) : undefined;
    const outbound = from.createEndpoint('outbound', `mem://${target}`, this.#wire, outboundSlot, { peerKey: secure ? listener.publicKey : undefined, channelBinding: binding });
    const inbound = listener.createEndpoint('inbound', `mem://${from.name}`, this.#wire, inboundSlot, { peerKey: secure ? from.publicKey : undefined, channelBinding: binding });
    outbound.peer = inbound;
    inbound.peer = outbound;
    listener.accept(inbound);
    return outbound;
  }

  /** Removes a connection's packets from the wire and closes both endpoints without a close packet. */
  #kill(connection: MemoryConnection, code: number, reason: string): void {
    this.#wire.purge(connection);
    connection.sever(code, reason);
    connection.peer.sever(code, reason);
  }
}
