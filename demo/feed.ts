/**
 * The dashboard's live feed: one /v1/events stream per node, merged into one list of
 * recent changes that browsers receive over a single SSE connection. A stream that
 * breaks is resumed from the last localSeq seen, after a capped, growing pause.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangeEvent } from './client.js';
import type { Member } from './cluster.js';

/** One change as the browser shows it (no customer data beyond the name). */
export interface FeedItem {
  node: string;
  localSeq: number;
  id: string;
  name: string;
  source: 'local' | 'remote';
  origin: string;
  /** When the change was made at its origin (ms). */
  time: number;
  /** When this node's stream delivered it (ms). */
  receivedAt: number;
}

/** Changes kept for browsers that connect later. */
const BACKLOG = 200;
/** Pause before resuming a broken stream: doubles from the first value up to the cap. */
const RETRY_FIRST_MS = 250;
const RETRY_CAP_MS = 5000;

/** The merged change feed of every node. */
export class Feed {
  private readonly recent: FeedItem[] = [];
  private readonly listeners = new Set<(item: FeedItem) => void>();
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly members: Member[]) {}

  /** Starts following every node from its current position (earlier changes are not replayed). */
  async start(): Promise<void> {
    for (const member of this.members) {
      const since = (await member.process.client.status()).lastLocalSeq;
      this.loops.push(this.follow(member, since));
    }
  }

  /** The most recent items, oldest first. */
  backlog(): FeedItem[] {
    return [...this.recent];
  }

  /** Calls `listener` for every new item; returns the unsubscribe function. */
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
    let after = since;
    let pause = RETRY_FIRST_MS;
    while (!signal.aborted) {
      try {
        for await (const event of member.process.client.events(after, signal)) {
          after = Math.max(after, event.localSeq);
          pause = RETRY_FIRST_MS;
          this.push(toItem(member.spec.name, event));
        }
      } catch {
        // The node restarted, is stopping, or the stream broke: resume below.
      }
      if (signal.aborted) return;
      await sleep(pause, undefined, { signal }).catch(() => undefined);
      pause = Math.min(pause * 2, RETRY_CAP_MS);
    }
  }

  private push(item: FeedItem): void {
    this.recent.push(item);
    if (this.recent.length > BACKLOG) this.recent.splice(0, this.recent.length - BACKLOG);
    for (const listener of this.listeners) listener(item);
  }
}

function toItem(node: string, e: ChangeEvent): FeedItem {
  return {
    node, localSeq: e.localSeq, id: e.id, name: e.customer?.name ?? '', source: e.source, origin: e.origin, time: e.time, receivedAt: Date.now(),
  };
}
