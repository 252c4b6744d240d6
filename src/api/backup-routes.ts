/**
 * Backup and restore over HTTP (docs/http-api.md, "Backup and restore"). Both stream:
 * GET /v1/backup sends the backup file's bytes as the node produces them; POST
 * /v1/restore writes the uploaded bytes to a private temp file, verifies all of it,
 * and only then merges it into the node, so a truncated upload changes nothing.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { CrmsyncError, type CrmNode, type Logger } from '../index.js';
import { backupStream } from '../migrate/backup.js';
import { restoreBackup, type RestoreResult } from '../migrate/restore.js';
import { errorBody, toHttpError } from './http-errors.js';
import { defineRoute, type ApiRoute } from './route.js';

/** Largest backup upload accepted (bytes). Protects the temp directory's disk. */
export const MAX_RESTORE_UPLOAD_BYTES = 16 * 1024 * 1024 * 1024;
/** Content type of backup files on the wire. */
export const BACKUP_CONTENT_TYPE = 'application/gzip';

/** Options of the backup routes. */
export interface BackupRouteOptions {
  node: CrmNode;
  /** Where uploads are staged (default: the OS temp directory). */
  tmpDir?: string;
  maxUploadBytes?: number;
  logger?: Logger;
}

const restoreQuery = z.strictObject({ dryRun: z.enum(['true', 'false']).transform((v) => v === 'true').optional() });

const restoreResult = z.strictObject({
  backup: z.strictObject({ nodeId: z.string(), createdAt: z.number(), founder: z.string(), entries: z.number(), blocks: z.number(), documents: z.number(), clock: z.record(z.string(), z.number()) }),
  adopted: z.number(), applied: z.number(), quarantined: z.number(), alreadyPresent: z.number(), dryRun: z.boolean(),
  records: z.strictObject({ live: z.number(), deleted: z.number() }),
  clock: z.record(z.string(), z.number()),
}) satisfies z.ZodType<RestoreResult>;

// A bad upload (damaged, or altered: its signatures fail) is the client's problem, and a
// fork is a conflict with this node's state.
const STATUS_OVERRIDES: Record<string, number> = { ERR_CORRUPT: 422, ERR_SIGNATURE: 422, ERR_ORIGIN_FORKED: 409 };

/** The routes; the route table (routes.ts) includes them. */
export function backupRoutes(options: BackupRouteOptions): ApiRoute[] {
  const { node } = options;
  return [
    defineRoute({
      method: 'GET', url: '/v1/backup', summary: 'Download a backup of the node (docs/backup-format.md), taken while it keeps running', tag: 'operations',
      responses: { 200: { description: 'the backup file, streamed', contentType: BACKUP_CONTENT_TYPE, schema: z.string() } },
      handle: async () => ({ stream: (_req, res) => void sendBackup(node, res, options.logger) }),
    }),
    defineRoute({
      method: 'POST', url: '/v1/restore', summary: 'Upload a backup file (body: its bytes, application/octet-stream); verified in full, then merged', tag: 'operations',
      query: restoreQuery,
      responses: {
        200: { description: 'what was merged (with dryRun=true: what would be)', schema: restoreResult },
        413: { description: 'the upload is larger than the limit (ERR_VALIDATION)' },
        400: { description: 'a backup of another cluster, of format version 1, or whose log of this node\'s own id was truncated beyond what it holds (ERR_VALIDATION); nothing was written' },
        422: { description: 'the file is truncated, corrupted or not a backup (ERR_CORRUPT; nothing was written, or for a record document the node refuses, nothing of its batch), or its floors or entries fail signature verification (ERR_SIGNATURE; nothing of the failing batch was written)' },
        409: { description: 'the backup holds a history of an origin that contradicts the one this node holds (ERR_ORIGIN_FORKED); nothing of the failing batch was written' },
      },
      handle: async ({ query }) => ({ stream: (req, res) => void receiveRestore(options, req, res, query.dryRun ?? false) }),
    }),
  ];
}

async function sendBackup(node: CrmNode, res: ServerResponse, logger: Logger | undefined): Promise<void> {
  const { stream, done } = backupStream(node);
  const name = `crmsync-${node.id}-${new Date().toISOString().replace(/[:.]/g, '-')}.crmbak`;
  res.writeHead(200, { 'content-type': BACKUP_CONTENT_TYPE, 'content-disposition': `attachment; filename="${name}"`, 'cache-control': 'no-store' });
  try {
    await pipeline(stream, res);
    const stats = await done;
    logger?.info({ version: stats.version, entries: stats.entries, blocks: stats.blocks, documents: stats.documents }, 'backup sent');
  } catch (err) {
    // The status line is gone: cutting the connection is the only way to say "failed";
    // the client's verification then refuses the truncated file.
    logger?.warn({ err }, 'backup stream failed');
    res.destroy();
  }
}

async function receiveRestore(options: BackupRouteOptions, req: IncomingMessage, res: ServerResponse, dryRun: boolean): Promise<void> {
  const dir = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'crmsync-restore-'));
  const file = join(dir, 'upload.crmbak');
  let answer: { status: number; body: unknown; tooLarge?: boolean };
  try {
    await pipeline(req, limitBytes(options.maxUploadBytes ?? MAX_RESTORE_UPLOAD_BYTES), createWriteStream(file, { mode: 0o600 }));
    const result = await restoreBackup(options.node, () => createReadStream(file), { dryRun });
    options.logger?.info({ applied: result.applied, alreadyPresent: result.alreadyPresent, dryRun }, 'backup restored');
    answer = { status: 200, body: result };
  } catch (err) {
    const tooLarge = (err as { code?: string }).code === 'ERR_UPLOAD_TOO_LARGE';
    const { status, body } = tooLarge
      ? { status: 413, body: errorBody('ERR_VALIDATION', `the upload is larger than ${options.maxUploadBytes ?? MAX_RESTORE_UPLOAD_BYTES} bytes`) }
      : toHttpError(err);
    const code = err instanceof CrmsyncError ? err.code : undefined;
    if (status >= 500 && !(code && STATUS_OVERRIDES[code])) options.logger?.error({ err }, 'restore failed');
    answer = { status: (code && STATUS_OVERRIDES[code]) || status, body, tooLarge };
  }
  // Removed before the answer, so a client that has it knows no copy of its upload is left.
  await rm(dir, { recursive: true, force: true });
  reply(res, answer.status, answer.body);
  // An upload cut short by the limit is not read to its end: close instead of draining it.
  if (answer.tooLarge) res.once('finish', () => req.destroy());
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Passes bytes through until more than `max` have passed, then fails. */
function limitBytes(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > max) callback(Object.assign(new Error('upload too large'), { code: 'ERR_UPLOAD_TOO_LARGE' }));
      else callback(null, chunk);
    },
  });
}
