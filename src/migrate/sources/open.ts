/** Opens the source a CLI argument names, by explicit format or by its extension. */
import { CrmsyncError } from '../../index.js';
import { csvSource, type Delimiter } from './csv.js';
import type { Encoding } from './decode.js';
import { httpSourceSchema, type HttpSourceConfig } from './http-config.js';
import type { HttpDeps } from './http-fetch.js';
import { httpSource } from './http.js';
import { jsonArraySource, ndjsonSource } from './json.js';
import { postgresSource } from './postgres.js';
import { FORMATS, formatOf, type Format, type ImportSource } from './source.js';
import type { SqlTarget } from './sql.js';
import { sqliteSource } from './sqlite.js';

/** How to open a source. */
export interface OpenSourceOptions {
  format?: Format;
  /** Table or query for SQL sources. */
  table?: string;
  query?: string;
  /** Key column: SQL tables are read in its order (resumable by key). */
  keyColumn?: string;
  encoding?: Encoding;
  delimiter?: Delimiter;
  /** An HTTP source's configuration (the location's URL replaces its `url`) and its collaborators. */
  http?: { config?: HttpSourceConfig; deps: HttpDeps };
}

/** Opens `location` (a file path, a postgres:// connection string or an http(s):// URL). */
export async function openSource(location: string, options: OpenSourceOptions = {}): Promise<ImportSource> {
  const format = options.format ?? formatOf(location);
  if (!format) {
    throw new CrmsyncError('ERR_VALIDATION', `cannot tell the format of ${location}: pass --format ${FORMATS.join('|')}`, {
      details: [{ field: 'format', message: 'unknown file extension' }],
    });
  }
  const encoding = options.encoding === undefined ? {} : { encoding: options.encoding };
  switch (format) {
    case 'csv': return csvSource(location, { ...encoding, ...(options.delimiter ? { delimiter: options.delimiter } : {}) });
    case 'json': return jsonArraySource(location, encoding);
    case 'ndjson': return ndjsonSource(location, encoding);
    case 'sqlite': return sqliteSource(location, sqlTarget(options), options.keyColumn);
    case 'postgres': return postgresSource(location, sqlTarget(options), options.keyColumn);
    case 'http': {
      if (!options.http) throw new TypeError('an HTTP source needs options.http.deps');
      return httpSource(httpSourceSchema.parse({ ...options.http.config, url: location }), options.http.deps);
    }
  }
}

function sqlTarget(options: OpenSourceOptions): SqlTarget {
  if (options.table !== undefined && options.query !== undefined) {
    throw new CrmsyncError('ERR_VALIDATION', 'pass either --table or --query, not both', { details: [{ field: 'table', message: 'conflicts with --query' }] });
  }
  if (options.query !== undefined) return { query: options.query };
  if (options.table !== undefined) return { table: options.table };
  throw new CrmsyncError('ERR_VALIDATION', 'a database source needs --table NAME or --query SQL', { details: [{ field: 'table', message: 'required' }] });
}
