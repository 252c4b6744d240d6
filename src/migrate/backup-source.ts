/**
 * What a backup reads from a running node, and how it reads a log that the node may
 * truncate meanwhile: the floors together with the first page of entries after them
 * (retried when a truncation slips in between), then the entries, each origin's checked
 * to run on from its floor without a gap, as the reader will check them. A truncation
 * that overtakes the backup fails it (a file that would not verify is never written).
 */
import { CrmsyncError, type BaseFloor, type NodeStatus, type RecordId, type StoredEntry } from '../index.js';
import type { BackupFloors } from './backup-document.js';
import { payloadFrame, type BackupHeader, type ChainDigest } from './backup-format.js';

/** Log entries read from the node per call. Bounds memory per page. */
export const BACKUP_PAGE_ENTRIES = 1000;
/** Record documents read from the node per call (the node caps it at its batchChanges). Bounds memory per page. */
export const BACKUP_PAGE_DOCUMENTS = 100;
/** Reads of the floors and the first page of entries before a backup gives up on a log being truncated under it. */
const START_ATTEMPTS = 5;

/** What a backup reads from a node (a CrmNode satisfies it). */
export interface BackupSource {
  status(): Promise<Pick<NodeStatus, 'nodeId' | 'clock' | 'lastLocalSeq'>>;
  exportEntries(after: number, limit: number): Promise<StoredEntry[]>;
  exportFloors(): { logStart: number; floors: BaseFloor[] };
  exportDocuments(after: string | undefined, limit: number): Promise<{ id: RecordId; doc: Uint8Array }[]>;
  exportTrust(): unknown[];
  readonly trust: { view(): { founder: string } };
}

/** Items gathered into frames of about `target` bytes (an item larger than that gets a frame of its own). */
export class Blocks {
  #pending: Uint8Array[] = [];
  #bytes = 0;

  constructor(private readonly kind: number, private readonly target: number, private readonly chain: ChainDigest, private readonly onFrame: (items: number) => void) {}

  /** Adds an item; returns the frame to write first when the item does not fit the pending one. */
  add(item: Uint8Array): Buffer | undefined {
    const full = this.#pending.length > 0 && this.#bytes + item.length > this.target ? this.flush() : undefined;
    this.#pending.push(item);
    this.#bytes += item.length;
    return full;
  }

  /** The frame of the pending items, if any. */
  flush(): Buffer | undefined {
    if (this.#pending.length === 0) return undefined;
    const frame = payloadFrame(this.kind, this.#pending);
    this.chain.add(frame.hash);
    this.onFrame(this.#pending.length);
    this.#pending = [];
    this.#bytes = 0;
    return frame.bytes;
  }
}

const overtaken = (detail: string) => new CrmsyncError('ERR_STORAGE', `the node truncated its change log past the backup while it ran (${detail}): take the backup again`);

/**
 * The floors and the first page of entries after them, read so that they agree: the log
 * start did not move while the page was read, and every origin's first entry in it is
 * the one after its floor. Floors above the header's clock mean the log was truncated
 * past what the backup's documents are known to hold (entries made after it started).
 */
export async function consistentStart(source: BackupSource, header: BackupHeader, pageEntries: number): Promise<{ floors: BackupFloors; page: StoredEntry[] }> {
  for (let attempt = 1; ; attempt++) {
    const { logStart, floors } = source.exportFloors();
    const above = floors.find((f) => f.seq > (header.clock[f.origin] ?? 0));
    if (above) throw overtaken(`origin ${above.origin} from seq ${above.seq}, the backup's clock holds ${header.clock[above.origin] ?? 0}`);
    const count = Math.min(pageEntries, header.lastLocalSeq - (logStart - 1));
    const page = count > 0 ? await source.exportEntries(logStart - 1, count) : [];
    const at = new Map(floors.map((f) => [f.origin, f.seq]));
    const first = new Map<string, number>();
    for (const entry of page) if (!first.has(entry.origin)) first.set(entry.origin, entry.seq);
    // An origin's entries at or below its floor (held from before a bootstrap) are skipped by entriesAfterFloors.
    const agree = [...first].every(([origin, seq]) => seq <= (at.get(origin) ?? 0) + 1);
    if (source.exportFloors().logStart === logStart && agree) return { floors: { logStart, floors }, page };
    if (attempt >= START_ATTEMPTS) throw overtaken(`its log start moved from ${logStart} ${START_ATTEMPTS} times while the backup read it`);
  }
}

/**
 * The log entries after the floors up to the header's lastLocalSeq, starting with the
 * page consistentStart read. Each origin's entries must run on from its floor (or seq 1)
 * without a gap and end at the header's clock; entries at or below a floor are left out
 * (the documents hold them), and a boundary among them moves to the entry before it.
 */
export async function* entriesAfterFloors(
  source: BackupSource, header: BackupHeader, start: { floors: BackupFloors; page?: StoredEntry[] }, options: { pageEntries: number; signal?: AbortSignal },
): AsyncGenerator<StoredEntry> {
  const held = new Map(start.floors.floors.map((f) => [f.origin, f.seq]));
  const floors = new Map(held);
  let after = start.floors.logStart - 1;
  let page: StoredEntry[] | undefined = start.page;
  // Held back by one: a left-out boundary entry makes the entry before it one.
  let previous: StoredEntry | undefined;
  while (after < header.lastLocalSeq) {
    options.signal?.throwIfAborted();
    page ??= await source.exportEntries(after, Math.min(options.pageEntries, header.lastLocalSeq - after));
    if (page.length === 0) {
      if (source.exportFloors().logStart > after + 1) throw overtaken(`it now starts at ${source.exportFloors().logStart}, the backup had read up to ${after}`);
      throw new CrmsyncError('ERR_STORAGE', `the change log ended at localSeq ${after}, before ${header.lastLocalSeq} read at the start of the backup`);
    }
    for (const entry of page) {
      if (entry.localSeq > header.lastLocalSeq) break;
      after = entry.localSeq;
      if (entry.seq <= (floors.get(entry.origin) ?? 0)) {
        if (entry.boundary && previous) previous = { ...previous, boundary: true };
        continue;
      }
      const expected = (held.get(entry.origin) ?? 0) + 1;
      if (entry.seq !== expected) throw overtaken(`origin ${entry.origin} jumps from seq ${expected - 1} to ${entry.seq}`);
      held.set(entry.origin, entry.seq);
      if (previous) yield previous;
      previous = entry;
    }
    if (page.at(-1)!.localSeq >= header.lastLocalSeq) break;
    page = undefined;
  }
  if (previous) yield previous;
  for (const origin of new Set([...Object.keys(header.clock), ...held.keys()])) {
    if ((held.get(origin) ?? 0) !== (header.clock[origin] ?? 0)) throw overtaken(`origin ${origin} ends at seq ${held.get(origin) ?? 0}, the backup's clock holds ${header.clock[origin] ?? 0}`);
  }
}
