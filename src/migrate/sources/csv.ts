/**
 * CSV source: the delimiter (comma, semicolon or tab) detected from the first lines,
 * quoted fields with delimiters, quotes and newlines, BOM stripped, UTF-8 or Latin-1.
 * Records come from csv-reader.ts; a malformed row is yielded as a row with an `error`
 * and its raw text (so it is counted and rejected) instead of ending the import.
 */
import { stat } from 'node:fs/promises';
import { CrmsyncError } from '../../index.js';
import { CSV_RAW_CHARS, csvRecords, type CsvRecord } from './csv-reader.js';
import { readText, type Encoding } from './decode.js';
import { probeFirstRow, type ImportSource, type SourceRow } from './source.js';

/** Delimiters the detector chooses among. */
export const DELIMITERS = [',', ';', '\t'] as const;
/** One of DELIMITERS. */
export type Delimiter = (typeof DELIMITERS)[number];

/** Lines of the file's start the delimiter detector looks at. */
const SNIFF_LINES = 20;

/**
 * Counts each candidate per line outside quotes over the first lines; the winner appears
 * on every line the same number of times (ties: the most per line), else the most often.
 */
export function detectDelimiter(sample: string): Delimiter {
  const counts = sniffLines(sample.replace(/^\ufeff/, ''));
  let best: Delimiter = ',';
  let bestScore = -1;
  for (const [i, delimiter] of DELIMITERS.entries()) {
    const perLine = counts.map((line) => line[i]!);
    const total = perLine.reduce((a, b) => a + b, 0);
    if (total === 0) continue;
    const consistent = perLine.every((n) => n === perLine[0]);
    const score = (consistent ? 1e9 : 0) + (consistent ? perLine[0]! : total);
    if (score > bestScore) [best, bestScore] = [delimiter, score];
  }
  return best;
}

function sniffLines(sample: string): number[][] {
  const lines: number[][] = [];
  let current = DELIMITERS.map(() => 0);
  let quoted = false;
  for (let i = 0; i < sample.length && lines.length < SNIFF_LINES; i++) {
    const ch = sample[i]!;
    if (ch === '"') quoted = !quoted; // a doubled quote toggles twice: still right
    else if (!quoted && ch === '\n') {
      lines.push(current);
      current = DELIMITERS.map(() => 0);
    } else if (!quoted) {
      const index = DELIMITERS.indexOf(ch as Delimiter);
      if (index >= 0) current[index]!++;
    }
  }
  // A last line cut off by the sample end is only trusted when it is the only one.
  if (lines.length === 0) lines.push(current);
  return lines;
}

/** Options of a CSV source. */
export interface CsvOptions {
  encoding?: Encoding;
  /** Forces a delimiter instead of detecting it. */
  delimiter?: Delimiter;
}

/** Opens a CSV file as a source (the header row names the columns). */
export async function csvSource(path: string, options: CsvOptions = {}): Promise<ImportSource> {
  const info = await stat(path);
  const fingerprint = `csv:${info.size}:${info.mtimeMs}`;
  let detected: { delimiter: Delimiter; encoding: string } | undefined;
  let bytesRead = () => 0;
  const open = async () => {
    const text = await readText(path, options.encoding ?? 'auto');
    const first = await text.chunks.next();
    const head = first.done ? '' : first.value;
    const delimiter = options.delimiter ?? detectDelimiter(head);
    return { text, delimiter, records: csvRecords(prepend(head, text.chunks), delimiter) };
  };
  const source: ImportSource = {
    get description() {
      const how = detected ? ` (${detected.encoding}, ${detected.delimiter === '\t' ? 'tab' : detected.delimiter}-separated)` : '';
      return `CSV file ${path}${how}`;
    },
    fingerprint,
    resume: 'ordinal',
    strictColumns: true,
    async columns() {
      const { records } = await open();
      try {
        const first = await records.next();
        return first.done ? [] : headerOf(path, first.value);
      } finally {
        await records.return(undefined);
      }
    },
    progress: () => ({ done: bytesRead(), total: info.size }),
    probe: () => probeFirstRow(source.rows()),
    async *rows() {
      const { text, delimiter, records } = await open();
      bytesRead = text.bytesRead;
      detected = { delimiter, encoding: text.encoding };
      yield* csvRows(path, records);
    },
    async close() {},
  };
  return source;
}

async function* prepend(head: string, rest: AsyncGenerator<string>): AsyncGenerator<string> {
  if (head) yield head;
  yield* rest;
}

function headerOf(path: string, record: CsvRecord): string[] {
  if (record.error) {
    throw new CrmsyncError('ERR_VALIDATION', `the header row of ${path} (line ${record.line}) cannot be read: ${record.error}`, { details: [{ field: 'header', message: record.error }] });
  }
  return record.fields.map((name) => name.trim());
}

/** The file's records as rows named by the header; a file without data rows is an error. */
async function* csvRows(path: string, records: AsyncGenerator<CsvRecord>): AsyncGenerator<SourceRow> {
  let header: string[] | undefined;
  let ordinal = 0;
  for await (const record of records) {
    if (!header) {
      header = headerOf(path, record);
      continue;
    }
    const { line } = record;
    if (record.error) {
      yield { ordinal: ++ordinal, line, values: {}, error: record.error, raw: record.raw };
      continue;
    }
    if (record.fields.length !== header.length) {
      const spans = record.lines > 1 ? ` (the row spans lines ${line}-${line + record.lines - 1}: a quoted field holds line breaks)` : '';
      yield { ordinal: ++ordinal, line, values: {}, error: `expected ${header.length} columns (as in the header), found ${record.fields.length}${spans}`, raw: clip(record.raw) };
      continue;
    }
    const values: Record<string, unknown> = {};
    for (const [i, name] of header.entries()) values[name] = unescapeFormula(record.fields[i]!);
    yield { ordinal: ++ordinal, line, values };
  }
  if (!header) throw new CrmsyncError('ERR_VALIDATION', `${path} is empty: no header row, no data`, { details: [{ field: 'source', message: 'empty' }] });
  if (ordinal === 0) throw new CrmsyncError('ERR_VALIDATION', `${path} has a header row but no data rows: nothing to import`, { details: [{ field: 'source', message: 'no data rows' }] });
}

/**
 * Undoes the `'` an export puts before a cell starting with = + - @ TAB or CR (against
 * formula injection), so an exported file imports back to the same values.
 */
export const unescapeFormula = (cell: string) => (cell.length > 1 && cell.charCodeAt(0) === 39 && '=+-@\t\r'.includes(cell[1]!) ? cell.slice(1) : cell);

const clip = (text: string) => (text.length > CSV_RAW_CHARS ? `${text.slice(0, CSV_RAW_CHARS)}…` : text);
