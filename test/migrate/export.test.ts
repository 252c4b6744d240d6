/**
 * Export to CSV and NDJSON from a node on a real LevelDB directory: the files parse
 * back (with csv-parse) to the records, awkward text survives quoting, filters select
 * the same records as list(), and records are read and written page by page.
 */
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATOMIC_FIELDS, type CrmNode, type RecordView } from '../../src/index.js';
import { defaultObject } from '../../src/migrate/export-columns.js';
import { exportRecords, nodePages, type ExportOptions, type PageReader } from '../../src/migrate/export.js';
import { customer, listAll, nodeAt, tempDir } from './helpers.js';

let dir: string;
let remove: () => Promise<void>;
let node: CrmNode;

const DOCUMENTED_COLUMNS = ('id,name,email,phone,company,title,address.street,address.city,address.region,address.postcode,address.country,owner,territory,stage,'
  + 'tags,notes,interactions,custom.region,custom.score,custom.source,custom.vip,createdAt,updatedAt,deleted').split(',');

const AWKWARD = 'Müller, "Mack" & Söhne\nZweite Zeile\r\nDritte';

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  node = await nodeAt(join(dir, 'node'), 'exporter');
  await node.records.upsertMany(Array.from({ length: 45 }, (_, i) => {
    const { id, ...fields } = customer(i);
    return { id, fields };
  }));
  await node.records.update('c-00001', {
    name: 'Anna "Nan" Schmidt, PhD', company: AWKWARD, notes: 'a,b;c\n"d"', title: '=SUM(A1)',
    address: { street: 'Hauptstr. 1, Hinterhaus', city: 'Berlin', country: 'DE' },
    custom: { score: 7, vip: true, source: 'fair, 2024' }, addTags: ['key account'],
  });
  await node.records.update('c-00002', { custom: { region: 'emea' }, phone: '+49 30 1234567' });
  await node.records.delete('c-00003');
});
afterAll(async () => {
  await node.close();
  await remove();
});

/** Runs an export into a string. */
async function run(read: PageReader, options: ExportOptions): Promise<{ text: string; result: Awaited<ReturnType<typeof exportRecords>> }> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const result = await exportRecords(read, out, options);
  out.end();
  return { text: Buffer.concat(chunks).toString('utf8'), result };
}

const csvRows = (text: string) => parse(text, { columns: true, bom: true }) as Record<string, string>[];

