/**
 * Taking a backup of a running node: the node's change log up to the last entry that
 * was durable when the backup started, with its origins' signatures, and the trust
 * statements that name those origins, as one gzip stream (format in
 * docs/backup-format.md). The log is append-only and every entry carries its
 * Automerge change, so reading it page by page while writers keep appending yields a
 * consistent snapshot: exactly the state of the header's clock.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { CrmsyncError, type NodeStatus, type StoredEntry } from '../index.js';
import { encodeEntry } from './backup-entry.js';
import {
  BLOCK_TARGET_BYTES, ChainDigest, blockFrame, headerFrame, trailerFrame, type BackupHeader,
} from './backup-format.js';

/** Log entries read from the node per call. Bounds memory per page. */
export const BACKUP_PAGE_ENTRIES = 1000;

/** What a backup reads from a node (a CrmNode satisfies it). */
export interface BackupSource {
  status(): Promise<Pick<NodeStatus, 'nodeId' | 'clock' | 'lastLocalSeq'>>;
  exportEntries(after: number, limit: number): Promise<StoredEntry[]>;
  exportTrust(): unknown[];
  readonly trust: { view(): { founder: string } };
}

/** Options of a backup. */
export interface BackupOptions {
  /** Target block payload size (default BLOCK_TARGET_BYTES). */
  blockBytes?: number;
  /** Entries read per exportEntries call (default BACKUP_PAGE_ENTRIES). */
  pageEntries?: number;
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
  entries: number;
  blocks: number;
}

/**
 * The decompressed frames of a backup, produced page by page. `stats` is filled in as
 * frames are produced; it is complete once the generator has finished.
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
  const header: BackupHeader = {
    nodeId: status.nodeId, createdAt: (options.now ?? Date.now)(), founder: source.trust.view().founder, trust,
    clock: { ...status.clock }, lastLocalSeq: status.lastLocalSeq,
  };
  const { trust: _statements, ...summary } = header;
  Object.assign(stats, summary, { entries: 0, blocks: 0 });
  const chain = new ChainDigest();
  const head = headerFrame(header);
  chain.add(head.hash);
  yield head.bytes;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let entries = 0;
  let blocks = 0;
  const flush = () => {
    const block = blockFrame(pending);
    chain.add(block.hash);
    entries += pending.length;
    blocks++;
    pending = [];
    pendingBytes = 0;
    Object.assign(stats, { entries, blocks });
    options.onProgress?.(entries, header.lastLocalSeq);
    return block.bytes;
  };
  let after = 0;
  while (after < header.lastLocalSeq) {
    options.signal?.throwIfAborted();
    const page = await source.exportEntries(after, Math.min(pageEntries, header.lastLocalSeq - after));
    if (page.length === 0) {
      throw new CrmsyncError('ERR_STORAGE', `the change log ended at localSeq ${after}, before ${header.lastLocalSeq} read at the start of the backup`);
    }
    for (const entry of page) {
      if (entry.localSeq > header.lastLocalSeq) break;
      const bytes = encodeEntry(entry);
      if (pending.length > 0 && pendingBytes + bytes.length > blockBytes) yield flush();
      pending.push(bytes);
      pendingBytes += bytes.length;
      after = entry.localSeq;
    }
    if (page[page.length - 1]!.localSeq > header.lastLocalSeq) break;
  }
  if (pending.length > 0) yield flush();
  yield trailerFrame(entries, blocks, chain.digest());
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
