/**
 * A slow link for the bench: a TCP proxy on 127.0.0.1 that passes each direction through
 * a bottleneck of `bitsPerSecond` and delays it by half of `rttMs`, the way a laptop's
 * hotel or mobile link does. Each direction is serialised as a router's queue is: a
 * piece leaves the bottleneck `size / rate` after the one before it, and arrives half a
 * round trip later. When a direction holds more than `QUEUE_BYTES` (a router's buffer),
 * its source socket is paused, so TCP's own flow control reaches the sender.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** A link's rate and round trip. */
export interface LinkSpec {
  bitsPerSecond: number;
  rttMs: number;
}

/** Bytes a direction queues before its source is paused (about 0.2 s at 10 Mbit/s). */
export const QUEUE_BYTES = 256 * 1024;
/** Largest piece sent at once: a burst no longer than this (an Ethernet frame's order of magnitude, times ten). */
const PIECE_BYTES = 16 * 1024;

/** `10mbit,40ms` (also kbit, gbit; the round trip in ms) as a LinkSpec. */
export function parseLink(text: string): LinkSpec {
  const match = /^(\d+(?:\.\d+)?)(k|m|g)bit,(\d+(?:\.\d+)?)ms$/i.exec(text.trim());
  if (!match) throw new TypeError(`--link: ${text} is not a rate and a round trip, e.g. 10mbit,40ms`);
  const scale = { k: 1e3, m: 1e6, g: 1e9 }[match[2]!.toLowerCase() as 'k' | 'm' | 'g'];
  const spec = { bitsPerSecond: Number(match[1]) * scale, rttMs: Number(match[3]) };
  if (!(spec.bitsPerSecond >= 1e4)) throw new TypeError(`--link: ${text}: the rate must be at least 10kbit`);
  return spec;
}

/** One direction of one connection: a queue that releases each piece when the link would deliver it. */
class Direction {
  /** Pieces in order; `end` passes the source's end on, `reset` an abrupt close. */
  #queue: { at: number; piece: Buffer | 'end' | 'reset' }[] = [];
  #closing = false;
  #queued = 0;
  #busyUntil = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly from: Socket, private readonly to: Socket, private readonly spec: LinkSpec, private readonly stats: LinkStats, private readonly way: 'up' | 'down') {
    from.on('data', (chunk: Buffer) => {
      for (let at = 0; at < chunk.length; at += PIECE_BYTES) this.#push(chunk.subarray(at, at + PIECE_BYTES));
      stats.maxQueued = Math.max(stats.maxQueued, this.#queued);
      if (this.#queued > QUEUE_BYTES) from.pause();
    });
    // An end travels behind the data, as a FIN does; so does a reset (the data before it still arrives).
    from.on('end', () => this.#close('end'));
    from.on('close', () => this.#close('reset'));
    from.on('error', () => undefined); // 'close' follows
  }

  #close(how: 'end' | 'reset'): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#enqueue(how, this.#deliveryAt(0));
  }

  #deliveryAt(bytes: number): number {
    const start = Math.max(performance.now(), this.#busyUntil);
    this.#busyUntil = start + (bytes * 8 * 1000) / this.spec.bitsPerSecond;
    return this.#busyUntil + this.spec.rttMs / 2;
  }

  #push(piece: Buffer): void {
    this.#queued += piece.length;
    this.#enqueue(piece, this.#deliveryAt(piece.length));
  }

  #enqueue(piece: Buffer | 'end' | 'reset', at: number): void {
    this.#queue.push({ at, piece });
    if (this.#queue.length === 1) this.#arm();
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const head = this.#queue[0];
    if (head) this.#timer = setTimeout(() => this.#pump(), Math.max(0, head.at - performance.now()));
  }

  /** Delivers every piece that is due, in order; one timer per direction keeps them in order. */
  #pump(): void {
    const now = performance.now();
    while (this.#queue.length > 0 && this.#queue[0]!.at <= now) {
      const { piece } = this.#queue.shift()!;
      if (piece === 'end') this.to.end();
      else if (piece === 'reset') this.to.destroy();
      if (typeof piece === 'string') continue;
      this.#queued -= piece.length;
      if (this.to.destroyed) continue;
      this.stats[this.way] += piece.length;
      this.to.write(piece);
    }
    if (this.from.isPaused() && this.#queued <= QUEUE_BYTES / 2) this.from.resume();
    this.#arm();
  }
}

/** What crossed a link: bytes delivered `down` (from the target to the dialler) and `up`; the most one direction held queued. */
export interface LinkStats {
  down: number;
  up: number;
  maxQueued: number;
}

/** A running slow link: dial `port` on 127.0.0.1 to reach the target through it. */
export interface SlowLink {
  port: number;
  bytes: LinkStats;
  close(): Promise<void>;
}

/** Starts a slow link in front of `targetPort` on 127.0.0.1. */
export async function startSlowLink(targetPort: number, spec: LinkSpec): Promise<SlowLink> {
  const bytes: LinkStats = { down: 0, up: 0, maxQueued: 0 };
  const sockets = new Set<Socket>();
  // Half-open allowed: an end travels through the queue behind the data (Direction), not at once.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      sockets.add(socket);
    }
    // Each direction passes its source's end or reset on once the data before it is delivered.
    new Direction(client, upstream, spec, bytes, 'up');
    new Direction(upstream, client, spec, bytes, 'down');
    for (const socket of [client, upstream]) socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    bytes,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
