/**
 * Restoring a backup into a node of the backup's cluster, empty or not. Two passes:
 *  1. verify everything (hashes, counts, trailer, entry shapes, origin sequences,
 *     boundaries) without writing, and check the node belongs to the backup's cluster
 *     and can write under its own id there, so a truncated, corrupted or foreign file
 *     is refused while the node is untouched;
 *  2. add the header's trust statements (all verified before any is added); for a
 *     backup of a truncated log (format version 3) merge its record documents
 *     (importDocuments, in batches) and raise the clock to its floors (importFloors,
 *     every floor's signature checked first); then
 *     stream the entries into importEntries in batches that end at boundaries, so each
 *     origin's last entry in a batch carries its signature. The node checks them
 *     exactly as a peer's frame (signatures, chain, quarantine of bad bodies) and
 *     merges them: entries it holds are skipped, the rest are CRDT-merged, so restoring
 *     old data into a node that moved on loses nothing. A batch that fails verification
 *     is not stored at all; earlier batches stay (they verified).
 */
import { CrmsyncError, hasCode, type BaseFloor, type ChangeEntry, type NodeStatus } from '../index.js';
import type { BackupDocument } from './backup-document.js';
import { readBackup, verifyBackup, type BackupBytes, type BackupSummary } from './backup-reader.js';

/** Entries per importEntries call, reached at the next boundary: one atomic commit each. Bounds one LevelDB batch. */
export const RESTORE_BATCH_ENTRIES = 512;
/** Change bytes per importEntries call, reached at the next boundary (views add ~0.5 KiB per entry on top). */
export const RESTORE_BATCH_BYTES = 1024 * 1024;
/** Record documents per importDocuments call (or RESTORE_BATCH_BYTES of them, whichever comes first). Bounds restore memory. */
export const RESTORE_BATCH_DOCUMENTS = 64;

/** What a restore needs from a node (a CrmNode satisfies it). */
export interface RestoreTarget {
  status(): Promise<Pick<NodeStatus, 'nodeId' | 'clock' | 'records'>>;
  importEntries(entries: ChangeEntry[]): Promise<{ accepted: number; quarantined: number; gap: boolean; untrusted: string[] }>;
  importTrust(statements: readonly unknown[]): Promise<{ added: number }>;
  importDocuments(docs: readonly { id: string; doc: Uint8Array }[]): Promise<{ adopted: number }>;
  importFloors(floors: readonly BaseFloor[]): Promise<{ raised: number; refused: string[] }>;
  readonly trust: { view(): { founder: string; self: { key: string }; members: { node: string; key: string }[] } };
}

/** Options of a restore. */
export interface RestoreOptions {
  /** Only verify and report what would be applied. */
  dryRun?: boolean;
  batchEntries?: number;
  batchBytes?: number;
  /** Record documents per importDocuments call (default RESTORE_BATCH_DOCUMENTS). */
  batchDocuments?: number;
  /** Called after each applied batch. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** The summary of a verification the caller already ran on these bytes (skips pass 1). */
  verified?: BackupSummary;
}

/** Outcome of a restore (the --json output of `crmsync restore`). */
export interface RestoreResult {
  backup: { nodeId: string; createdAt: number; founder: string; entries: number; blocks: number; documents: number; clock: Record<string, number> };
  /** Record documents (a backup of a truncated log) that changed what the node held (with dryRun: the documents the file holds). */
  adopted: number;
  /** Entries the node did not hold and merged (or would merge, with dryRun). */
  applied: number;
  /** Of the applied entries, those whose change failed the node's checks: kept in the log, never applied (as from a peer). */
  quarantined: number;
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
  checkCluster(target, summary, before.nodeId);
  const missing = countMissing(summary, before.clock);
  if (options.dryRun) return result(summary, { applied: missing, quarantined: 0, adopted: summary.documents }, true, before);
  await importTrust(target, summary.header.trust);
  const applied = await apply(target, openBackup, summary, options);
  return result(summary, applied, false, await target.status());
}

/**
 * Refuses, before anything is written, a backup of another cluster (its entries' chains
 * and signatures belong there) and a node whose id the backup's cluster binds to another
 * key: the node would hold that origin's history but sign its own writes with a key no
 * member accepts for it.
 */
