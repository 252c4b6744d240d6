/**
 * CSV source: the delimiter (comma, semicolon or tab) detected from the first lines,
 * quoted fields with delimiters, quotes and newlines, BOM stripped, UTF-8 or Latin-1.
 * Parsing is csv-parse's streaming parser; a malformed row is yielded as a row with an
 * `error` (so it is counted and rejected) instead of ending the import.
 */
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { parse, type Info } from 'csv-parse';
import { readText, type Encoding } from './decode.js';
import type { ImportSource, SourceRow } from './source.js';

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
  const source: ImportSource = {
    get description() {
      const how = detected ? ` (${detected.encoding}, ${detected.delimiter === '\t' ? 'tab' : detected.delimiter}-separated)` : '';
      return `CSV file ${path}${how}`;
    },
    fingerprint,
    resume: 'ordinal',
    strictColumns: true,
    async columns() {
      const text = await readText(path, options.encoding ?? 'auto');
      const first = await text.chunks.next();
      const head = first.done ? '' : first.value;
      let header: string[] = [];
      // eslint-disable-next-line @typescript-eslint/no-unused-vars
      for await (const _ of parseRows(prepend(head, text.chunks), options.delimiter ?? detectDelimiter(head), (h) => (header = h))) break;
      return header;
    },
    progress: () => ({ done: bytesRead(), total: info.size }),
    async *rows() {
      const text = await readText(path, options.encoding ?? 'auto');
      bytesRead = text.bytesRead;
      const first = await text.chunks.next();
      const head = first.done ? '' : first.value;
      const delimiter = options.delimiter ?? detectDelimiter(head);
      detected = { delimiter, encoding: text.encoding };
      yield* parseRows(prepend(head, text.chunks), delimiter);
    },
    async close() {},
  };
  return source;
}

async function* prepend(head: string, rest: AsyncGenerator<string>): AsyncGenerator<string> {
  if (head) yield head;
  yield* rest;
}

interface Parsed {
  record: string[];
  raw: string;
  info: Info;
}

async function* parseRows(text: AsyncIterable<string>, delimiter: Delimiter, onHeader?: (header: string[]) => void): AsyncGenerator<SourceRow> {
  // relax_quotes keeps a stray quote inside a field as a character (as spreadsheets do)
  // instead of losing track of where fields end for the rest of the file.
  const parser = parse({
    delimiter, bom: true, info: true, raw: true, relax_column_count: true, relax_quotes: true,
    skip_empty_lines: true, skip_records_with_error: true,
  });
  // Unparsable records arrive as events, possibly before good records still buffered in
  // the stream: they are yielded in line order.
  const skipped: { line: number; error: string }[] = [];
  parser.on('skip', (err: Error & { lines?: number; code?: string }) => {
    const line = err.lines ?? 0;
    const error = err.code === 'CSV_QUOTE_NOT_CLOSED'
      ? `a quote is never closed: the rest of the file, up to line ${line}, could not be read as rows (this counts as one rejected row)`
      : `unparsable CSV: ${err.message}`;
    skipped.push({ line, error });
  });
  const input = Readable.from(text);
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  let header: string[] | undefined;
  let ordinal = 0;
  const bad = (upTo: number) => skipped.splice(0, skipped.filter((s) => s.line < upTo).length).map((s): SourceRow => ({ ordinal: ++ordinal, line: s.line, values: {}, error: s.error }));
  try {
    for await (const parsed of parser as AsyncIterable<Parsed>) {
      const line = startLine(parsed);
      yield* bad(line);
      if (!header) {
        header = parsed.record.map((name) => name.trim());
        onHeader?.(header);
        continue;
      }
      if (parsed.record.length !== header.length) {
        yield { ordinal: ++ordinal, line, values: {}, error: `expected ${header.length} columns (as in the header), found ${parsed.record.length}` };
        continue;
      }
      const values: Record<string, unknown> = {};
      for (const [i, name] of header.entries()) values[name] = parsed.record[i];
      yield { ordinal: ++ordinal, line, values };
    }
    yield* bad(Infinity);
  } finally {
    // Ends the file read too when the consumer stops early.
    input.destroy();
  }
}

/** The line a record starts on: csv-parse reports the line it ends on. */
function startLine(parsed: Parsed): number {
  const body = parsed.raw.replace(/^(\r?\n)+/, '').replace(/\r?\n$/, '');
  let inner = 0;
  for (const ch of body) if (ch === '\n') inner++;
  return parsed.info.lines - inner;
}
