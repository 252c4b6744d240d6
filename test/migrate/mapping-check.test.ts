/**
 * A mapping is checked completely before anything is opened or written: every problem
 * (unknown transforms, invalid regular expressions, date formats date-fns rejects,
 * unknown target fields) is reported at once with its line and column, as a user of
 * the `crmsync` executable sees it.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonLocator } from '../../src/migrate/mapping/json-location.js';
import { parseMapping } from '../../src/migrate/import/index.js';
import { crmsync, fixture, initDataDir, PROCESS_TIMEOUT_MS, tree } from './cli-process.js';
import { tempDirs } from './import-helpers.js';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

describe('checking a mapping before the import', () => {
  it('reports every problem with file:line:column, exits 2, and creates nothing', { timeout: PROCESS_TIMEOUT_MS }, async () => {
    const dataDir = await initDataDir(join(await dirs.make(), 'node'), 'checker');
    const before = await tree(dataDir);
    const mapping = fixture('mapping-broken.json');
    const result = await crmsync(['import', fixture('legacy.csv'), '--mapping', mapping, '-d', dataDir]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`invalid mapping file ${mapping} (5 problems):`);
    expect(result.stderr).toContain(`${mapping}:6:54 fields.company.transforms[0]: unknown transform "uper" (did you mean "upper"?); valid: trim, collapse, lower, upper,`);
    expect(result.stderr).toContain(`${mapping}:7:78 fields.phone.transforms[0].replace.pattern: invalid regular expression: /([0-9]+/g: Unterminated group`);
    expect(result.stderr).toContain(`${mapping}:8:80 fields["custom.since"].transforms[0].date.format: date format "DD.MM.YYYY": use yyyy for the year`);
    expect(result.stderr).toContain(`${mapping}:9:79 fields["custom.seen"].transforms[0].date.format: date format "dd.MM.yyyy nn" is not valid date-fns syntax`);
    expect(result.stderr).toContain(`${mapping}:10:20 fields["adress.city"]: unknown record field "adress.city" (did you mean "address.city"?)`);
    expect(await tree(dataDir)).toEqual(before);
  });

  it('finds cross-field problems even when the structure is wrong elsewhere', () => {
    const bad = {
      fields: {
        name: { column: 'Name', extra: true },
        stage: { column: 'Status', transforms: [{ lookup: 'stagez' }] },
        phone: { column: 'Phone', transforms: [{ phone: { invalid: 'ignore' } }, { date: {}, lookup: 'x' }] },
      },
      lookups: { stages: { a: 'lead' } },
    };
    let details: { field: string; message: string }[] = [];
    try {
      parseMapping(bad);
    } catch (err) {
      details = (err as { details: typeof details }).details;
    }
    expect(details).toEqual(expect.arrayContaining([
      { field: 'fields.name.extra', message: 'unknown key' },
      { field: 'fields.stage.transforms[0].lookup', message: 'lookup table "stagez" is not defined under "lookups" (did you mean "stages"?)' },
      { field: 'fields.phone.transforms[0].phone.invalid', message: expect.stringContaining('"reject"') },
      { field: 'fields.phone.transforms[1]', message: expect.stringContaining('a transform object has exactly one key') },
      { field: 'key', message: expect.stringContaining('no field maps "email"') },
    ]));
  });

  it('locates values by path, a missing key at its nearest parent', () => {
    const text = '{\n  "a": {\n    "b.c": [1, {"d": "x"}]\n  }\n}\n';
    const at = jsonLocator(text);
    expect(at(['a'])).toEqual({ line: 2, column: 8 });
    expect(at(['a', 'b.c', 1, 'd'])).toEqual({ line: 3, column: 22 });
    expect(at(['a', 'missing'])).toEqual({ line: 2, column: 8 });
  });
});
