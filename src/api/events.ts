/**
 * The server-sent event stream of record changes (docs/http-api.md, "Event stream").
 * A stream first replays the node's change log after the client's last event id, then
 * forwards live changes; the log is the source of truth, live events only save reads.
 *
 * Invariants of a ChangeStream:
 *  1. It subscribes to live changes BEFORE reading the log, so no change falls between
 *     the replay and the live phase.
 *  2. Live events seen while replaying are held and, once the log is read to its end,
 *     only those with localSeq > the last replayed one are sent: no duplicates.
 *  3. Held events are bounded: on overflow they are dropped, which is safe because the
 *     replay keeps reading the log until a read returns nothing, and every dropped
 *     event's entries were already durable, so that read covers them.
 *  4. Event ids are sent in increasing order (live events of one commit are sorted).
 *  5. After close(), nothing is written, no timer runs and the listener is removed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CrmNode, ChangeFeedEntry, Logger, RecordChangeEvent, RecordView } from '../index.js';

/** Keep-alive comment interval (ms): keeps proxies and idle timeouts from closing the stream. */
export const KEEP_ALIVE_MS = 15_000;
/** Bytes a stream may have waiting in its socket buffer before a slow client is cut off. */
export const MAX_STREAM_BUFFER_BYTES = 1024 * 1024;
/** Change-log entries read per replay step (bounds one step's reads and memory). */
export const REPLAY_PAGE_SIZE = 256;
/** Live events held while replaying before they are dropped in favour of the log (invariant 3). */
export const MAX_HELD_EVENTS = 10_000;

/** Settings of the event streams (tests shorten the keep-alive). */
export interface EventStreamOptions {
  keepAliveMs?: number;
  maxBufferedBytes?: number;
  replayPageSize?: number;
}

type StreamState = 'replaying' | 'live' | 'closed';

/** The event streams of one server. */
export class EventStreams {
  readonly #streams = new Set<ChangeStream>();
  readonly #node: CrmNode;
  readonly #logger: Logger;
  readonly #options: EventStreamOptions;

  constructor(node: CrmNode, logger: Logger, options: EventStreamOptions = {}) {
    this.#node = node;
    this.#logger = logger;
    this.#options = options;
  }