function checkCluster(target: RestoreTarget, summary: BackupSummary, nodeId: string): void {
  const view = target.trust.view();
  const { header } = summary;
  if (header.founder !== view.founder) {
    throw new CrmsyncError('ERR_VALIDATION', `the backup is of the cluster founded by ${header.founder}, this node belongs to the cluster founded by ${view.founder}: `
      + 'restore it into a node of its own cluster');
  }
  // The statements are verified only when imported: this reads what they claim, which
  // is enough to refuse (a node id is bound for life to the first key granted it).
  const grants = [...header.trust.map((s) => s as { op: string; node: string; key?: unknown }), ...view.members.map((m) => ({ op: 'grant', ...m }))]
    .filter((s) => s.op === 'grant' && s.node === nodeId);
  if (grants.length > 0 && !grants.some((s) => s.key === view.self.key)) {
    throw new CrmsyncError('ERR_VALIDATION', `the backup's cluster binds node id "${nodeId}" to another key than this node's (${view.self.key}): `
      + 'its writes would be refused by every member; restore into a node with that node\'s key, or under a new node id');
  }
}

/** Adds the backup's trust statements; a statement that does not verify means the file was altered. */
async function importTrust(target: RestoreTarget, statements: readonly unknown[]): Promise<void> {
  try {
    await target.importTrust(statements);
  } catch (err) {
    if (!hasCode(err, 'ERR_VALIDATION')) throw err;
    throw new CrmsyncError('ERR_CORRUPT', `backup file is corrupt: its trust statements do not verify (${err.message}); nothing was restored`, { cause: err });
  }
}

/** Entries of the backup beyond what `clock` holds (and beyond the floors: those the documents stand for): what a merge will add. */
function countMissing(summary: BackupSummary, clock: Record<string, number>): number {
  const floors = new Map(summary.floors?.floors.map((f) => [f.origin, f.seq]));
  let missing = 0;
  for (const [origin, seq] of Object.entries(summary.header.clock)) missing += Math.max(0, seq - Math.max(clock[origin] ?? 0, floors.get(origin) ?? 0));
  return missing;
}

interface Applied {
  applied: number;
  quarantined: number;
  adopted: number;
}

async function apply(target: RestoreTarget, openBackup: OpenBackup, summary: BackupSummary, options: RestoreOptions): Promise<Applied> {
  const maxEntries = options.batchEntries ?? RESTORE_BATCH_ENTRIES;
  const maxBytes = options.batchBytes ?? RESTORE_BATCH_BYTES;
  let batch: ChangeEntry[] = [];
  let bytes = 0;
  let done = 0;
  const total: Applied = { applied: 0, quarantined: 0, adopted: 0 };
  const documents = new DocumentBatch(target, total, options);
  const flush = async () => {
    options.signal?.throwIfAborted();
    const outcome = await importBatch(target, batch, total);
    total.applied += outcome.accepted;
    total.quarantined += outcome.quarantined;
    done += batch.length;
    batch = [];
    bytes = 0;
    options.onProgress?.(done, summary.entries);
  };
  const frames = readBackup(openBackup());
  try {
    for (;;) {
      const next = await frames.next().catch((err: unknown) => {
        // The reader's checks failing now, after a whole pass succeeded: the file changed.
        if (!hasCode(err, 'ERR_CORRUPT')) throw err;
        throw new CrmsyncError('ERR_CORRUPT', `${err.message} (the file changed after it was verified; ${total.adopted} documents and ${total.applied} entries were merged before this)`, { cause: err });
      });
      if (next.done) break;
      const frame = next.value;
      if (frame.kind === 'documents') {
        for (const document of frame.documents) await documents.add(document);
      } else if (frame.kind === 'floors') {
        // The documents first, all of them: the floors say the node holds what they stand for.
        await documents.flush();
        await importFloors(target, frame.floors.floors, total);
      } else if (frame.kind === 'block') {
        for (const { entry, boundary } of frame.entries) {
          batch.push(entry);
          bytes += entry.change.length;
          // Only at a boundary is every origin's last entry of the batch signed.
          if (boundary && (batch.length >= maxEntries || bytes >= maxBytes)) await flush();
        }
      }
    }
    // The reader checked that the file ends at a boundary.
    if (batch.length > 0) await flush();
  } finally {
    // Closes the file when an import failed midway.
    await frames.return(undefined);
  }
  return total;
}

/** Record documents gathered into importDocuments calls of RESTORE_BATCH_DOCUMENTS or RESTORE_BATCH_BYTES. */
class DocumentBatch {
  #batch: BackupDocument[] = [];
  #bytes = 0;

