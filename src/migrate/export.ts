/**
 * Exporting records to CSV (RFC 4180, written by csv-stringify) or NDJSON, page by
 * page: one page of records is in memory at a time, and the writer waits for the
 * output to drain before reading the next page. Works over any page reader: a local
 * node (nodePages) or a running node's HTTP API (the CLI's reader).
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { CrmNode, ListOptions, RecordView } from '../index.js';
import { CUSTOM_PREFIX, TAG_SEPARATOR, defaultColumns, defaultObject, defaultRow } from './export-columns.js';

/**
 * Cells with any line break are quoted: csv-stringify quotes only the record delimiter
 * (CRLF), and a bare LF in an unquoted cell ends the row for most readers.
 */
const LINE_BREAK = /[\r\n]/;

/** Records read per page. Bounds export memory. */
export const EXPORT_PAGE_SIZE = 500;

/** Output formats. */
export type ExportFormat = 'csv' | 'ndjson';

/** The filters of `crmsync list`, applied by the node. */
export type ExportFilters = Pick<ListOptions, 'territory' | 'owner' | 'stage' | 'updatedSince' | 'q' | 'includeDeleted'>;

/** One page of records and the cursor of the next (undefined on the last). */
export interface RecordPage {
  records: RecordView[];
  next: string | undefined;
}

/** Reads the page after a cursor (undefined: the first page). */
export type PageReader = (after: string | undefined) => Promise<RecordPage>;

/** Turns records into output rows: a reverse mapping, or the default columns. */
export interface RowMapper {
  /** CSV header, in order. */
  columns: string[];
  /** The row of one record, keyed by column. */
  row(view: RecordView): Record<string, unknown>;
}

/** Options of an export. */
export interface ExportOptions {
  format: ExportFormat;
  /** Reverse mapping; without it CSV uses the default columns and NDJSON the record shape. */
  mapper?: RowMapper;
  /** Custom fields to give CSV columns; when absent they are found by a first pass over the records. */
  customColumns?: string[];
  /** Start CSV with a UTF-8 byte-order mark (spreadsheets need it to detect UTF-8). */
  bom?: boolean;
  /**
   * Prefix cells starting with = + - @ TAB or CR with `'` (OWASP's advice against
   * spreadsheet formula injection); default true. A phone number +49… is escaped too.
   */
  escapeFormulas?: boolean;
  /** Called after each page with the records written so far. */
  onProgress?: (records: number) => void;
  signal?: AbortSignal;
}

/** What an export wrote. */
export interface ExportResult {
  records: number;
  /** CSV header (undefined for NDJSON without a mapping). */
  columns: string[] | undefined;
  /** Custom fields found on records but missing from the CSV header (written during the export, or not in customColumns). */
  unlistedCustom: string[];
  /** Records with a tag containing the CSV tag separator (';'), ambiguous when read back. */
  tagsWithSeparator: number;
}

/** Pages of a local node's records matching the filters. */
export function nodePages(node: Pick<CrmNode, 'records'>, filters: ExportFilters = {}, pageSize = EXPORT_PAGE_SIZE): PageReader {
  return (after) => node.records.list({ ...filters, limit: pageSize, ...(after === undefined ? {} : { after }) });
}

/** Every page in order. */
export async function* allPages(read: PageReader, signal?: AbortSignal): AsyncGenerator<RecordView[]> {
  let after: string | undefined;
  do {
    signal?.throwIfAborted();
    const page = await read(after);
    yield page.records;
    after = page.next;
  } while (after !== undefined);
}

/** The custom field names used by any record (a pass that keeps only the names). */
export async function customKeysOf(read: PageReader, signal?: AbortSignal): Promise<string[]> {
  const keys = new Set<string>();
  for await (const records of allPages(read, signal)) for (const view of records) for (const key of Object.keys(view.custom)) keys.add(key);
  return [...keys].sort();
}

/** Writes every record the reader yields to `out` (which is not ended). */
export async function exportRecords(read: PageReader, out: Writable, options: ExportOptions): Promise<ExportResult> {
  let columns: string[] | undefined;
  if (options.mapper) columns = options.mapper.columns;
  else if (options.format === 'csv') columns = defaultColumns(options.customColumns ?? (await customKeysOf(read, options.signal)));
  const tally: Tally = { records: 0, tagsWithSeparator: 0, unlisted: new Set(), listed: new Set(columns) };
  // A failing output (a full disk, a closed pipe) must fail the export, not the process.
  const sink = guard(out);
  try {
    if (options.format === 'csv') await sink.write(stringify([], { header: true, columns, bom: options.bom ?? false, record_delimiter: 'windows', quoted_match: LINE_BREAK }));
    for await (const page of allPages(read, options.signal)) {
      await sink.write(renderPage(page, columns, options, tally));
      tally.records += page.length;
      options.onProgress?.(tally.records);
    }
  } finally {
    sink.release();
  }
  return { records: tally.records, columns, unlistedCustom: [...tally.unlisted].sort(), tagsWithSeparator: tally.tagsWithSeparator };
}

interface Tally {
  records: number;
  tagsWithSeparator: number;
  /** Custom fields seen without a column. */
  unlisted: Set<string>;
  /** The CSV columns. */
  listed: Set<string>;
}

/** One page as output text: NDJSON lines or CSV rows. */
function renderPage(page: RecordView[], columns: string[] | undefined, options: ExportOptions, tally: Tally): string {
  const { mapper } = options;
  for (const view of page) {
    if (view.tags.some((t) => t.includes(TAG_SEPARATOR))) tally.tagsWithSeparator++;
    if (!mapper && columns) for (const key of Object.keys(view.custom)) if (!tally.listed.has(`${CUSTOM_PREFIX}${key}`)) tally.unlisted.add(key);
  }
  if (page.length === 0) return '';
  if (options.format === 'ndjson') return `${page.map((view) => JSON.stringify(mapper ? mapper.row(view) : defaultObject(view))).join('\n')}\n`;
  const rows = page.map((view) => (mapper ? cells(mapper.row(view)) : defaultRow(view)));
  return stringify(rows, { columns, record_delimiter: 'windows', quoted_match: LINE_BREAK, escape_formulas: options.escapeFormulas ?? true });
}

/** Mapped values as cell text: arrays joined like tags, dates as ISO, objects as JSON, null as empty. */
function cells(row: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(row)) out[key] = cell(value);
  return out;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(cell).join(TAG_SEPARATOR);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Writes chunks, waiting for drain when the stream's buffer is full (backpressure); rethrows the stream's error. */
function guard(out: Writable): { write(chunk: string): Promise<void>; release(): void } {
  let failure: Error | undefined;
  const onError = (err: Error) => {
    failure ??= err;
  };
  out.on('error', onError);
  return {
    async write(chunk) {
      if (failure) throw failure;
      if (chunk.length > 0 && !out.write(chunk)) await once(out, 'drain');
      if (failure) throw failure;
    },
    release: () => void out.off('error', onError),
  };
}
