/** The streaming CSV reader on its own: chunk boundaries anywhere, line ends, broken quotes, limits. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvRecords, type CsvRecord } from '../../src/migrate/sources/csv-reader.js';

async function read(chunks: string[], max?: number): Promise<CsvRecord[]> {
  async function* input() {
    yield* chunks;
  }
  const out: CsvRecord[] = [];
  for await (const r of csvRecords(input(), ',', max)) out.push(r);
  return out;
}

const shape = (records: CsvRecord[]) => records.map(({ line, fields, error }) => (error ? { line, error } : { line, fields }));

describe('csvRecords', () => {
  it('reads quotes, doubled quotes, line breaks in fields, and LF, CRLF and lone CR line ends', async () => {
    const text = 'a,b\r\n"x,1","say ""hi"""\n"multi\r\nline",2\r3,"stray"quote\n,,\n\nlast,row';
    expect(shape(await read([text]))).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x,1', 'say "hi"'] },
      { line: 3, fields: ['multi\r\nline', '2'] },
      { line: 5, fields: ['3', '"stray"quote'] },
      { line: 8, fields: ['last', 'row'] },
    ]);
  });

  it('gives the same records wherever the text is cut into chunks', async () => {
    const text = 'id,name\r\n1,"A ""q"", b"\r\n2,"two\nlines"\r\n3,"open\n4,ok\r\n5,"x"y\r\n';
    const whole = shape(await read([text]));
    await fc.assert(fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 4 }), async (cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), text.length];
      const chunks = points.slice(1).map((end, i) => text.slice(points[i], end));
      expect(shape(await read(chunks))).toEqual(whole);
    }), { numRuns: 200, seed: 42 });
    expect(whole).toEqual([
      { line: 1, fields: ['id', 'name'] },
      { line: 2, fields: ['1', 'A "q", b'] },
      { line: 3, fields: ['2', 'two\nlines'] },
      { line: 5, error: 'unclosed quote opened on line 5 (the next quote, on line 7, is followed by "x" instead of a delimiter)' },
      { line: 6, fields: ['4', 'ok'] },
      { line: 7, fields: ['5', '"x"y'] },
    ]);
  });

  it('gives up on a record longer than the limit and reads on after its line', async () => {
    const long = 'x'.repeat(100);
    const records = await read(['a,b\n', `${long.slice(0, 50)}`, `${long.slice(50)},1\n2,"${long}\n3,c\n`], 60);
    expect(shape(records)).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, error: 'the line is longer than 60 characters (is this a CSV file?)' },
      { line: 3, error: 'unclosed quote opened on line 3' },
      { line: 4, fields: ['3', 'c'] },
    ]);
  });
});