  constructor(private readonly target: RestoreTarget, private readonly total: Applied, private readonly options: RestoreOptions) {}

  async add(document: BackupDocument): Promise<void> {
    this.#batch.push(document);
    this.#bytes += document.doc.length;
    if (this.#batch.length >= (this.options.batchDocuments ?? RESTORE_BATCH_DOCUMENTS) || this.#bytes >= (this.options.batchBytes ?? RESTORE_BATCH_BYTES)) await this.flush();
  }

  /** Merges the gathered documents. One that does not load or leaves the record schema means the file was altered. */
  async flush(): Promise<void> {
    if (this.#batch.length === 0) return;
    this.options.signal?.throwIfAborted();
    try {
      this.total.adopted += (await this.target.importDocuments(this.#batch)).adopted;
    } catch (err) {
      if (!hasCode(err, 'ERR_PROTOCOL') && !hasCode(err, 'ERR_VALIDATION')) throw err;
      throw new CrmsyncError('ERR_CORRUPT', `backup documents refused: ${err.message}; the backup file is corrupt or was altered (${this.total.adopted} documents were merged before this)`, { cause: err });
    }
    this.#batch = [];
    this.#bytes = 0;
  }
}

/**
 * Raises the node's clock to the backup's floors: every floor's signature is checked
 * against its origin's key before any is raised (ERR_SIGNATURE: the file was altered).
 * A floor the node does not take (an origin revoked before it) is left out, as its
 * entries beyond the revocation are.
 */
async function importFloors(target: RestoreTarget, floors: readonly BaseFloor[], total: Applied): Promise<void> {
  try {
    await target.importFloors(floors);
  } catch (err) {
    if (!hasCode(err, 'ERR_SIGNATURE')) throw err;
    throw new CrmsyncError('ERR_SIGNATURE', `backup floors refused: ${err.message}; no floor was raised (${total.adopted} documents were merged before this)`, { cause: err });
  }
}

/** One importEntries call; refusals say how far the restore got. */
async function importBatch(target: RestoreTarget, batch: ChangeEntry[], total: Applied): Promise<{ accepted: number; quarantined: number }> {
  let outcome: Awaited<ReturnType<RestoreTarget['importEntries']>>;
  try {
    outcome = await target.importEntries(batch);
  } catch (err) {
    if (!hasCode(err, 'ERR_SIGNATURE') && !hasCode(err, 'ERR_ORIGIN_FORKED') && !hasCode(err, 'ERR_PROTOCOL')) throw err;
    // The checks a peer's frame passes: an altered file fails them here, batch by batch.
    // A missing signature (ERR_PROTOCOL from a peer: a frame cut where it may not be) is
    // a boundary flag the file made up: it fails signature verification like the rest.
    const code = err.code === 'ERR_PROTOCOL' ? 'ERR_SIGNATURE' : err.code;
    const message = `backup entries refused: ${err.message}; nothing of this batch was stored (${total.applied} entries of earlier batches were merged)`;
    throw Object.assign(new CrmsyncError(code, message, { cause: err }), 'evidence' in err ? { evidence: err.evidence } : {});
  }
  // The file starts every origin at seq 1 and the node only ever adds entries, so a
  // gap means the node lost entries it had reported as held.
  if (outcome.gap) throw new CrmsyncError('ERR_STORAGE', 'the node reported a gap while restoring a complete backup');
  if (outcome.untrusted.length > 0) {
    throw new CrmsyncError('ERR_CORRUPT', `backup file is corrupt: its trust statements do not make origin ${outcome.untrusted[0]} a member, though it holds its entries (${total.applied} entries were merged before this)`);
  }
  return outcome;
}

function result(summary: BackupSummary, applied: Applied, dryRun: boolean, status: Pick<NodeStatus, 'clock' | 'records'>): RestoreResult {
  const { header } = summary;
  return {
    backup: { nodeId: header.nodeId, createdAt: header.createdAt, founder: header.founder, entries: summary.entries, blocks: summary.blocks, documents: summary.documents, clock: header.clock },
    adopted: applied.adopted, applied: applied.applied, quarantined: applied.quarantined, alreadyPresent: summary.entries - applied.applied, dryRun,
    records: { live: status.records.live, deleted: status.records.deleted }, clock: status.clock,
  };
}
