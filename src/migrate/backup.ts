/**
 * Taking a backup of a running node: the node's change log up to the last entry that
 * was durable when the backup started, with its origins' signatures, and the trust
 * statements that name those origins, as one gzip stream (format in
 * docs/backup-format.md). The log is append-only and every entry carries its
 * Automerge change, so reading it page by page while writers keep appending yields a
 * consistent snapshot: exactly the state of the header's clock. A truncated log lacks
 * its prefix: its backup carries every record's document and the floors first.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { StoredEntry } from '../index.js';
import { encodeDocument, encodeFloors, type BackupFloors } from './backup-document.js';
import { encodeEntry } from './backup-entry.js';
import {
  BLOCK_KIND, BLOCK_TARGET_BYTES, ChainDigest, DOCUMENTS_FORMAT_VERSION, DOCUMENTS_KIND, FLOORS_KIND, FORMAT_VERSION,
  headerFrame, payloadFrame, trailerFrame, type BackupHeader, type FormatVersion,
} from './backup-format.js';
import {
  BACKUP_PAGE_DOCUMENTS, BACKUP_PAGE_ENTRIES, Blocks, consistentStart, entriesAfterFloors, type BackupSource,
} from './backup-source.js';

export { BACKUP_PAGE_DOCUMENTS, BACKUP_PAGE_ENTRIES, type BackupSource };

/** Options of a backup. */
export interface BackupOptions {
  /** Target block payload size (default BLOCK_TARGET_BYTES). */
  blockBytes?: number;
  /** Entries read per exportEntries call (default BACKUP_PAGE_ENTRIES). */
  pageEntries?: number;
  /** Record documents read per exportDocuments call (default BACKUP_PAGE_DOCUMENTS). */
  pageDocuments?: number;
  /** Clock for the header's createdAt (default Date.now). */
  now?: () => number;
  /** gzip level 1-9 (default 6). */
  level?: number;
  /** Called after each block with the entries written so far. */
  onProgress?: (written: number, total: number) => void;
  signal?: AbortSignal;
}

/** What a finished backup holds. */
export interface BackupStats {
  nodeId: string;
  createdAt: number;
  founder: string;
  clock: Record<string, number>;
  lastLocalSeq: number;
  /** 2, or 3 for a backup of a truncated log (with record documents and floors). */
  version: FormatVersion;
  entries: number;
  blocks: number;
  /** Record documents and their blocks (version 3; 0 otherwise). */
  documents: number;
  documentBlocks: number;
}

/**
 * The decompressed frames of a backup, produced page by page. `stats` is filled in as
 * frames are produced; it is complete once the generator has finished.
 *
 * A truncated log (or one whose node bootstrapped from documents: it has floors) is
 * written as version 3: after the header, every record's whole document, then the
 * floors, then the entries after them. The documents are read after the clock, so they
 * hold every change it counts (and maybe newer ones: a merge takes those as they are);
 * the floors are read after the documents, together with the first page of entries, so
 * the entries in the file start exactly where the floors end.
 */
