import { describe, expect, it } from 'vitest';
import { progressLine, streamProgress } from '../../src/migrate/import/index.js';

const snap = (scanned: number, done?: number) => ({
  scanned, committed: scanned, created: scanned, updated: 0, unchanged: 0, rejected: 0,
  ...(done === undefined ? {} : { position: { done, total: 1000 } }),
});

describe('import progress', () => {
  it('shows rows/s, a bar, percentage and ETA', () => {
    expect(progressLine('import x', snap(5000, 250), 2000, true)).toBe(
      'import x: 5,000 rows  2,500 rows/s  [######------------------]  25%  ETA 0:06  (created 5,000, updated 0, unchanged 0, rejected 0)',
    );
    expect(progressLine('import x', snap(10), 1000, false)).toBe('import x: 10 rows  10 rows/s  (created 10, updated 0, unchanged 0, rejected 0)');
  });

  it('rewrites one line on a terminal and prints periodic lines otherwise', () => {
    let t = 0;
    const tty: string[] = [];
    const bar = streamProgress('import x', { write: (s) => tty.push(s), isTTY: true, columns: 40 }, () => t);
    bar.update(snap(1));
    t = 100;
    bar.update(snap(2)); // too soon
    t = 300;
    bar.update(snap(3));
    bar.finish();
    expect(tty).toHaveLength(3);
    expect(tty[0]).toMatch(/^\r\x1b\[2Kimport x: 1 rows/);
    expect(tty[0]!.length).toBeLessThanOrEqual(39 + 5);
    expect(tty[2]).toBe('\r\x1b[2K');

    t = 0;
    const plain: string[] = [];
    const lines = streamProgress('import x', { write: (s) => plain.push(s), isTTY: false }, () => t);
    lines.update(snap(1)); // a short run prints nothing
    t = 5000;
    lines.update(snap(2));
    lines.finish();
    expect(plain).toEqual(['import x: 2 rows  0 rows/s  (created 2, updated 0, unchanged 0, rejected 0)\n']);
  });
});
