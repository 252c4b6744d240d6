/**
 * The rejects file: one entry per rejected row with its position, key, field and
 * reason (NDJSON, or CSV when the path ends in .csv). Written synchronously, so what a
 * committed batch's state says about the file's length is on disk when it commits;
 * a resumed run truncates the file to that length and appends.
 */
import { closeSync, fchmodSync, ftruncateSync, fstatSync, openSync, writeSync } from 'node:fs';

/** One rejected row. */
export interface Reject {
  /** Row position in the source (1-based). */
  row: number;
  /** Physical line (CSV, NDJSON), when known. */
  line?: number;
  /** The row's key, when it could be computed. */
  key?: string;
  /** The field (or column) at fault. */
  field: string;
  reason: string;
  /** The row as read (NDJSON only), so it can be fixed and re-imported. */
  values?: Record<string, unknown>;
  /** The row's text, for a row the source could not parse (CSV). */
  raw?: string;
}

/** Where rejects go. */
export interface RejectSink {
  write(reject: Reject): void;
  /** Bytes written so far (the file length). */
  readonly bytes: number;
  close(): void;
}

const CSV_COLUMNS = ['row', 'line', 'key', 'field', 'reason', 'raw'] as const;

const csvCell = (value: unknown): string => {
  const text = value === undefined || value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/**
 * Opens a rejects file. `resumeAt` (bytes) keeps that much of an existing file, the
 * part belonging to the committed rows of an interrupted run; otherwise it starts empty.
 */
export function openRejects(path: string, resumeAt?: number): RejectSink {
  const csv = /\.csv$/i.test(path);
  // Rejected rows are customer data: owner-only, also when the file existed before.
  const fd = openSync(path, resumeAt === undefined ? 'w' : 'a+', 0o600);
  fchmodSync(fd, 0o600);
  let bytes = 0;
  if (resumeAt !== undefined) {
    const size = fstatSync(fd).size;
    bytes = Math.min(size, resumeAt);
    ftruncateSync(fd, bytes);
  }
  const append = (text: string) => {
    const buffer = Buffer.from(text, 'utf8');
    writeSync(fd, buffer, 0, buffer.length, bytes);
    bytes += buffer.length;
  };
  if (csv && bytes === 0) append(`${CSV_COLUMNS.join(',')}\n`);
  return {
    write(reject) {
      append(csv ? `${CSV_COLUMNS.map((c) => csvCell(reject[c])).join(',')}\n` : `${JSON.stringify(reject)}\n`);
    },
    get bytes() {
      return bytes;
    },
    close: () => closeSync(fd),
  };
}

/** A sink that keeps rejects in memory (tests, and runs without a rejects file). */
export function memoryRejects(): RejectSink & { entries: Reject[] } {
  const entries: Reject[] = [];
  return { entries, write: (r) => entries.push(r), bytes: 0, close: () => {} };
}