export async function* backupFrames(source: BackupSource, stats: Partial<BackupStats>, options: BackupOptions = {}): AsyncGenerator<Buffer> {
  const blockBytes = options.blockBytes ?? BLOCK_TARGET_BYTES;
  const pageEntries = options.pageEntries ?? BACKUP_PAGE_ENTRIES;
  // The clock and lastLocalSeq are read in one synchronous step inside status(): the
  // entries up to lastLocalSeq are exactly those the clock counts.
  const status = await source.status();
  // Read after the clock: statements only accumulate, and a node takes an origin's
  // entries only once it holds its grant, so these name every origin the clock counts.
  const trust = source.exportTrust();
  const atStart = source.exportFloors();
  const version: FormatVersion = atStart.logStart > 1 || atStart.floors.length > 0 ? DOCUMENTS_FORMAT_VERSION : FORMAT_VERSION;
  const header: BackupHeader = {
    nodeId: status.nodeId, createdAt: (options.now ?? Date.now)(), founder: source.trust.view().founder, trust,
    clock: { ...status.clock }, lastLocalSeq: status.lastLocalSeq,
  };
  const { trust: _statements, ...summary } = header;
  const counts = { entries: 0, blocks: 0, documents: 0, documentBlocks: 0 };
  Object.assign(stats, summary, { version }, counts);
  const chain = new ChainDigest();
  const head = headerFrame(header, version);
  chain.add(head.hash);
  yield head.bytes;
  let start: { floors: BackupFloors; page?: StoredEntry[] } = { floors: { logStart: 1, floors: [] } };
  if (version === DOCUMENTS_FORMAT_VERSION) {
    const documents = new Blocks(DOCUMENTS_KIND, blockBytes, chain, (n) => {
      counts.documents += n;
      counts.documentBlocks++;
      Object.assign(stats, counts);
    });
    for (let after: string | undefined; ;) {
      options.signal?.throwIfAborted();
      const page = await source.exportDocuments(after, options.pageDocuments ?? BACKUP_PAGE_DOCUMENTS);
      if (page.length === 0) break;
      for (const document of page) {
        const full = documents.add(encodeDocument(document));
        if (full) yield full;
      }
      after = page.at(-1)!.id;
    }
    const last = documents.flush();
    if (last) yield last;
    start = await consistentStart(source, header, pageEntries);
    const floors = payloadFrame(FLOORS_KIND, [encodeFloors(start.floors)]);
    chain.add(floors.hash);
    yield floors.bytes;
  }
  const blocks = new Blocks(BLOCK_KIND, blockBytes, chain, (n) => {
    counts.entries += n;
    counts.blocks++;
    Object.assign(stats, counts);
    options.onProgress?.(counts.entries, header.lastLocalSeq);
  });
  for await (const entry of entriesAfterFloors(source, header, start, { pageEntries, ...(options.signal ? { signal: options.signal } : {}) })) {
    const full = blocks.add(encodeEntry(entry));
    if (full) yield full;
  }
  const last = blocks.flush();
  if (last) yield last;
  yield trailerFrame(counts, chain.digest(), version);
}

/** A backup as a stream of gzip bytes (the body of GET /v1/backup) and its stats once done. */
export function backupStream(source: BackupSource, options: BackupOptions = {}): { stream: Readable; done: Promise<BackupStats> } {
  const stats: Partial<BackupStats> = {};
  const frames = Readable.from(backupFrames(source, stats, options), { objectMode: false });
  const gzip = createGzip({ level: options.level ?? 6 });
  const done = pipeline(frames, gzip).then(() => stats as BackupStats);
  // pipeline() also reports the failure; the stream errors for whoever reads it.
  done.catch(() => undefined);
  return { stream: gzip, done };
}

/**
 * Writes a backup to `path`: to `path.tmp` first, fsynced, then renamed over `path`,
 * so `path` is either absent, the previous file or the complete new backup.
 */
export async function writeBackupFile(source: BackupSource, path: string, options: BackupOptions = {}): Promise<BackupStats & { bytes: number }> {
  const tmp = `${path}.tmp`;
  const stats: Partial<BackupStats> = {};
  try {
    const out = createWriteStream(tmp, { mode: 0o600 });
    await once(out, 'open');
    await pipeline(Readable.from(backupFrames(source, stats, options), { objectMode: false }), createGzip({ level: options.level ?? 6 }), out);
    const bytes = out.bytesWritten;
    await fsyncPath(tmp, 'r+');
    await rename(tmp, path);
    await fsyncPath(dirname(path), 'r');
    return { ...(stats as BackupStats), bytes };
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** fsyncs a file (its data) or a directory (a rename inside it). */
export async function fsyncPath(path: string, flags: 'r' | 'r+'): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
