/**
 * Restoring a backup into a node, empty or not. Two passes over the file:
 *  1. verify everything (hashes, counts, trailer, entry shapes, origin sequences)
 *     without writing, so a truncated or corrupted file is refused (ERR_CORRUPT)
 *     while the node is untouched;
 *  2. stream the entries again into importEntries in batches. The node merges them
 *     exactly as if a peer had sent them: entries it holds are skipped, the rest are
 *     CRDT-merged, so restoring old data into a node that moved on loses nothing.
 */
import { CrmsyncError, type ChangeEntry, type NodeStatus } from '../index.js';
import { readBackup, verifyBackup, type BackupBytes, type BackupSummary } from './backup-reader.js';

/** Entries per importEntries call: one atomic commit each. Bounds one LevelDB batch. */
export const RESTORE_BATCH_ENTRIES = 512;
/** Change bytes per importEntries call (views add ~0.5 KiB each on top). */
export const RESTORE_BATCH_BYTES = 1024 * 1024;

/** What a restore needs from a node (a CrmNode satisfies it). */
export interface RestoreTarget {
  status(): Promise<Pick<NodeStatus, 'nodeId' | 'clock' | 'records'>>;
  importEntries(entries: ChangeEntry[]): Promise<{ accepted: number; gap: boolean }>;
}

/** Options of a restore. */
export interface RestoreOptions {
  /** Only verify and report what would be applied. */
  dryRun?: boolean;
  batchEntries?: number;
  batchBytes?: number;
  /** Called after each applied batch. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** The summary of a verification the caller already ran on these bytes (skips pass 1). */
  verified?: BackupSummary;
}

/** Outcome of a restore (the --json output of `crmsync restore`). */
export interface RestoreResult {
  backup: { nodeId: string; createdAt: number; entries: number; blocks: number; clock: Record<string, number> };
  /** Entries the node did not hold and merged (or would merge, with dryRun). */
  applied: number;
  /** Entries the node already held. */
  alreadyPresent: number;
  dryRun: boolean;
  /** The node after the restore. */
  records: { live: number; deleted: number };
  clock: Record<string, number>;
}

/** Opens the backup bytes afresh; called once per pass. */
export type OpenBackup = () => BackupBytes;

/** Verifies, then merges a backup into `target`. */
export async function restoreBackup(target: RestoreTarget, openBackup: OpenBackup, options: RestoreOptions = {}): Promise<RestoreResult> {
  const summary = options.verified ?? (await verifyBackup(openBackup()));
  const before = await target.status();
  const missing = countMissing(summary, before.clock);
  if (options.dryRun) return result(summary, missing, true, before);
  const applied = await apply(target, openBackup, summary, options);
  return result(summary, applied, false, await target.status());
}

/** Entries of the backup beyond what `clock` holds: what a merge will add. */
function countMissing(summary: BackupSummary, clock: Record<string, number>): number {
  let missing = 0;
  for (const [origin, seq] of Object.entries(summary.header.clock)) missing += Math.max(0, seq - (clock[origin] ?? 0));
  return missing;
}

async function apply(target: RestoreTarget, openBackup: OpenBackup, summary: BackupSummary, options: RestoreOptions): Promise<number> {
  const maxEntries = options.batchEntries ?? RESTORE_BATCH_ENTRIES;
  const maxBytes = options.batchBytes ?? RESTORE_BATCH_BYTES;
  let batch: ChangeEntry[] = [];
  let bytes = 0;
  let done = 0;
  let applied = 0;
  const flush = async () => {
    options.signal?.throwIfAborted();
    const outcome = await target.importEntries(batch);
    // The file starts every origin at seq 1 and the node only ever adds entries, so a
    // gap means the node lost entries it had reported as held.
    if (outcome.gap) throw new CrmsyncError('ERR_STORAGE', 'the node reported a gap while restoring a complete backup');
    applied += outcome.accepted;
    done += batch.length;
    batch = [];
    bytes = 0;
    options.onProgress?.(done, summary.entries);
  };
  try {
    for await (const frame of readBackup(openBackup())) {
      if (frame.kind !== 'block') continue;
      for (const { entry } of frame.entries) {
        batch.push(entry);
        bytes += entry.change.length;
        if (batch.length >= maxEntries || bytes >= maxBytes) await flush();
      }
    }
    if (batch.length > 0) await flush();
  } catch (err) {
    if (err instanceof CrmsyncError && err.code === 'ERR_CORRUPT') {
      throw new CrmsyncError('ERR_CORRUPT', `${err.message} (the file changed after it was verified; ${applied} entries were merged before this)`, { cause: err });
    }
    throw err;
  }
  return applied;
}

function result(summary: BackupSummary, applied: number, dryRun: boolean, status: Pick<NodeStatus, 'clock' | 'records'>): RestoreResult {
  const { header } = summary;
  return {
    backup: { nodeId: header.nodeId, createdAt: header.createdAt, entries: summary.entries, blocks: summary.blocks, clock: header.clock },
    applied, alreadyPresent: summary.entries - applied, dryRun,
    records: { live: status.records.live, deleted: status.records.deleted }, clock: status.clock,
  };
}
