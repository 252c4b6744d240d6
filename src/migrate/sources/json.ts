/**
 * JSON sources, streamed: a top-level array of objects (stream-json assembles one
 * element at a time) and NDJSON (one object per line). Nested objects are flattened to
 * dotted column names (`address.city`), so a mapping names them like CSV columns.
 */
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import streamArray from 'stream-json/streamers/stream-array.js';
import { CrmsyncError } from '../../index.js';
import { readText, type DecodedText, type Encoding } from './decode.js';
import { firstRowColumns, probeFirstRow, type ImportSource, type SourceRow } from './source.js';

/** Flattens nested objects into dotted keys; arrays and scalars stay values. */
export function flatten(value: Record<string, unknown>, prefix = '', into: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [key, inner] of Object.entries(value)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner)) flatten(inner as Record<string, unknown>, name, into);
    else into[name] = inner;
  }
  return into;
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

type Rows = (track: (text: DecodedText) => void) => AsyncGenerator<SourceRow>;

async function fileSource(path: string, kind: 'json' | 'ndjson', read: Rows): Promise<ImportSource> {
  const info = await stat(path);
  let bytesRead = () => 0;
  const rows = async function* (): AsyncGenerator<SourceRow> {
    let any = false;
    for await (const row of read((text) => (bytesRead = text.bytesRead))) {
      any = true;
      yield row;
    }
    if (!any) throw new CrmsyncError('ERR_VALIDATION', `${path} holds no rows (${kind === 'json' ? 'an empty array' : 'no objects'}): nothing to import`, { details: [{ field: 'source', message: 'no data rows' }] });
  };
  const source: ImportSource = {
    description: `${kind === 'json' ? 'JSON array' : 'NDJSON'} file ${path}`,
    fingerprint: `${kind}:${info.size}:${info.mtimeMs}`,
    resume: 'ordinal',
    strictColumns: false,
    columns: () => firstRowColumns(rows()),
    rows,
    probe: () => probeFirstRow(rows()),
    progress: () => ({ done: bytesRead(), total: info.size }),
    async close() {},
  };
  return source;
}

/** A file holding one JSON array of objects. */
export function jsonArraySource(path: string, options: { encoding?: Encoding } = {}): Promise<ImportSource> {
  return fileSource(path, 'json', async function* rows(track) {
    const text = await readText(path, options.encoding ?? 'auto');
    track(text);
    const input = Readable.from(text.chunks);
    const elements = streamArray.withParserAsStream();
    input.on('error', (err) => elements.destroy(err));
    input.pipe(elements);
    try {
      for await (const { key, value } of elements as AsyncIterable<{ key: number; value: unknown }>) {
        const ordinal = key + 1;
        yield isObject(value)
          ? { ordinal, values: flatten(value) }
          : { ordinal, values: {}, error: `array element ${ordinal} is ${value === null ? 'null' : typeof value}, not an object` };
      }
    } catch (err) {
      if (err instanceof CrmsyncError) throw err;
      // A syntax error leaves the rest of the document unreadable: the import stops here
      // (committed rows stay committed) with a clear reason rather than guessing.
      throw new CrmsyncError('ERR_VALIDATION', `${path} is not a valid JSON array of objects: ${(err as Error).message}`, { cause: err });
    } finally {
      input.destroy();
    }
  });
}

/** A file with one JSON object per line; a bad line is a rejected row, not the end. */
export function ndjsonSource(path: string, options: { encoding?: Encoding } = {}): Promise<ImportSource> {
  return fileSource(path, 'ndjson', async function* rows(track) {
    const text = await readText(path, options.encoding ?? 'auto');
    track(text);
    const input = Readable.from(text.chunks);
    const lines = createInterface({ input, crlfDelay: Infinity });
    let line = 0;
    let ordinal = 0;
    try {
      for await (const raw of lines) {
        line++;
        if (raw.trim() === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(raw);
        } catch (err) {
          yield { ordinal: ++ordinal, line, values: {}, error: `invalid JSON: ${(err as Error).message}` };
          continue;
        }
        yield isObject(value)
          ? { ordinal: ++ordinal, line, values: flatten(value) }
          : { ordinal: ++ordinal, line, values: {}, error: `line holds ${Array.isArray(value) ? 'an array' : typeof value}, not an object` };
      }
    } finally {
      lines.close();
      input.destroy();
    }
  });
}
