/**
 * One node's Transport on a MemoryNetwork: its listener, its endpoints and the same
 * admission, flow control and counters as the ws transport. The network (memory-transport.ts)
 * names transports and moves packets; this file owns what belongs to one node.
 */
import { CrmsyncError } from '../errors.js';
import { silentLogger } from '../log.js';
import type { Slot } from './admission.js';
import { commonLimits } from './connection-support.js';
import { InboundBudget } from './flow-control.js';
import { MemoryConnection } from './memory-connection.js';
import type { MemoryNetwork } from './memory-transport.js';
import type { Wire } from './memory-wire.js';
import { PeerGate, transportStats, type GateRefusal } from './peer-gate.js';
import { CloseCode, type Connection, type Transport, type TransportOptions, type TransportStats } from './transport.js';

/** A Transport on a MemoryNetwork; create it with network.transport(name). */
export class MemoryTransport implements Transport {
  readonly name: string;
  readonly options: TransportOptions;
  /** The key this transport presents as its certificate's; undefined: a plain (non-TLS) listener. */
  readonly publicKey: Uint8Array | undefined;
  readonly #network: MemoryNetwork;
  readonly #connections = new Set<MemoryConnection>();
  readonly #gate: PeerGate;
  readonly #budget: InboundBudget;
  #handler: ((connection: Connection) => void) | undefined;
  #nextId = 1;
  #closed = false;

  constructor(name: string, options: TransportOptions, publicKey: Uint8Array | undefined, network: MemoryNetwork) {
    const limits = commonLimits(options);
    this.name = name;
    this.options = options;
    this.publicKey = publicKey;
    this.#network = network;
    this.#gate = new PeerGate(options, limits, silentLogger());
    this.#budget = new InboundBudget(limits);
  }

  /** Accepts dials to `mem://name`; host and port are ignored. */
  listen(_address: { host: string; port: number }): Promise<{ url: string }> {
    if (this.#closed) return Promise.reject(new CrmsyncError('ERR_CLOSED', 'transport is closed'));
    this.#network.register(this);
    return Promise.resolve({ url: `mem://${this.name}` });
  }

  /** Registers the handler for accepted connections (the last one registered wins). */
  onConnection(handler: (connection: Connection) => void): void {
    this.#handler = handler;
  }

  /** Connects at once (also in manual mode); rejects like the ws transport would. */
  dial(url: string, options: { signal?: AbortSignal } = {}): Promise<Connection> {
    if (this.#closed) return Promise.reject(new CrmsyncError('ERR_CLOSED', 'transport is closed'));
    if (options.signal?.aborted) {
      return Promise.reject(new CrmsyncError('ERR_TIMEOUT', 'dial aborted', { cause: options.signal.reason }));
    }
    if (!url.startsWith('mem://')) return Promise.reject(new TypeError(`not a mem:// URL: ${url}`));
    try {
      return Promise.resolve(this.#network.connect(this, url.slice('mem://'.length)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Current counters. */
  stats(): TransportStats {
    return transportStats({ connections: this.#connections.size, gate: this.#gate, budget: this.#budget, pendingUpgrades: 0 });
  }

  /** Closes every connection (goingAway) and stops listening; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#network.forget(this);
    for (const connection of [...this.#connections]) connection.close(CloseCode.goingAway, 'transport closing');
    // Local onClose callbacks run in microtasks queued above; let them run first.
    await new Promise<void>((resolve) => queueMicrotask(resolve));
  }

  /** Network only: the open endpoints of this transport. */
  connections(): MemoryConnection[] {
    return [...this.#connections];
  }

  /** Network only: the node crashed; nothing of it may run any more. */
  markCrashed(): void {
    this.#closed = true;
    this.#network.forget(this);
  }

  /** Network only: a slot for a dial, or ERR_BUSY at maxConnections. */
  admitOutbound(): Slot {
    const slot = this.#gate.admitOutbound();
    if (!slot) throw new CrmsyncError('ERR_BUSY', 'at maxConnections; not dialing');
    return slot;
  }

  /** Network only: the checks of the ws upgrade handler (token, acceptPeer, admission), in the same order. */
  admitInbound(from: string, token: string | undefined, peerKey: Uint8Array | undefined): { ok: true; slot: Slot } | GateRefusal {
    return this.#gate.admitInbound({ remoteAddress: `mem://${from}`, peerKey, token, closing: this.#closed });
  }

  /** Network only: creates one endpoint owned by this transport. */
  createEndpoint(
    direction: 'inbound' | 'outbound', remoteAddress: string, wire: Wire, slot: Slot,
    identity: { peerKey: Uint8Array | undefined; channelBinding: Uint8Array | undefined },
  ): MemoryConnection {
    const connection = new MemoryConnection({
      id: `${this.name}#${this.#nextId++}`,
      direction,
      localName: this.name,
      remoteAddress,
      maxFrameBytes: this.options.maxFrameBytes,
      sendHighWaterBytes: this.options.sendHighWaterBytes,
      enqueue: wire.enqueue,
      onReadable: wire.kick,
      onClosed: (c) => this.#connections.delete(c),
      ...identity,
      budget: this.#budget,
      slot,
    });
    this.#connections.add(connection);
    return connection;
  }

  /** Network only: hands an inbound endpoint to the connection handler. */
  accept(connection: MemoryConnection): void {
    if (!this.#handler) {
      connection.close(CloseCode.internalError, 'not ready');
      return;
    }
    try {
      this.#handler(connection);
    } catch {
      connection.close(CloseCode.internalError, 'internal error'); // the owner's bug must not fail the dialer
    }
  }
}
