/**
 * Key schema 3 stores values more compactly and reads schema 2's as they are. A data
 * directory that schema 2 wrote (made here by rewriting every value of a real node's
 * directory into schema 2's form) opens, serves every record, its history and conflicts
 * exactly as before, catches a new peer up, takes writes, and says schema 4 afterwards
 * (schema 4 only adds keys: keys.ts).
 */
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import { hasCode } from '../../src/errors.js';
import { createValueCodec } from '../../src/store/codec.js';
import { fromLogValue, type LogValue } from '../../src/store/log-codec.js';
import { fromMetaValue } from '../../src/store/meta-codec.js';
import { Harness, waitForConvergence } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());
const codec = createValueCodec();

type Db = Level<string, Uint8Array>;
const raw = (dir: string): Db => new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
const sub = (db: Db, name: string) => db.sublevel<string, Uint8Array>(name, { keyEncoding: 'utf8', valueEncoding: 'view' });

/** Rewrites every value schema 3 writes differently into schema 2's form; returns how many changed. */
async function downgradeToSchema2(dir: string): Promise<{ rec: number; log: number; origin: number }> {
  const db = raw(dir);
  await db.open();
  const batch = db.batch();
  const counts = { rec: 0, log: 0, origin: 0 };
  const hashOf = new Map<number, Uint8Array>();
  for await (const [key, value] of sub(db, 'log').iterator()) {
    const stored = codec.unpack<LogValue>(value);
    hashOf.set(parseInt(key, 16), stored.h);
    if (typeof stored.f !== 'number') continue;
    batch.put(key, codec.pack({ ...stored, f: fromLogValue(stored, 0).fields }), { sublevel: sub(db, 'log') } as never);
    counts.log++;
  }
  for await (const [key, value] of sub(db, 'rec').iterator()) {
    const stored = codec.unpack<unknown>(value);
    if (!Array.isArray(stored)) continue;
    batch.put(key, codec.pack(fromMetaValue(stored)), { sublevel: sub(db, 'rec') } as never);
    counts.rec++;
  }
  for await (const [key, value] of sub(db, 'origin').iterator()) {
    const l = codec.unpack<unknown>(value);
    if (typeof l !== 'number') continue;
    batch.put(key, codec.pack({ l, h: hashOf.get(l)! }), { sublevel: sub(db, 'origin') } as never);
    counts.origin++;
  }
  batch.put('schema', codec.pack(2), { sublevel: sub(db, 'meta') } as never);
  await batch.write();
  await db.close();
  return counts;
}

async function keysOf(dir: string, sublevel: string): Promise<string[]> {
  const db = raw(dir);
  await db.open();
  const keys = await sub(db, sublevel).keys().all();
  await db.close();
  return keys;
}

async function schemaOf(dir: string): Promise<number> {
  const db = raw(dir);
  await db.open();
  const value = await sub(db, 'meta').get('schema');
  await db.close();
  return codec.unpack<number>(value!);
}

/** Everything a reader sees of some records, as JSON (key order included). */
async function readable(node: CrmNode, ids: string[]): Promise<string> {
  const out = [];
  for (const id of ids) {
    const history = (await node.records.history(id)).map((e) => ({ ...e, localSeq: undefined }));
    out.push({ view: await node.records.get(id), conflicts: await node.records.conflicts(id), history });
  }
  return JSON.stringify(out);
}

