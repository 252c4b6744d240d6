/**
 * Database sources: an SQLite file written by the test (through the same WebAssembly
 * SQLite the importer reads with), and a real PostgreSQL server the test starts itself
 * on 127.0.0.1: PGlite (Postgres compiled to WebAssembly) served over its socket
 * adapter, read through the real `pg` driver and a server-side cursor.
 */
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import sqlite3 from 'node-sqlite3-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrmNode } from '../../src/index.js';
import {
  importRecordId, memoryRejects, nodeSink, openSource, parseMapping, runImport,
  type ImportSink, type MappingInput, type OpenSourceOptions,
} from '../../src/migrate/import/index.js';
import { addsUp, listAll, importHarness } from './import-helpers.js';

const { dirs, node } = importHarness();

const SQL_MAPPING: MappingInput = {
  key: { column: 'id' },
  watermark: { column: 'updated_at' },
  defaults: { phoneCountry: 'US' },
  fields: {
    name: { columns: ['first_name', 'last_name'] },
    email: { column: 'email', transforms: ['email'] },
    phone: { column: 'phone', transforms: ['phone'] },
    company: { column: 'company' },
    'custom.sourceId': { column: 'id' },
  },
};

async function run(n: CrmNode, location: string, source: OpenSourceOptions, extra: { incremental?: boolean; signal?: AbortSignal; sink?: ImportSink } = {}) {
  const opened = await openSource(location, source);
  try {
    return await runImport({
      source: opened, mapping: parseMapping(SQL_MAPPING), sink: extra.sink ?? nodeSink(n), sourceName: 'crm', rejects: memoryRejects(), batchRows: 10,
      ...(extra.incremental ? { incremental: true } : {}), ...(extra.signal ? { signal: extra.signal } : {}),
    });
  } finally {
    await opened.close();
  }
}

/** A sink that stops the run (like Ctrl-C) once `after` batches are durable. */
function stoppingAfter(inner: ImportSink, after: number, controller: AbortController): ImportSink {
  let batches = 0;
  return {
    ...inner,
    async upsertMany(items, options) {
      const results = await inner.upsertMany(items, options);
      if (++batches === after) controller.abort();
      return results;
    },
  };
}

describe('SQLite source', () => {
  it('imports a table in key order, resumes after the last committed key, and runs a query', async () => {
    const dir = await dirs.make();
    const path = `${dir}/legacy.sqlite`;
    const db = new sqlite3.Database(path);
    db.exec('CREATE TABLE contacts (id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, email TEXT, phone TEXT, company TEXT, updated_at TEXT)');
    for (let i = 45; i >= 1; i--) {
      db.run('INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?, ?)', [i, 'Sam', `Lite ${i}`, `sam${i}@example.com`, i === 13 ? 'bogus' : null, 'Acme', `2024-01-${String(1 + (i % 28)).padStart(2, '0')}`]);
    }
    db.close();

    const n = await node();
    const controller = new AbortController();
    const partial = await run(n, path, { table: 'contacts', keyColumn: 'id' }, { signal: controller.signal, sink: stoppingAfter(nodeSink(n), 2, controller) });
    expect(partial.completed).toBe(false);
    expect(addsUp(partial)).toBe(true);
    const rest = await run(n, path, { table: 'contacts', keyColumn: 'id' });
    expect(rest.resumedAfterRow).toBeGreaterThanOrEqual(20);
    expect(addsUp(rest)).toBe(true);
    expect(partial.created + rest.created).toBe(44);
    expect(partial.rejected + rest.rejected).toBe(1);
    expect((await listAll(n)).length).toBe(44);
    expect(await n.records.get(importRecordId('crm', '45'))).toMatchObject({ name: 'Sam Lite 45', custom: { sourceId: 45 } });

    const viaQuery = await run(await node(), path, { query: "SELECT * FROM contacts WHERE company = 'Acme' ORDER BY id" });
    expect(viaQuery).toMatchObject({ read: 45, created: 44, rejected: 1 });
  });
});

describe('PostgreSQL source (a real server on 127.0.0.1)', () => {
  let pglite: PGlite;
  let server: PGLiteSocketServer;
  let url: string;
  beforeAll(async () => {
    pglite = await PGlite.create();
    await pglite.exec(`
      CREATE TABLE customers (id INT PRIMARY KEY, first_name TEXT, last_name TEXT, email TEXT, phone TEXT, company TEXT, updated_at TIMESTAMPTZ NOT NULL);
      INSERT INTO customers SELECT i, 'Pat', 'Gres ' || i, 'pat' || i || '@example.com', '+1 212 555 ' || lpad(i::text, 4, '0'), 'Elephant Inc',
        TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 minute' FROM generate_series(1, 60) AS i;
    `);
    server = new PGLiteSocketServer({ db: pglite, host: '127.0.0.1', port: 0 });
    await server.start();
    url = `postgres://postgres@${server.getServerConn()}/postgres?sslmode=disable`;
  });
  afterAll(async () => {
    await server?.stop();
    await pglite?.close();
  });

  it('imports a table through a cursor, then only the rows changed since (incremental)', async () => {
    const n = await node();
    const first = await run(n, url, { format: 'postgres', table: 'customers', keyColumn: 'id' }, { incremental: true });
    expect(first).toMatchObject({ read: 60, created: 60, rejected: 0, watermark: { before: null, after: Date.parse('2024-01-01T01:00:00Z') } });
    expect(await n.records.get(importRecordId('crm', '7'))).toMatchObject({ name: 'Pat Gres 7', phone: '+12125550007', company: 'Elephant Inc' });

    await pglite.exec(`
      UPDATE customers SET company = 'Mammoth Ltd', updated_at = TIMESTAMPTZ '2024-02-01 00:00:00+00' WHERE id IN (3, 30);
      INSERT INTO customers VALUES (61, 'New', 'Row', 'new@example.com', NULL, 'Fresh', TIMESTAMPTZ '2024-02-02 00:00:00+00');
    `);
    const second = await run(n, url, { format: 'postgres', table: 'customers', keyColumn: 'id' }, { incremental: true });
    expect(addsUp(second)).toBe(true);
    expect(second).toMatchObject({ read: 3, updated: 2, created: 1, unchanged: 0, skipped: { notNewer: 58 }, watermark: { after: Date.parse('2024-02-02T00:00:00Z') } });
    expect(await n.records.get(importRecordId('crm', '30'))).toMatchObject({ company: 'Mammoth Ltd' });
    const third = await run(n, url, { format: 'postgres', table: 'customers', keyColumn: 'id' }, { incremental: true });
    expect(third).toMatchObject({ read: 0, skipped: { notNewer: 61 } });
  });

  it('imports the result of a query', async () => {
    const report = await run(await node(), url, { format: 'postgres', query: 'SELECT * FROM customers WHERE id <= 10 ORDER BY id' });
    expect(report).toMatchObject({ read: 10, created: 10 });
    await expect(run(await node(), url, { format: 'postgres', table: 'no_such_table' })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });
});
