/**
 * An in-memory network of named transports for deterministic simulations.
 *
 * In 'auto' mode packets are delivered FIFO in a later macrotask (setImmediate), which
 * behaves like a fast reliable socket. In 'manual' mode every packet waits in
 * `inFlight` until the driver delivers, drops or duplicates it; the driver owns the
 * order, so a seeded driver replays the same run exactly. Manual mode uses no timers.
 */
import { CrmsyncError } from '../errors.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { CloseCode, type Connection, type Transport, type TransportOptions } from './transport.js';
import { MemoryConnection, type Packet } from './memory-connection.js';
import { Wire, type DeliveryMode, type InFlightItem } from './memory-wire.js';

export type { DeliveryMode, InFlightItem };

/** Close code both sides see when a node crashes (RFC 6455 1006, as ws reports a lost TCP link). */
export const CRASH_CLOSE_CODE = 1006;

const pairKey = (a: string, b: string): string => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);

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

  constructor(options: { mode?: DeliveryMode } = {}) {
    this.mode = options.mode ?? 'auto';
    this.#wire = new Wire(this.mode);
  }

  /** Creates the transport named `name` (its listen URL is `mem://name`). */
  transport(name: string, options: Partial<TransportOptions> = {}): MemoryTransport {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new TypeError(`invalid transport name ${JSON.stringify(name)}`);
    if (this.#transports.has(name)) throw new TypeError(`transport ${name} already exists`);
    const transport = new MemoryTransport(name, {
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes,
      sendHighWaterBytes: options.sendHighWaterBytes ?? DEFAULT_LIMITS.sendHighWaterBytes,
      heartbeatMs: options.heartbeatMs ?? DEFAULT_LIMITS.heartbeatMs,
      peerToken: options.peerToken,
    }, this);
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

  /** Internal (MemoryTransport): connects `from` to the transport listening as `target`. */
  connect(from: MemoryTransport, target: string): MemoryConnection {
    const listener = this.#listening.get(target);
    if (!listener) throw Object.assign(new Error(`nothing listens at mem://${target}`), { code: 'ECONNREFUSED' });
    if (this.#partitions.has(pairKey(from.name, target))) {
      throw new CrmsyncError('ERR_TIMEOUT', `dial to mem://${target} timed out (network partition)`);
    }
    if (listener.options.peerToken !== undefined && listener.options.peerToken !== from.options.peerToken) {
      throw new CrmsyncError('ERR_UNAUTHORIZED', 'the peer refused our token');
    }
    const outbound = from.createEndpoint('outbound', `mem://${target}`, this.#wire.enqueue);
    const inbound = listener.createEndpoint('inbound', `mem://${from.name}`, this.#wire.enqueue);
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

/** A Transport on a MemoryNetwork; create it with network.transport(name). */
export class MemoryTransport implements Transport {
  readonly name: string;
  readonly options: TransportOptions;
  readonly #network: MemoryNetwork;
  readonly #connections = new Set<MemoryConnection>();
  #handler: ((connection: Connection) => void) | undefined;
  #nextId = 1;
  #closed = false;

  constructor(name: string, options: TransportOptions, network: MemoryNetwork) {
    this.name = name;
    this.options = options;
    this.#network = network;
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

  /** Network only: creates one endpoint owned by this transport. */
  createEndpoint(direction: 'inbound' | 'outbound', remoteAddress: string, enqueue: (p: Packet) => void): MemoryConnection {
    const connection = new MemoryConnection({
      id: `${this.name}#${this.#nextId++}`,
      direction,
      localName: this.name,
      remoteAddress,
      maxFrameBytes: this.options.maxFrameBytes,
      sendHighWaterBytes: this.options.sendHighWaterBytes,
      enqueue,
      onClosed: (c) => this.#connections.delete(c),
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