describe('a data directory of key schema 2', () => {
  it('opens, reads exactly as before, catches a peer up, takes writes, and is schema 4 afterwards', async () => {
    const dirA = await h.tempDir();
    let a = await h.open({ dataDir: dirA, nodeId: 'a' });
    const dirB = await h.tempDir();
    let b = await h.open({ dataDir: dirB, nodeId: 'b', peers: [a.url!] });
    await a.records.create({ id: 'acme', name: 'Acme Corp', stage: 'lead', notes: 'Intro call.', tags: ['vip'], address: { city: 'Springfield' }, custom: { tier: 'gold', seats: 40 } });
    await a.records.create({ id: 'globex', name: 'Globex', email: 'info@globex.example', owner: 'anna', territory: 'DACH' });
    await a.records.upsertMany(Array.from({ length: 30 }, (_, i) => ({ id: `bulk-${i}`, fields: { name: `Bulk ${i}`, company: 'Initech', phone: `+1 555 01${String(i).padStart(2, '0')}` } })));
    await waitForConvergence([a, b]);
    // A conflict: both set the title while apart.
    await b.close();
    await a.records.update('acme', { title: 'CEO', address: { street: '1 Main St' } });
    b = await h.open({ dataDir: dirB, nodeId: 'b' });
    await b.records.update('acme', { title: 'CTO', custom: { seats: 41 } });
    await b.close();
    b = await h.open({ dataDir: dirB, nodeId: 'b', peers: [a.url!] });
    await waitForConvergence([a, b]);
    await a.records.delete('globex');
    await waitForConvergence([a, b]);
    await b.close();

    const ids = ['acme', 'globex', ...Array.from({ length: 30 }, (_, i) => `bulk-${i}`)];
    const before = await readable(a, ids);
    expect(JSON.parse(before)[0].conflicts.length).toBeGreaterThan(0);
    // Schema 2 wrote index keys with each write: a search writes what waits, so the
    // directory written back holds no `idxq` keys, as schema 2's never did.
    expect((await a.records.list({ q: 'initech', limit: 100 })).records).toHaveLength(30);
    await a.close();
    expect(await keysOf(dirA, 'idxq')).toEqual([]);

    const rewritten = await downgradeToSchema2(dirA);
    expect(rewritten.rec).toBe(ids.length);
    expect(rewritten.log).toBeGreaterThan(ids.length);
    expect(rewritten.origin).toBeGreaterThan(ids.length);
    expect(await schemaOf(dirA)).toBe(2);

    a = await h.open({ dataDir: dirA, nodeId: 'a' });
    expect(await readable(a, ids)).toBe(before);
    // A new peer takes everything from the old values (catch-up reads the origin index and the log).
    const c = await h.open({ dataDir: await h.tempDir(), nodeId: 'c', peers: [a.url!] });
    await waitForConvergence([a, c]);
    for (const id of ids) expect(JSON.stringify(await c.records.get(id))).toBe(JSON.stringify(await a.records.get(id)));
    // Writes to records stored in the old form.
    await a.records.update('acme', { phone: '+1 555 0100' });
    await a.records.update('bulk-3', { name: 'Bulk three' });
    await waitForConvergence([a, c]);
    expect((await c.records.get('acme'))?.phone).toBe('+1 555 0100');
    expect((await c.records.get('bulk-3'))?.name).toBe('Bulk three');
    // The search tokens schema 2 wrote with each record are found, and a renamed record's
    // are replaced (schema 4 writes index keys behind the write: index-backlog.ts).
    expect((await a.records.list({ q: 'acme' })).records.map((r) => r.id)).toContain('acme');
    expect((await a.records.list({ q: 'three' })).records.map((r) => r.id)).toEqual(['bulk-3']);
    expect((await a.records.list({ q: 'bulk', limit: 100 })).records.map((r) => r.id)).toHaveLength(30);
    await a.close();
    expect(await schemaOf(dirA)).toBe(4);
  });

  it('refuses a directory of a newer schema with ERR_CORRUPT naming both, and leaves it as it was', async () => {
    const dir = await h.tempDir();
    const a = await h.open({ dataDir: dir, nodeId: 'a' });
    await a.records.create({ id: 'acme', name: 'Acme Corp' });
    await a.close();
    const db = raw(dir);
    await db.open();
    await sub(db, 'meta').put('schema', codec.pack(5));
    await db.close();
    let error: unknown;
    await h.open({ dataDir: dir, nodeId: 'a' }).catch((err: unknown) => (error = err));
    expect(hasCode(error, 'ERR_CORRUPT')).toBe(true);
    expect((error as Error).message).toMatch(/key schema 5; this crmsync reads schema 4/);
    expect(await schemaOf(dir)).toBe(5);
  });
});
