import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, LIMIT_TABLE, resolveLimits } from '../src/limits.js';
import { END, START, limitsTable } from '../scripts/limits-table.js';

describe('limits', () => {
  it('the README table is the one generated from src/limits.ts (run `npm run docs:limits` after a change)', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf(START), readme.indexOf(END) + END.length);
    expect(section).toBe(limitsTable());
  });

  it('every overridable limit has a positive default and a reason', () => {
    for (const [name, doc] of Object.entries(LIMIT_TABLE)) {
      expect(DEFAULT_LIMITS[name as keyof typeof DEFAULT_LIMITS], name).toBeGreaterThan(0);
      expect(doc.reason.length, name).toBeGreaterThan(10);
    }
  });

  it('overrides replace defaults; unknown names and nonsense values are refused', () => {
    expect(resolveLimits({ maxPageSize: 5 }).maxPageSize).toBe(5);
    expect(() => resolveLimits({ maxPagSize: 5 } as never)).toThrow(/unknown limit "maxPagSize"/);
    expect(() => resolveLimits({ heartbeatMs: 0 })).toThrow(TypeError);
    expect(() => resolveLimits({ heartbeatMs: Number.NaN })).toThrow(TypeError);
  });
});
