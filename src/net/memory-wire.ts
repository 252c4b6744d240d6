/**
 * The packet queue of a MemoryNetwork: where frames and closes wait, and the only
 * code that moves them. Naming, partitions and crashes live in MemoryNetwork.
 */
import type { MemoryConnection, Packet } from './memory-connection.js';

/** How packets move: on their own ('auto') or only when the driver says so ('manual'). */
export type DeliveryMode = 'auto' | 'manual';

/** A read-only view of one packet waiting in a manual network. */
export interface InFlightItem {
  readonly kind: 'frame' | 'close';
  /** Name of the sending transport. */
  readonly from: string;
  /** Name of the receiving transport. */
  readonly to: string;
  /** Id of the sending endpoint. */
  readonly connectionId: string;
  /** Frame size in bytes (0 for a close). */
  readonly bytes: number;
  /** The frame itself (do not mutate); undefined for a close. */
  readonly frame: Uint8Array | undefined;
  /** The close code; undefined for a frame. */
  readonly code: number | undefined;
  /** The receiver's flow control pauses reading; a driver may honour it (auto mode does). */
  readonly blocked: boolean;
}

/**
 * The queue of packets between endpoints, and the delivery, drop and duplicate operations.
 *
 * Invariants:
 * 1. Every frame on the wire is counted in its sender's bufferedAmount until it is
 *    delivered, dropped or purged.
 * 2. Auto mode delivers FIFO in a later macrotask; manual mode moves nothing on its own
 *    and uses no timers.
 * 3. Auto mode holds every packet to an endpoint that is not readable (flow control),
 *    and every later packet to it, in order, until it reads again.
 */
export class Wire {
  readonly mode: DeliveryMode;
  #queue: Packet[] = [];
  #flushScheduled = false;

  constructor(mode: DeliveryMode) {
    this.mode = mode;
  }

  /** Snapshot of the waiting packets, oldest first. */
  items(): InFlightItem[] {
    return this.#queue.map((p) => ({
      kind: p.kind,
      from: p.from.localName,
      to: p.to.localName,
      connectionId: p.from.id,
      bytes: p.kind === 'frame' ? p.frame.byteLength : 0,
      frame: p.kind === 'frame' ? p.frame : undefined,
      code: p.kind === 'close' ? p.code : undefined,
      blocked: !p.to.readable,
    }));
  }

  /** Number of waiting packets. */
  get length(): number {
    return this.#queue.length;
  }

  /** Puts a packet on the wire (endpoints call this through their settings). */
  readonly enqueue = (packet: Packet): void => {
    this.#queue.push(packet);
    this.kick();
  };

  /** Schedules a flush in auto mode (an endpoint may read again). */
  readonly kick = (): void => {
    if (this.mode === 'auto' && !this.#flushScheduled && this.#queue.length > 0) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
  };

  /** Delivers the packet at `index` now, synchronously. */
  deliver(index: number): void {
    const packet = this.#take(index);
    if (packet.kind === 'frame') packet.from.adjustInFlight(-packet.frame.byteLength);
    packet.to.receive(packet);
  }

  /** Loses the frame at `index`. */
  drop(index: number): void {
    if (this.#at(index).kind !== 'frame') throw new TypeError('only frames can be dropped (use partition or closeAll)');
    const packet = this.#take(index) as Extract<Packet, { kind: 'frame' }>;
    packet.from.adjustInFlight(-packet.frame.byteLength);
  }

  /** Appends a copy of the frame at `index`. */
  duplicate(index: number): void {
    const packet = this.#at(index);
    if (packet.kind !== 'frame') throw new TypeError('only frames can be duplicated');
    packet.from.adjustInFlight(packet.frame.byteLength);
    this.#queue.push({ ...packet, frame: packet.frame.slice() });
  }

  /** Removes every packet of the connection between `a` and its peer. */
  purge(a: MemoryConnection): void {
    const b = a.peer;
    this.#queue = this.#queue.filter((p) => {
      const theirs = p.from === a || p.from === b;
      if (theirs && p.kind === 'frame') p.from.adjustInFlight(-p.frame.byteLength);
      return !theirs;
    });
  }

  // Delivers the packets queued so far; packets sent by handlers meanwhile wait for the
  // next macrotask, so two chatty peers cannot starve timers and I/O.
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    const held: Packet[] = [];
    const holding = new Set<MemoryConnection>();
    for (const packet of batch) {
      if (holding.has(packet.to) || !packet.to.readable) { // invariant 3
        holding.add(packet.to);
        held.push(packet);
        continue;
      }
      if (packet.kind === 'frame') packet.from.adjustInFlight(-packet.frame.byteLength);
      packet.to.receive(packet);
    }
    // Held packets go before those sent during this flush, keeping each link FIFO.
    this.#queue = [...held, ...this.#queue];
    // Packets sent meanwhile, or held for an endpoint that resumed during this flush
    // (its kick() found the queue empty), need another flush.
    if (this.#queue.some((p) => p.to.readable)) this.kick();
  };

  #at(index: number): Packet {
    if (this.mode !== 'manual') throw new TypeError('deliver/drop/duplicate need a manual network');
    const packet = Number.isInteger(index) ? this.#queue[index] : undefined;
    if (!packet) throw new RangeError(`no packet in flight at index ${String(index)}`);
    return packet;
  }

  #take(index: number): Packet {
    this.#at(index);
    return this.#queue.splice(index, 1)[0] as Packet;
  }
}
