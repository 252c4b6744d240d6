/**
 * Bytes to text for file sources, streamed: UTF-8 (checked, so a wrong guess fails
 * loudly instead of importing mojibake) or Latin-1, with the byte-order mark stripped.
 */
import { createReadStream } from 'node:fs';
import { TextDecoder } from 'node:util';
import { CrmsyncError } from '../../index.js';

/** Encodings a file source can be read in. */
export const ENCODINGS = ['utf8', 'latin1'] as const;
/** One of ENCODINGS; 'auto' checks the first chunk. */
export type Encoding = (typeof ENCODINGS)[number] | 'auto';

/** Bytes read per chunk. Bounds memory per read and the sample encoding detection sees. */
export const READ_CHUNK_BYTES = 64 * 1024;

/**
 * The encoding of a file judged from its first chunk: UTF-8 when the chunk decodes as
 * UTF-8 (a multi-byte sequence cut at the chunk end is fine), otherwise Latin-1.
 */
export function detectEncoding(firstChunk: Uint8Array): 'utf8' | 'latin1' {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(firstChunk, { stream: true });
    return 'utf8';
  } catch {
    return 'latin1';
  }
}

/** Share of control characters (other than tab, CR, LF, FF) above which a sample is not text. */
const MAX_CONTROL_SHARE = 0.01;
/** Share of bytes >= 0x80 above which a sample that is not UTF-8 is not Latin-1 text either. */
const MAX_HIGH_SHARE = 0.3;

/**
 * Why the first chunk of a file is not text an import can read, or undefined. The
 * message describes the file and never quotes its bytes.
 */
export function notText(sample: Uint8Array): string | undefined {
  if (sample[0] === 0x50 && sample[1] === 0x4b && sample[2] === 0x03 && sample[3] === 0x04) {
    return 'is a ZIP archive (an Excel .xlsx workbook?), not a text file: save or export it as CSV (UTF-8)';
  }
  if ((sample[0] === 0xff && sample[1] === 0xfe) || (sample[0] === 0xfe && sample[1] === 0xff)) {
    return 'is UTF-16 text, which this importer does not read: save it as UTF-8 (in Excel: "CSV UTF-8")';
  }
  let control = 0;
  let high = 0;
  for (const byte of sample) {
    if (byte === 0) return 'is not a text file (it holds NUL bytes): export the data as CSV, JSON or NDJSON';
    if (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c) control++;
    else if (byte >= 0x80) high++;
  }
  if (control / sample.length > MAX_CONTROL_SHARE) return `is not a text file (${Math.round((control / sample.length) * 100)}% of its first bytes are control characters)`;
  if (high / sample.length > MAX_HIGH_SHARE && detectEncoding(sample) === 'latin1') return 'is not a text file (most of its first bytes are neither UTF-8 nor Latin-1 text)';
  return undefined;
}

/** Decoded text of a file, chunk by chunk. */
export interface DecodedText {
  encoding: 'utf8' | 'latin1';
  chunks: AsyncGenerator<string>;
  /** Bytes read from the file so far (progress). */
  bytesRead(): number;
}

/**
 * Opens a file as decoded text. An empty file and one that is not text (a workbook, an
 * image, UTF-16) fail with ERR_VALIDATION saying so. With 'auto', the first chunk
 * decides the encoding; a later invalid UTF-8 sequence then fails naming the byte
 * offset and the fix.
 */
export async function readText(path: string, encoding: Encoding = 'auto'): Promise<DecodedText> {
  const stream = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first: IteratorResult<Buffer>;
  try {
    first = await iterator.next();
  } catch (err) {
    stream.destroy();
    throw new CrmsyncError('ERR_VALIDATION', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (first.done || first.value.length === 0) {
    stream.destroy();
    throw new CrmsyncError('ERR_VALIDATION', `${path} is empty (0 bytes): nothing to import`, { details: [{ field: 'source', message: 'empty' }] });
  }
  const binary = notText(first.value);
  if (binary) {
    stream.destroy();
    throw new CrmsyncError('ERR_VALIDATION', `${path} ${binary}`, { details: [{ field: 'source', message: 'not text' }] });
  }
  const chosen = encoding === 'auto' ? detectEncoding(first.value) : encoding;
  return { encoding: chosen, chunks: decodeChunks(path, chosen, first, iterator, () => stream.destroy()), bytesRead: () => stream.bytesRead };
}

async function* decodeChunks(
  path: string, encoding: 'utf8' | 'latin1', first: IteratorResult<Buffer>, rest: AsyncIterator<Buffer>, destroy: () => void,
): AsyncGenerator<string> {
  // TextDecoder strips a leading UTF-8 BOM by default; 'latin1' is windows-1252 in WHATWG
  // terms, the superset that "Latin-1" exports from spreadsheets actually use.
  const decoder = new TextDecoder(encoding === 'utf8' ? 'utf-8' : 'latin1', { fatal: encoding === 'utf8' });
  let offset = 0;
  try {
    for (let item = first; !item.done; item = await rest.next()) {
      yield decode(decoder, item.value, path, offset, false);
      offset += item.value.length;
    }
    const tail = decode(decoder, new Uint8Array(0), path, offset, true);
    if (tail) yield tail;
  } finally {
    destroy();
  }
}

function decode(decoder: TextDecoder, bytes: Uint8Array, path: string, offset: number, end: boolean): string {
  try {
    return decoder.decode(bytes, { stream: !end });
  } catch (err) {
    throw new CrmsyncError(
      'ERR_VALIDATION',
      `${path} is not valid UTF-8 near byte ${offset}${end ? ' (at the end of the file)' : ''}; if it is a Latin-1 / Windows-1252 export, pass --encoding latin1`,
      { cause: err, details: [{ field: 'encoding', message: 'invalid UTF-8' }] },
    );
  }
}
