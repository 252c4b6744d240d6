/**
 * What every import source yields: rows as an async iterable, streamed (a source never
 * holds the whole input in memory), each with its position so a reject or a resume can
 * name it. Concrete sources (csv, json, ndjson, sqlite, postgres) live beside this file.
 */

/** One row of a source. */
export interface SourceRow {
  /** 1-based position of the row among the source's data rows (resume counts these). */
  ordinal: number;
  /** Physical line where the row starts (CSV, NDJSON), when the source has lines. */
  line?: number;
  /** The column values; the mapping reads them by column name. */
  values: Record<string, unknown>;
  /**
   * A row the source could not parse (a broken quote, an invalid JSON line). It still
   * counts as read and goes to the rejects file; `values` is then empty.
   */
  error?: string;
  /** The row's text as read, for a row with `error` (CSV), so the reject shows it. */
  raw?: string;
}

/** Where a read starts, and what the source may leave out. */
export interface ReadFrom {
  /** Only rows whose key column is greater than this value, in key order (sources whose `resume` is 'key'). */
  afterKey?: string | number;
  /**
   * The stored watermark of an --incremental run: a source may leave out rows at or
   * below it (an HTTP source that sends it to the server); the run filters anyway.
   */
  watermarkAbove?: number;
}

/**
 * How a killed import of this source can continue: 'key' (rows come ordered by the key
 * column and the source can start after a key), 'ordinal' (rows come in a stable order,
 * so "the first N rows were committed" names the same rows again), or 'none' (a query
 * without ORDER BY: start over, which is safe because record ids are deterministic).
 */
export type ResumeMode = 'key' | 'ordinal' | 'none';

/** A readable source of rows. */
export interface ImportSource {
  /** What the source is, for messages ("csv file customers.csv (;)"). */
  readonly description: string;
  /** Column names when known up front (CSV header, SQL result), for `--infer`. */
  columns(): Promise<string[]>;
  /**
   * True when every row has exactly `columns()` (CSV, SQL), so a mapping naming another
   * column is a mistake caught before reading; false for JSON, whose objects may be sparse.
   */
  readonly strictColumns: boolean;
  /**
   * Identity of the input's content as far as it can be known cheaply (file size and
   * mtime, the SQL text); a resume by row position is only safe on the same fingerprint.
   */
  readonly fingerprint: string;
  /** How a killed import of this source continues (see ResumeMode). */
  readonly resume: ResumeMode;
  /** The key column rows are ordered by, when `resume` is 'key'. */
  readonly keyColumn?: string;
  /** The rows, streamed. */
  rows(from?: ReadFrom): AsyncIterable<SourceRow>;
  /**
   * Reads the start of the input and fails (ERR_VALIDATION) when nothing can be imported
   * from it: an empty file, one that is not text, a header without rows. Files only: an
   * empty table or query result is a normal, empty run.
   */
  probe?(): Promise<void>;
  /** How much of the input has been read (bytes of a file), for a progress bar's ETA. */
  progress?(): { done: number; total: number };
  /** Releases connections and file handles (idempotent). */
  close(): Promise<void>;
}

/** A probe for file sources: reading the first row raises what makes the file unusable. */
export async function probeFirstRow(rows: AsyncIterable<SourceRow>): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  for await (const _ of rows) break;
}

/** The first good row's column names (JSON-like sources, whose rows may differ): enough to propose a mapping. */
export async function firstRowColumns(rows: AsyncIterable<SourceRow>): Promise<string[]> {
  for await (const row of rows) if (!row.error) return Object.keys(row.values);
  return [];
}

/** Input formats. */
export const FORMATS = ['csv', 'json', 'ndjson', 'sqlite', 'postgres', 'http'] as const;
/** One input format. */
export type Format = (typeof FORMATS)[number];

/** The format a path or connection string suggests, or undefined. */
export function formatOf(source: string): Format | undefined {
  if (/^postgres(ql)?:\/\//i.test(source)) return 'postgres';
  if (/^https?:\/\//i.test(source)) return 'http';
  const ext = /\.([a-z0-9]+)$/i.exec(source)?.[1]?.toLowerCase();
  switch (ext) {
    case 'csv': case 'tsv': case 'txt': return 'csv';
    case 'json': return 'json';
    case 'ndjson': case 'jsonl': return 'ndjson';
    case 'sqlite': case 'sqlite3': case 'db': return 'sqlite';
    default: return undefined;
  }
}
