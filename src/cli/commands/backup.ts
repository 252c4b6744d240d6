/**
 * `crmsync backup FILE`, `crmsync restore FILE` and `crmsync verify-backup FILE`
 * (docs/cli.md; the file format is docs/backup-format.md). backup and restore work on
 * a stopped node's data directory, or on a running node with --api.
 */
import { createReadStream } from 'node:fs';
import { rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fsyncPath, writeBackupFile } from '../../migrate/backup.js';
import { verifyBackup, type BackupSummary } from '../../migrate/backup-reader.js';
import { restoreBackup, type RestoreResult } from '../../migrate/restore.js';
import { CliError, EXIT } from '../errors.js';
import { json, keyValues, time } from '../format.js';
import type { Io } from '../io.js';
import { downloadBackup, uploadBackup } from './backup-http.js';
import { closeTarget, fileError, openTarget, withTarget, type TargetFlags } from './migrate-target.js';

/** Options of `backup`. */
export type BackupOptions = TargetFlags & { json?: boolean };
/** Options of `restore`. */
export type RestoreOptions = TargetFlags & { json?: boolean; dryRun?: boolean };

/** What `backup` wrote (its --json output). */
export interface BackupResult {
  file: string;
  bytes: number;
  nodeId: string;
  createdAt: number;
  /** Fingerprint of the founder of the cluster the backup belongs to. */
  founder: string;
  entries: number;
  blocks: number;
  /** Record documents (a backup of a truncated log, format version 3; 0 otherwise). */
  documents: number;
  /** The file's format version (docs/backup-format.md). */
  version: number;
  clock: Record<string, number>;
  /** The written file was read back and passed every check. */
  verified: true;
}

/** A throttled progress line on stderr (nothing with --json). */
function progress(io: Io, quiet: boolean | undefined, what: string): (done: number, total: number) => void {
  let last = Date.now();
  return (done, total) => {
    if (quiet || Date.now() - last < 2000) return;
    last = Date.now();
    io.err(`${what}: ${done} of ${total} entries`);
  };
}

/** Writes a backup of the node to `file` (via `file.tmp`, fsynced, renamed) and verifies it. */
export async function backup(file: string, options: BackupOptions, io: Io): Promise<BackupResult> {
  const path = resolve(io.cwd, file);
  const result = await withTarget(options, io, { command: `crmsync backup ${file}` }, async (target) => {
    if (target.kind === 'local') {
      await writeBackupFile(target.node, path, { onProgress: progress(io, options.json, 'backup') }).catch((err: unknown) => {
        throw fileError(err, path, 'write');
      });
    } else {
      const tmp = `${path}.tmp`;
      try {
        await downloadBackup(target, tmp);
        await fsyncPath(tmp, 'r+');
        await verifyFile(tmp, 'the downloaded backup');
        await rename(tmp, path);
        await fsyncPath(dirname(path), 'r');
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw fileError(err, path, 'write');
      }
    }
    // Read back what is on disk: a backup is only as good as the bytes that landed.
    const summary = await verifyFile(path, 'the written backup');
    return summaryResult(path, (await stat(path)).size, summary);
  });
  io.out(options.json ? json(result) : keyValues([
    ['file', result.file], ['bytes', result.bytes], ['node', result.nodeId], ['taken at', time(result.createdAt)],
    ['entries', result.entries], ['blocks', result.blocks], ...documentRows(result), ['origins', Object.keys(result.clock).length], ['verified', 'yes'],
  ]));
  return result;
}

/** The documents line of a backup of a truncated log (none for format version 2, whose output stays as it was). */
function documentRows(result: BackupResult): [string, string | number][] {
  return result.version >= 3 ? [['documents', result.documents], ['format version', result.version]] : [];
}

/**
 * Verifies a backup, then merges it into the node. For a data directory the whole file
 * is verified before the directory is opened or created; a database created here joins
 * the backup's cluster (with a key of its own); and a restore that fails after it
 * created the database removes it again: a refused restore leaves the directory as it
 * was. (A running node, --api, verifies the upload itself before merging.)
 */
export async function restore(file: string, options: RestoreOptions, io: Io): Promise<RestoreResult> {
  const path = resolve(io.cwd, file);
  await mustExist(path);
  const local = options.api === undefined || options.api === false;
  const verified = local ? await verifyBackup(createReadStream(path)) : undefined;
  const cluster = verified && { founder: verified.header.founder, statements: verified.header.trust };
  const target = await openTarget(options, io, { command: `crmsync restore ${file}`, create: true, ...(cluster ? { cluster } : {}) });
  let result: RestoreResult;
  try {
    result = target.kind === 'local'
      ? await restoreBackup(target.node, () => createReadStream(path), { dryRun: options.dryRun ?? false, onProgress: progress(io, options.json, 'restore'), ...(verified ? { verified } : {}) })
      : await uploadBackup(target, path, options.dryRun ?? false);
  } catch (err) {
    await closeTarget(target);
    if (target.kind === 'local') for (const dir of target.created) await rm(dir, { recursive: true, force: true });
    throw err;
  }
  await closeTarget(target);
  // A dry run into a directory without a database leaves none behind.
  if (target.kind === 'local' && result.dryRun) for (const dir of target.created) await rm(dir, { recursive: true, force: true });
  io.out(options.json ? json(result) : keyValues([
    ['backup of', result.backup.nodeId], ['taken at', time(result.backup.createdAt)], ['entries', result.backup.entries],
    ...(result.backup.documents > 0 ? [[result.dryRun ? 'documents to merge' : 'documents merged', result.adopted] as [string, number]] : []),
    [result.dryRun ? 'would apply' : 'applied', result.applied], ['quarantined', result.quarantined], ['already present', result.alreadyPresent],
    ['records', result.records.live], ['deleted records', result.records.deleted],
  ]));
  if (result.dryRun && !options.json) io.err('dry run: nothing was written');
  return result;
}

/** Checks a backup file without a node and prints what it holds. */
export async function verifyBackupFile(file: string, options: { json?: boolean }, io: Io): Promise<BackupResult> {
  const path = resolve(io.cwd, file);
  await mustExist(path);
  const result = summaryResult(path, (await stat(path)).size, await verifyBackup(createReadStream(path)));
  io.out(options.json ? json(result) : keyValues([
    ['file', result.file], ['node', result.nodeId], ['cluster founder', result.founder], ['taken at', time(result.createdAt)], ['entries', result.entries],
    ['blocks', result.blocks], ...documentRows(result), ['origins', Object.keys(result.clock).length], ['verified', 'yes'],
  ]));
  return result;
}

async function verifyFile(path: string, what: string): Promise<BackupSummary> {
  try {
    return await verifyBackup(createReadStream(path));
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ERR_CORRUPT') {
      throw new CliError(`${what} failed verification: ${err.message}`, EXIT.runtime, 'nothing was replaced; try the backup again', { cause: err });
    }
    throw err;
  }
}

async function mustExist(path: string): Promise<void> {
  if (!(await stat(path).then((s) => s.isFile(), () => false))) throw new CliError(`there is no backup file ${path}`, EXIT.notFound);
}

function summaryResult(file: string, bytes: number, summary: BackupSummary): BackupResult {
  const { header } = summary;
  return {
    file, bytes, nodeId: header.nodeId, createdAt: header.createdAt, founder: header.founder, entries: summary.entries, blocks: summary.blocks,
    documents: summary.documents, version: summary.version, clock: header.clock, verified: true,
  };
}