describe('export', () => {
  it('writes CSV that parses back to the records, quoting commas, quotes and newlines', async () => {
    const { text, result } = await run(nodePages(node), { format: 'csv', escapeFormulas: false });
    const live = (await listAll(node)).filter((r) => !r.deleted);
    expect(result.records).toBe(live.length);
    // The columns docs/cli.md lists, in its order; a field added to the record schema adds its own column among them.
    const header = text.slice(0, text.indexOf('\r\n')).split(',');
    expect(header.filter((c) => DOCUMENTED_COLUMNS.includes(c))).toEqual(DOCUMENTED_COLUMNS);
    expect(header.filter((c) => !DOCUMENTED_COLUMNS.includes(c)).every((c) => (ATOMIC_FIELDS as readonly string[]).includes(c))).toBe(true);
    const rows = csvRows(text);
    expect(rows.map((r) => r.id)).toEqual(live.map((r) => r.id));
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const view of live) {
      const row = byId.get(view.id)!;
      expect(row.name).toBe(view.name);
      expect(row.company).toBe(view.company ?? '');
      expect(row.notes).toBe(view.notes);
      expect(row.tags!.split(';').filter(Boolean)).toEqual(view.tags);
      expect(row['address.street']).toBe(view.address.street ?? '');
      expect(Date.parse(row.updatedAt!)).toBe(view.updatedAt);
      expect(row.deleted).toBe('false');
    }
    const anna = byId.get('c-00001')!;
    expect(anna).toMatchObject({ name: 'Anna "Nan" Schmidt, PhD', company: AWKWARD, title: '=SUM(A1)', 'custom.score': '7', 'custom.vip': 'true', 'custom.source': 'fair, 2024' });
    expect(byId.get('c-00002')).toMatchObject({ 'custom.region': 'emea', 'custom.score': '', phone: '+49 30 1234567' });
    // By default, formula-leading cells (a phone number too) get a leading quote.
    const escaped = csvRows((await run(nodePages(node), { format: 'csv' })).text);
    expect(escaped.find((r) => r.id === 'c-00001')).toMatchObject({ title: "'=SUM(A1)" });
    expect(escaped.find((r) => r.id === 'c-00002')).toMatchObject({ phone: "'+49 30 1234567" });
  });

  it('escapes every formula-leading character (=, +, -, @, tab, CR) by default, and none with escapeFormulas off', async () => {
    const view = (await listAll(node)).find((r) => r.id === 'c-00003')!;
    const leading = ['=1+1', '+1 202', '-2+3', '@SUM(A1)', '\tcmd', '\rcmd'];
    const views = leading.map((title, i): RecordView => ({ ...view, id: `f-${i}` as RecordView['id'], title }));
    const pages: PageReader = async () => ({ records: views, next: undefined });
    const escaped = csvRows((await run(pages, { format: 'csv' })).text).map((r) => r.title);
    expect(escaped).toEqual(leading.map((t) => `'${t}`));
    const plain = csvRows((await run(pages, { format: 'csv', escapeFormulas: false })).text).map((r) => r.title);
    expect(plain).toEqual(leading);
  });

  it('writes NDJSON, one record per line, with every key present', async () => {
    const { text, result } = await run(nodePages(node, { includeDeleted: true }), { format: 'ndjson' });
    const all = await listAll(node);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(all.length);
    expect(result.records).toBe(all.length);
    expect(lines.map((l) => JSON.parse(l))).toEqual(all.map(defaultObject));
    const deleted = JSON.parse(lines.find((l) => l.includes('"c-00003"'))!);
    expect(deleted).toMatchObject({ deleted: true, email: 'customer3@example.com' });
    expect(deleted.deletedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(JSON.parse(lines[4]!)).toHaveProperty('phone', null);
  });

  it('applies the list filters', async () => {
    const all = await listAll(node);
    const ids = async (filters: Parameters<typeof nodePages>[1]) => {
      const { text } = await run(nodePages(node, filters, 7), { format: 'csv', customColumns: [] });
      return csvRows(text).map((r) => r.id);
    };
    const expected = (pred: (v: RecordView) => boolean) => all.filter((v) => !v.deleted && pred(v)).map((v) => v.id);
    expect(await ids({ territory: 'north' })).toEqual(expected((v) => v.territory === 'north'));
    expect(await ids({ owner: 'ben', territory: 'south' })).toEqual(expected((v) => v.owner === 'ben' && v.territory === 'south'));
    expect(await ids({ stage: 'lead' })).toEqual(expected((v) => v.stage === 'lead'));
    expect(await ids({ q: 'schmidt' })).toEqual(['c-00001']);
    const since = (await node.records.get('c-00002'))!.updatedAt;
    expect((await ids({ updatedSince: since })).sort()).toEqual(expected((v) => v.updatedAt >= since).sort());
    expect(await ids({ includeDeleted: true })).toContain('c-00003');
    expect(await ids({})).not.toContain('c-00003');
  });

  it('reads and writes page by page, waiting for a slow output', async () => {
    const events: string[] = [];
    const inner = nodePages(node, {}, 10);
    const read: PageReader = async (after) => {
      const page = await inner(after);
      events.push(`read ${page.records.length}`);
      return page;
    };
    let written = 0;
    // A tiny buffer: every write reports "full" and the export must wait for drain.
    const slow = new Writable({
      highWaterMark: 16,
      write(chunk: Buffer, _enc, done) {
        written += chunk.length;
        events.push('write');
        setImmediate(done);
      },
    });
    const result = await exportRecords(read, slow, { format: 'ndjson' });
    expect(result.records).toBe(44);
    expect(events.filter((e) => e.startsWith('read'))).toEqual(['read 10', 'read 10', 'read 10', 'read 10', 'read 4']);
    // Each page is written before the next one is read.
    expect(events.slice(0, 4)).toEqual(['read 10', 'write', 'read 10', 'write']);
    expect(written).toBeGreaterThan(0);
  });

  it('fails the export, not the process, when the output fails', async () => {
    const broken = new Writable({
      write(_chunk, _enc, done) {
        done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    await expect(exportRecords(nodePages(node, {}, 10), broken, { format: 'ndjson' })).rejects.toMatchObject({ code: 'EPIPE' });
  });

  it('reports custom fields missing from a given column list, and tags containing the separator', async () => {
    await node.records.update('c-00010', { addTags: ['a;b'] });
    const { text, result } = await run(nodePages(node), { format: 'csv', customColumns: ['score'] });
    expect(result.unlistedCustom).toEqual(['region', 'source', 'vip']);
    expect(result.tagsWithSeparator).toBe(1);
    expect(Object.keys(csvRows(text)[0]!)).toContain('custom.score');
    await node.records.update('c-00010', { removeTags: ['a;b'] });
  });

  it('uses a reverse mapping when given, and can escape formulas and write a BOM', async () => {
    const mapper = {
      columns: ['Full Name', 'E-mail', 'Tags', 'Since'],
      row: (v: RecordView) => ({ 'Full Name': v.name, 'E-mail': v.email, Tags: v.tags, Since: new Date(v.createdAt), Extra: 'ignored' }),
    };
    const { text } = await run(nodePages(node), { format: 'csv', mapper, bom: true, escapeFormulas: true });
    expect(text.charCodeAt(0)).toBe(0xfeff);
    const rows = csvRows(text);
    expect(Object.keys(rows[0]!)).toEqual(['Full Name', 'E-mail', 'Tags', 'Since']);
    expect(rows.find((r) => r['E-mail'] === 'customer1@example.com')).toMatchObject({ 'Full Name': 'Anna "Nan" Schmidt, PhD', Tags: 'key account;t1' });
    const titled = await run(nodePages(node, { q: 'schmidt' }), { format: 'csv', customColumns: [], escapeFormulas: true });
    expect(csvRows(titled.text)[0]!.title).toBe("'=SUM(A1)");
    const nd = await run(nodePages(node, { q: 'schmidt' }), { format: 'ndjson', mapper });
    expect(JSON.parse(nd.text)).toMatchObject({ 'Full Name': 'Anna "Nan" Schmidt, PhD', Tags: ['key account', 't1'] });
  });
});
