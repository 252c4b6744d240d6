import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importRecordId, openSource } from '../../src/migrate/import/index.js';
import { detectDelimiter } from '../../src/migrate/sources/csv.js';
import { addsUp, listAll, file, importFile, LEGACY_HEADER, importHarness } from './import-helpers.js';

const { dirs, node } = importHarness();

const csvLines = (delimiter: string, rows: string[][]) => rows.map((r) => r.join(delimiter)).join('\r\n') + '\r\n';

describe('CSV delimiter detection', () => {
  it('chooses comma, semicolon or tab by consistent counts outside quotes', () => {
    expect(detectDelimiter('a,b,c\n1,2,3\n')).toBe(',');
    expect(detectDelimiter('a;b;c\n"1,5";2;"x,y,z"\n')).toBe(';');
    expect(detectDelimiter('a\tb\n1\t"2;3;4"\n')).toBe('\t');
    expect(detectDelimiter('\ufeffname;city\nAda;"Lon, don"\n')).toBe(';');
  });
});

describe('CSV import', () => {
  it('reads semicolons, a BOM, quoted delimiters, doubled quotes and newlines in fields', async () => {
    const dir = await dirs.make();
    const path = await file(dir, 'legacy.csv', '\ufeff' + csvLines(';', [
      LEGACY_HEADER,
      ['1', 'Ada', 'Lovelace', 'ADA@Example.com', '030 1234567', '"Engines; Ltd"', 'Prospect'],
      ['2', '"Bob ""The Builder"""', 'Smith', 'bob@example.com', '+1 212 555 0100', '"Line one\nline two"', 'client'],
      ['3', 'Chloé', 'Dupont', 'chloe@example.fr', '', 'Société Générale', 'Lost'],
    ]));
    const n = await node();
    const report = await importFile(n, path);
    expect(report).toMatchObject({ read: 3, created: 3, updated: 0, unchanged: 0, rejected: 0 });
    expect(report.source).toContain(';-separated');
    const ada = await n.records.get(importRecordId('legacy', '1'));
    expect(ada).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.com', phone: '+49301234567', company: 'Engines; Ltd', stage: 'lead', custom: { sourceId: '1' } });
    expect(await n.records.get(importRecordId('legacy', '2'))).toMatchObject({ name: 'Bob "The Builder" Smith', company: 'Line one line two', stage: 'customer', phone: '+12125550100' });
    expect(await n.records.get(importRecordId('legacy', '3'))).toMatchObject({ name: 'Chloé Dupont', company: 'Société Générale' });
  });

  it('reads tab-separated Latin-1, detected from invalid UTF-8 or forced with encoding latin1', async () => {
    const dir = await dirs.make();
    const text = csvLines('\t', [LEGACY_HEADER, ['7', 'Jürgen', 'Müller', 'j@example.de', '089 123456', 'Bäckerei Groß', 'Client']]);
    const path = await file(dir, 'latin1.csv', Buffer.from(text, 'latin1'));
    const auto = await node();
    const report = await importFile(auto, path);
    expect(report).toMatchObject({ created: 1, rejected: 0 });
    expect(report.source).toContain('latin1, tab-separated');
    expect(await auto.records.get(importRecordId('legacy', '7'))).toMatchObject({ name: 'Jürgen Müller', company: 'Bäckerei Groß' });
    const forced = await node();
    expect(await importFile(forced, path, undefined, { encoding: 'latin1' })).toMatchObject({ created: 1 });
  });

  it('fails clearly when a UTF-8 file turns invalid after the first chunk', async () => {
    const dir = await dirs.make();
    const head = csvLines(',', [LEGACY_HEADER]);
    const filler = csvLines(',', Array.from({ length: 2000 }, (_, i) => [`${i + 1}`, 'Ann', 'Lee', `a${i}@example.com`, '', 'Acme', 'Client']));
    const bad = Buffer.concat([Buffer.from(head + filler), Buffer.from('9999,J\xfcrgen,X,j@example.de,,Acme,Client\n', 'latin1')]);
    const path = await file(dir, 'mixed.csv', bad);
    await expect(importFile(await node(), path, undefined, { dryRun: true })).rejects.toMatchObject({ code: 'ERR_VALIDATION', message: expect.stringContaining('--encoding latin1') });
  });

  it('rejects bad rows with line, field and reason, and accounts for every row', async () => {
    const dir = await dirs.make();
    const content = [
      LEGACY_HEADER.join(','),
      '1,Ada,Lovelace,ada@example.com,,Acme,Prospect', // line 2: ok
      '2,Bob,Smith,not-an-email,,Acme,Client', // line 3: bad e-mail
      '3,Cy,Young,cy@example.com,12,Acme,Client', // line 4: bad phone
      '4,Di,Ross,di@example.com,,Acme,Martian', // line 5: unknown status
      '5,Too,Many,x@example.com,,Acme,Client,extra', // line 6: column count
      ',No,Key,nokey@example.com,,Acme,Client', // line 7: empty key
      '1,Ada,Again,ada2@example.com,,Acme,Client', // line 8: duplicate key
      '6,"Multi', 'Line",Name,m@example.com,,Acme,Client', // lines 9-10: ok, two lines
      '7,Eve,"stray"quote,e@example.com,,Acme,Client', // line 11: ok, the stray quotes are kept
      '8,Fay,"never closed,f@example.com,,Acme,Client', // line 12: unclosed quote
      '9,Gil,Lost,g@example.com,,Acme,Client', // line 13: ok, not swallowed by the open quote
    ].join('\n') + '\n';
    const path = await file(dir, 'bad.csv', content);
    const report = await importFile(await node(), path);
    expect(addsUp(report)).toBe(true);
    expect(report).toMatchObject({ read: 11, created: 4, rejected: 7 });
    const byLine = Object.fromEntries(report.rejects.map((r) => [r.line, r]));
    expect(byLine[3]).toMatchObject({ row: 2, field: 'email', reason: expect.stringContaining('e-mail') });
    expect(byLine[4]).toMatchObject({ field: 'phone' });
    expect(byLine[5]).toMatchObject({ field: 'stage', reason: expect.stringContaining('lookup table "stages"') });
    expect(byLine[6]).toMatchObject({ field: '(row)', reason: expect.stringContaining('expected 7 columns') });
    expect(byLine[7]).toMatchObject({ field: 'Customer ID', reason: expect.stringContaining('empty') });
    expect(byLine[8]).toMatchObject({ key: '1', reason: expect.stringContaining('duplicate key "1": row 1') });
    expect(byLine[12]).toMatchObject({ field: '(row)', reason: 'unclosed quote opened on line 12', raw: '8,Fay,"never closed,f@example.com,,Acme,Client' });
  });

  it('writes the rejects file as NDJSON or CSV', async () => {
    const dir = await dirs.make();
    const path = await file(dir, 'r.csv', `${LEGACY_HEADER.join(',')}\n1,A,B,bad,,X,Client\n2,C,D,"also, bad",,X,Client\n`);
    const ndjson = join(dir, 'rejects.ndjson');
    const csv = join(dir, 'rejects.csv');
    await importFile(await node(), path, undefined, { rejects: ndjson });
    await importFile(await node(), path, undefined, { rejects: csv });
    const entries = (await readFile(ndjson, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(entries).toMatchObject([{ row: 1, line: 2, field: 'email' }, { row: 2, line: 3, field: 'email', values: { 'E-mail': 'also, bad' } }]);
    const lines = (await readFile(csv, 'utf8')).trim().split('\n');
    expect(lines[0]).toBe('row,line,key,field,reason,raw');
    expect(lines[2]).toMatch(/^2,3,,email,"""also, bad"" is not a valid e-mail address",$/);
  });

  it('is idempotent: a second run creates and updates nothing', async () => {
    const dir = await dirs.make();
    const path = await file(dir, 'again.csv', csvLines(',', [LEGACY_HEADER, ...Array.from({ length: 30 }, (_, i) => [`${i + 1}`, 'Person', `${i}`, `p${i}@example.com`, '', 'Acme', 'Client'])]));
    const n = await node();
    expect(await importFile(n, path)).toMatchObject({ created: 30, updated: 0 });
    const clock = (await n.status()).clock;
    const again = await importFile(n, path);
    expect(again).toMatchObject({ read: 30, created: 0, updated: 0, unchanged: 30, rejected: 0 });
    expect((await n.status()).clock).toEqual(clock);
    expect(await listAll(n)).toHaveLength(30);
  });

  it('streams: rows come one at a time with their start lines', async () => {
    const dir = await dirs.make();
    const path = await file(dir, 's.csv', 'a,b\n1,"x\ny"\n\n2,z\n');
    const source = await openSource(path);
    const rows = [];
    for await (const row of source.rows()) rows.push(row);
    expect(rows).toEqual([{ ordinal: 1, line: 2, values: { a: '1', b: 'x\ny' } }, { ordinal: 2, line: 5, values: { a: '2', b: 'z' } }]);
  });
});