  /** Takes over the response and streams changes after `since` (only live ones if undefined). */
  open(req: IncomingMessage, res: ServerResponse, since: number | undefined): void {
    const stream = new ChangeStream(this.#node, res, this.#logger, this.#options, () => this.#streams.delete(stream));
    this.#streams.add(stream);
    req.socket.setNoDelay(true);
    stream.start(since);
  }

  /** Ends every stream (server shutdown); clients reconnect with Last-Event-ID. */
  closeAll(): void {
    for (const stream of [...this.#streams]) stream.close('server closing');
  }

  /** Streams currently open. */
  get size(): number {
    return this.#streams.size;
  }
}

class ChangeStream {
  #state: StreamState = 'replaying';
  #held: RecordChangeEvent[] = [];
  #queued: RecordChangeEvent[] = [];
  #unsubscribe: (() => void) | undefined;
  #keepAlive: NodeJS.Timeout | undefined;
  #sent = 0;

  readonly #node: CrmNode;
  readonly #res: ServerResponse;
  readonly #logger: Logger;
  readonly #options: EventStreamOptions;
  readonly #onClosed: () => void;

  constructor(node: CrmNode, res: ServerResponse, logger: Logger, options: EventStreamOptions, onClosed: () => void) {
    this.#node = node;
    this.#res = res;
    this.#logger = logger;
    this.#options = options;
    this.#onClosed = onClosed;
  }

  start(since: number | undefined): void {
    this.#res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.#res.flushHeaders();
    this.#res.on('close', () => this.close('client closed'));
    this.#unsubscribe = this.#node.onChange((event) => this.#onLive(event)); // invariant 1
    this.#keepAlive = setInterval(() => this.#write(': keep-alive\n\n'), this.#options.keepAliveMs ?? KEEP_ALIVE_MS);
    this.#keepAlive.unref();
    this.#logger.debug({ replay: since !== undefined }, 'event stream opened');
    if (since === undefined) {
      this.#goLive([], 0);
      return;
    }
    this.#replay(since).catch((err: unknown) => {
      this.#logger.warn({ code: (err as { code?: unknown } | null)?.code }, 'event stream replay failed');
      this.close('replay failed');
    });
  }

  close(reason: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed'; // invariant 5
    this.#unsubscribe?.();
    clearInterval(this.#keepAlive);
    this.#held = [];
    this.#queued = [];
    if (!this.#res.writableEnded) this.#res.end();
    this.#logger.debug({ reason, sent: this.#sent }, 'event stream closed');
    this.#onClosed();
  }

  // A getter, so TypeScript does not carry a narrowed `state` across awaits.
  get #closed(): boolean {
    return this.#state === 'closed';
  }

  #onLive(event: RecordChangeEvent): void {
    if (this.#state === 'replaying') {
      this.#held.push(event);
      if (this.#held.length > MAX_HELD_EVENTS) this.#held = []; // invariant 3
      return;
    }
    if (this.#state !== 'live') return;
    this.#queued.push(event);
    // One commit emits its events synchronously; flushing in a microtask sends them sorted.
    if (this.#queued.length === 1) queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    const batch = this.#queued.sort((a, b) => a.localSeq - b.localSeq); // invariant 4
    this.#queued = [];
    for (const event of batch) {
      if (this.#state !== 'live') return;
      if (event.evicted) this.#sendEvicted(event.localSeq, event.id, event.source, event.origin, event.time);
      else this.#send(event.localSeq, event.id, event.source, event.origin, event.time, event.view);
    }
  }

  async #replay(since: number): Promise<void> {
    let after = since;
    // Positions after `since` were truncated (README "Log truncation"): the client cannot
    // catch up from the log and must reload its records; the stream goes on from the start.
    const { logStart } = this.#node.exportFloors();
    if (since < logStart - 1) {
      const message = `this node's change log before position ${logStart} was truncated: reload every record (GET /v1/customers), then keep reading this stream`;
      if (!this.#write(`id: ${logStart - 1}\nevent: reset\ndata: ${JSON.stringify({ logStart, message })}\n\n`)) await this.#drained();
      after = logStart - 1;
    }
    for (;;) {
      const page = await this.#node.changesSince(after, this.#options.replayPageSize ?? REPLAY_PAGE_SIZE);
      if (this.#closed || page.length === 0) break;
      for (const entry of newestPerRecord(page)) {
        const view = await this.#node.records.get(entry.id);
        if (this.#closed) return;
        const source = entry.origin === this.#node.id ? 'local' : 'remote';
        if (!view) {
          // Its newest entry here is the one that moved it out of this node's holding.
          if (entry.evicted && !this.#sendEvicted(entry.localSeq, entry.id, source, entry.origin, entry.time)) await this.#drained();
          continue;
        }
        if (!this.#send(entry.localSeq, entry.id, source, entry.origin, entry.time, view)) await this.#drained();
      }
      after = page[page.length - 1]!.localSeq;
    }
    if (this.#state === 'replaying') this.#goLive(this.#held, after);
  }

  #goLive(held: RecordChangeEvent[], lastReplayed: number): void {
    this.#held = [];
    this.#state = 'live';
    for (const event of held) if (event.localSeq > lastReplayed) this.#onLive(event); // invariant 2
  }

  /** Writes one change event; false when the socket buffer is full. */
  #send(localSeq: number, id: string, source: string, origin: string, time: number, customer: RecordView): boolean {
    const data = JSON.stringify({ localSeq, id, source, origin, time, customer });
    this.#sent++;
    return this.#write(`id: ${localSeq}\nevent: change\ndata: ${data}\n\n`);
  }

  /** Writes one eviction event: the record left this node's holding (it is not deleted elsewhere). */
  #sendEvicted(localSeq: number, id: string, source: string, origin: string, time: number): boolean {
    const data = JSON.stringify({ localSeq, id, source, origin, time });
    this.#sent++;
    return this.#write(`id: ${localSeq}\nevent: evicted\ndata: ${data}\n\n`);
  }

  #write(chunk: string): boolean {
    if (this.#state === 'closed') return false;
    const ok = this.#res.write(chunk);
    // While replaying the stream waits for drain; a live stream cannot wait (the node
    // does not pause for it), so a client that falls too far behind is cut off.
    if (!ok && this.#state === 'live' && this.#res.writableLength > (this.#options.maxBufferedBytes ?? MAX_STREAM_BUFFER_BYTES)) {
      this.close('client too slow');
    }
    return ok;
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#res.off('drain', done);
        this.#res.off('close', done);
        resolve();
      };
      this.#res.on('drain', done);
      this.#res.on('close', done);
    });
  }
}

/** The page's entries with only each record's newest one kept, in log order. */
function newestPerRecord(page: ChangeFeedEntry[]): ChangeFeedEntry[] {
  const newest = new Map<string, ChangeFeedEntry>();
  for (const entry of page) {
    newest.delete(entry.id); // re-inserting moves the record to its newest position
    newest.set(entry.id, entry);
  }
  return [...newest.values()];
}
