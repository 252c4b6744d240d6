/**
 * Streaming transfers of backup files to and from a running node (GET /v1/backup,
 * POST /v1/restore). node:http rather than fetch: bodies stream with backpressure in
 * both directions, and a long restore is not cut off by a client-side header timeout.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import type { RestoreResult } from '../../migrate/restore.js';
import { errorFromResponse } from '../client.js';
import { CliError, EXIT, NotRunningError } from '../errors.js';
import type { ApiTarget } from './migrate-target.js';

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** Sends a request, optionally streaming a file as its body; resolves with the response head. */
function send(target: ApiTarget, method: 'GET' | 'POST', path: string, bodyFile?: string): Promise<IncomingMessage> {
  const url = new URL(path, target.baseUrl);
  const headers: Record<string, string> = { authorization: `Bearer ${target.token}` };
  if (bodyFile !== undefined) headers['content-type'] = 'application/octet-stream';
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, headers }, resolve);
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== undefined && UNREACHABLE.has(err.code)) {
        reject(new NotRunningError(`no crmsync node is reachable at ${target.baseUrl} (${err.code})`, 'start the node, or pass the right --api URL', { cause: err }));
      } else {
        reject(new CliError(`request to ${target.baseUrl} failed: ${err.message}`, EXIT.runtime, undefined, { cause: err }));
      }
    });
    if (bodyFile === undefined) req.end();
    else pipeline(createReadStream(bodyFile), req).catch((err: unknown) => req.destroy(err as Error));
  });
}

/** Reads an error response and throws the error the server reported. */
async function fail(res: IncomingMessage, what: string): Promise<never> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  throw errorFromResponse(res.statusCode ?? 0, body, what);
}

/** Downloads a backup of the running node into `path`; resolves with its size. */
export async function downloadBackup(target: ApiTarget, path: string): Promise<number> {
  const res = await send(target, 'GET', '/v1/backup');
  if (res.statusCode !== 200) return fail(res, 'GET /v1/backup');
  const out = createWriteStream(path, { mode: 0o600 });
  try {
    await pipeline(res, out);
  } catch (err) {
    throw new CliError(`the backup download from ${target.baseUrl} broke off: ${(err as Error).message}`, EXIT.runtime, 'the node logs why; try again', { cause: err });
  }
  return out.bytesWritten;
}

/** Uploads a backup file to the running node, which verifies and merges it. */
export async function uploadBackup(target: ApiTarget, path: string, dryRun: boolean): Promise<RestoreResult> {
  const res = await send(target, 'POST', `/v1/restore${dryRun ? '?dryRun=true' : ''}`, path);
  if (res.statusCode !== 200) return fail(res, 'POST /v1/restore');
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as RestoreResult;
}
