/**
 * The dashboard's live feed: one /v1/events stream per node, turned into one list of
 * changes in which each change (origin, seq) appears once, with the fields it touched
 * and the nodes it has reached so far. An event only says "record R changed on node N";
 * N's history of R says which changes N now holds, so the feed reads it per event.
 * A stream that breaks is resumed from the last localSeq seen, after a capped, growing pause.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HistoryEntry } from '../src/index.js';
import type { Member } from './cluster.js';
import { maxClock } from './dashboard-data.js';

/** One change as the browser shows it (no customer data beyond the name). */
export interface FeedItem {
  /** `origin:seq`, unique per change. */
  key: string;
  origin: string;
  seq: number;
  id: string;
  name: string;
  /** When the change was made at its origin (ms). */
  time: number;
  /** Field paths the change touched. */
  fields: string[];
  /** Nodes known to hold the change, in cast order. */
  reached: string[];
}

/** Changes kept for browsers that connect later. */
export const BACKLOG = 200;
/** Pause before resuming a broken stream: doubles from the first value up to the cap. */
const RETRY_FIRST_MS = 250;
const RETRY_CAP_MS = 5000;

/**
 * Which changes exist and which nodes hold them, from histories (pure; no I/O).
 *
 * Invariants:
 *  1. A change at or below `floor[origin]` never becomes an item: it predates the feed,
 *     or it was evicted (so an evicted change does not come back as new).
 *  2. At most `max` items are kept; the oldest is evicted first.
 */
export class FeedLedger {
  private readonly items = new Map<string, FeedItem>();
  private readonly rank: Map<string, number>;

  /** `order`: node names in cast order; `floor`: per origin, the last seq that is not news. */
  constructor(order: string[], private readonly floor: Record<string, number>, private readonly max = BACKLOG) {
    this.rank = new Map(order.map((n, i) => [n, i]));
  }

  /** Records that `node` holds every change in `history` (record `id`); returns the items that are new or changed. */
  observe(node: string, id: string, name: string, history: HistoryEntry[]): FeedItem[] {
    const changed = new Map<string, FeedItem>();
    for (const entry of history) {
      if (entry.seq <= (this.floor[entry.node] ?? 0)) continue; // invariant 1
      const key = `${entry.node}:${entry.seq}`;
      let item = this.items.get(key);
      if (!item) {
        item = { key, origin: entry.node, seq: entry.seq, id, name, time: entry.at, fields: [...entry.fields], reached: [] };
        this.items.set(key, item);
        changed.set(key, item);
      }
      if (!item.reached.includes(node)) {
        item.reached = [...item.reached, node].sort((a, b) => (this.rank.get(a) ?? Infinity) - (this.rank.get(b) ?? Infinity));
        changed.set(key, item);
      }
    }
    for (const [key, item] of this.items) {
      if (this.items.size <= this.max) break; // invariant 2
      this.floor[item.origin] = Math.max(this.floor[item.origin] ?? 0, item.seq);
      this.items.delete(key);
      changed.delete(key);
    }
    return [...changed.values()].map((i) => ({ ...i }));
  }

  /** Every kept item, oldest first. */
  list(): FeedItem[] {
    return [...this.items.values()].map((i) => ({ ...i }));
  }
}

/** The merged change feed of every node. */
export class Feed {
  private readonly listeners = new Set<(item: FeedItem) => void>();
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private ledger: FeedLedger | undefined;

  constructor(private readonly members: Member[]) {}

  /** Starts following every node from its current position (earlier changes are not news). */
  async start(): Promise<void> {
    const statuses = await Promise.all(this.members.map((m) => m.process.client.status()));
    this.ledger = new FeedLedger(this.members.map((m) => m.spec.name), maxClock(statuses.map((s) => s.clock)));
    this.members.forEach((member, i) => this.loops.push(this.follow(member, statuses[i]!.lastLocalSeq)));
  }

  /** The kept items, oldest first. */
  backlog(): FeedItem[] {
    return this.ledger?.list() ?? [];
  }

  /** Calls `listener` for every new or updated item; returns the unsubscribe function. */
  subscribe(listener: (item: FeedItem) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops every stream. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  private async follow(member: Member, since: number): Promise<void> {
    const signal = this.abort.signal;
    const client = member.process.client;
    let after = since;
    let pause = RETRY_FIRST_MS;
    while (!signal.aborted) {
      try {
        for await (const event of client.events(after, signal)) {
          pause = RETRY_FIRST_MS;
          // Read before moving `after`: should the read fail, the resumed stream repeats the event.
          const history = await client.history(event.id);
          after = Math.max(after, event.localSeq);
          for (const item of this.ledger!.observe(member.spec.name, event.id, event.customer?.name ?? '', history)) {
            for (const listener of this.listeners) listener(item);
          }
        }
      } catch {
        // The node restarted, is stopping, or the stream broke: resume below.
      }
      if (signal.aborted) return;
      await sleep(pause, undefined, { signal }).catch(() => undefined);
      pause = Math.min(pause * 2, RETRY_CAP_MS);
    }
  }
}
