/**
 * The conflict inbox over a data directory from before the conflict index, with real
 * nodes (LevelDB in temp dirs, WebSockets on 127.0.0.1, HTTP): the old format is made by
 * deleting the conflict index keys (and the migration's progress) directly in LevelDB.
 * After a reopen, GET /v1/conflicts lists the records that were already in conflict; a
 * resolve alongside the migration is honoured; an interrupted migration resumes after
 * its last page; a finished one never scans again.
 */
import { Level } from 'level';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { responses } from '../../src/api/schemas.js';
import { CONFLICT_INDEX_KEY } from '../../src/engine/conflict-index.js';
import { createValueCodec } from '../../src/store/codec.js';
import { captureLog, waitForConvergence, type CapturedLog } from '../integration/helpers.js';
import { ApiHarness, type ApiNode } from './helpers.js';

const h = new ApiHarness();
afterEach(() => h.cleanup());

const COMPLETE = 'conflict index complete: records in conflict before it existed are in the inbox';
const CONFLICTED = ['c1', 'c2', 'c3', 'c4', 'c5'];

/** Node b's data directory after b and a wrote c1..c5 with different emails apart and synced (plus one calm record); b is closed. */
async function conflictedDataDir(): Promise<string> {
  const dir = await h.tempDir();
  const a = await h.start({ nodeId: 'a', listen: { host: '127.0.0.1', port: 0 } });
  const b = await h.start({ nodeId: 'b', dataDir: dir });
  for (const id of [...CONFLICTED, 'calm']) {
    const email = (node: string) => (id === 'calm' ? {} : { email: `${id}@${node}.example` });
    expect((await a.call('PUT', `/v1/customers/${id}`, { body: { name: id, ...email('a') } })).status).toBe(201);
    expect((await b.call('PUT', `/v1/customers/${id}`, { body: { name: id, ...email('b') } })).status).toBe(201);
  }
  expect((await b.call('POST', '/v1/peers', { body: { url: a.node.url, node: 'a' } })).status).toBe(201);
  await waitForConvergence([a.node, b.node]);
  expect((await inbox(b)).map((r) => r.id)).toEqual(CONFLICTED);
  await b.node.close();
  return dir;
}

/** Makes `dir` look as if written before the conflict index: its keys gone; the progress as given (undefined: none). */
async function removeConflictIndex(dir: string, progress?: unknown): Promise<void> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  const idx = db.sublevel<string, Uint8Array>('idx', { keyEncoding: 'utf8', valueEncoding: 'view' });
  const state = db.sublevel<string, Uint8Array>('state', { keyEncoding: 'utf8', valueEncoding: 'view' });
  // Nothing waits for its index keys (the inbox's scan wrote them): a directory of the old
  // kind, whose keys only went with each write.
  expect(await db.sublevel<string, Uint8Array>('idxq', { keyEncoding: 'utf8', valueEncoding: 'view' }).keys().all()).toEqual([]);
  const keys = await idx.keys({ gte: 'conflict/', lt: 'conflict0' }).all();
  expect(keys.length).toBeGreaterThan(0);
  for (const key of keys) await idx.del(key);
  if (progress === undefined) await state.del(CONFLICT_INDEX_KEY);
  else await state.put(CONFLICT_INDEX_KEY, createValueCodec().pack(progress));
  await db.close();
}

async function inbox(node: ApiNode) {
  const reply = await node.call('GET', '/v1/conflicts');
  expect(reply.status, reply.text).toBe(200);
  return responses.conflictInbox.parse(reply.json).records;
}

const reopen = (dir: string, log: CapturedLog, pageRecords = 1) => h.start({ nodeId: 'b', dataDir: dir, logger: log.logger, limits: { conflictIndexPageRecords: pageRecords } });
const migrated = (log: CapturedLog) => vi.waitFor(() => {
  const line = log.lines.find((l) => l.msg === COMPLETE);
  expect(line).toBeDefined();
  return line!;
}, { timeout: 20_000 });

describe('the conflict index of a data directory written before it', () => {
  it('is built after a reopen, a page at a time: GET /v1/conflicts lists the records in conflict; a resolve alongside is honoured', async () => {
    const dir = await conflictedDataDir();
    await removeConflictIndex(dir);
    const log = captureLog();
    const b = await reopen(dir, log);
    expect((await b.call('POST', '/v1/customers/c5/conflicts/email/resolve', { body: { keep: 'c5@a.example' } })).status).toBe(200);
    expect(await migrated(log)).toMatchObject({ scanned: 6 });
    expect((await inbox(b)).map((r) => r.id)).toEqual(['c1', 'c2', 'c3', 'c4']);
    expect(await b.node.getState(CONFLICT_INDEX_KEY)).toEqual({ done: true });
    expect((await b.node.records.conflictInbox({})).items.map((i) => i.id)).toEqual(['c1', 'c2', 'c3', 'c4']);
  }, 60_000);

  it('resumes after the last durable page of an interrupted run; once done, it never scans again', async () => {
    const dir = await conflictedDataDir();
    // As after a crash that followed the page ending at c2 (its keys removed too: a resumed run must not read it again).
    await removeConflictIndex(dir, { after: 'c2' });
    const log = captureLog();
    const b = await reopen(dir, log, 2);
    expect(await migrated(log)).toMatchObject({ scanned: 4, indexed: 3 });
    expect((await inbox(b)).map((r) => r.id)).toEqual(['c3', 'c4', 'c5']);
    await b.node.close();

    // Done is remembered: with the keys gone again, the next open reads nothing.
    await removeConflictIndex(dir, { done: true });
    const again = captureLog();
    const c = await reopen(dir, again);
    expect(await inbox(c)).toEqual([]);
    await c.node.close(); // waits for the migration, had it started
    expect(again.lines.filter((l) => /conflict index/.test(String(l.msg)))).toEqual([]);
  }, 60_000);
});
