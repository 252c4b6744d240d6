/**
 * HTTP source: a paginated JSON API read page by page (page number, offset, cursor or
 * the Link header; http-config.ts), each page's rows flattened like JSON files. Only one
 * page is in memory at a time. Rows come in the API's order, so a killed run resumes by
 * position (the API must return rows in a stable order, e.g. sorted by id); with
 * --incremental the stored watermark can be sent to the server (`since`), and the run
 * filters by it as for every source.
 */
import { CrmsyncError } from '../../index.js';
import type { HttpSourceConfig } from './http-config.js';
import { getPage, showUrl, type HttpDeps, type HttpPage } from './http-fetch.js';
import { flatten } from './json.js';
import { firstRowColumns, type ImportSource, type ReadFrom, type SourceRow } from './source.js';

/** Most pages one run reads. Stops a server whose "next" never ends. */
export const HTTP_MAX_PAGES = 1_000_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value at a dotted path of a JSON value. */
function at(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) current = isObject(current) ? current[key] : undefined;
  return current;
}

/** The `rel="next"` URL of a Link header (RFC 8288), resolved against the page's URL. */
export function nextLink(header: string | null, base: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (match && /;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(match[2]!)) return new URL(match[1]!, base).toString();
  }
  return undefined;
}

const sinceValue = (ms: number, format: 'iso' | 'ms' | 'unix') => (format === 'ms' ? String(ms) : format === 'unix' ? String(Math.floor(ms / 1000)) : new Date(ms).toISOString());

function withQuery(base: string, params: Record<string, string | number | boolean>): string {
  const url = new URL(base);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, String(value));
  return url.toString();
}

/** The rows array of a page, or ERR_SOURCE saying where it looked. */
function rowsOf(page: HttpPage, config: HttpSourceConfig, n: number): unknown[] {
  let body: unknown;
  try {
    body = JSON.parse(page.text);
  } catch (err) {
    throw new CrmsyncError('ERR_SOURCE', `page ${n} (GET ${showUrl(page.url)}) is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const rows = config.records ? at(body, config.records) : body;
  if (Array.isArray(rows)) return rows;
  const keys = isObject(body) ? ` (its keys: ${Object.keys(body).slice(0, 10).join(', ')})` : '';
  throw new CrmsyncError('ERR_SOURCE', config.records
    ? `page ${n} (GET ${showUrl(page.url)}) has no array at "${config.records}"${keys}`
    : `page ${n} (GET ${showUrl(page.url)}) is not an array${keys}: set source.http.records to the path of its rows`);
}

/** Every page, in order: the rows of each and the body they came from. */
async function* pages(config: HttpSourceConfig, deps: HttpDeps, from?: ReadFrom): AsyncGenerator<unknown[]> {
  const p = config.pagination;
  const since = config.since && from?.watermarkAbove !== undefined ? { [config.since.param]: sinceValue(from.watermarkAbove, config.since.format) } : {};
  const base = withQuery(config.url, { ...config.query, ...since });
  const origin = new URL(base).origin;
  let position = p.type === 'page' ? p.start : 0;
  let cursor: string | undefined;
  let url = base;
  const seen = new Set<string>();
  for (let n = 1; n <= HTTP_MAX_PAGES; n++) {
    if (p.type === 'page' || p.type === 'offset') url = withQuery(base, { [p.param]: position, ...(p.sizeParam && p.size ? { [p.sizeParam]: p.size } : {}) });
    else if (p.type === 'cursor' && cursor !== undefined) url = withQuery(base, { [p.param]: cursor });
    const page = await getPage(url, config, deps);
    const rows = rowsOf(page, config, n);
    yield rows;
    switch (p.type) {
      case 'none':
        return;
      case 'page':
      case 'offset':
        if (rows.length === 0 || (p.size !== undefined && rows.length < p.size)) return;
        position += p.type === 'page' ? 1 : rows.length;
        break;
      case 'cursor': {
        const next = at(JSON.parse(page.text), p.next);
        if (next === undefined || next === null || next === '') return;
        cursor = String(next);
        if (seen.has(cursor)) throw new CrmsyncError('ERR_SOURCE', `page ${n} (GET ${showUrl(url)}) returns cursor it returned before: the pages would never end`);
        seen.add(cursor);
        break;
      }
      case 'link': {
        const next = nextLink(page.headers.get('link'), url);
        if (next === undefined) return;
        // Credentials go only to the configured server, never to where a header points.
        if (new URL(next).origin !== origin) throw new CrmsyncError('ERR_SOURCE', `page ${n} links to another server (${new URL(next).origin}); the source only follows links on ${origin}`);
        if (seen.has(next)) throw new CrmsyncError('ERR_SOURCE', `page ${n} (GET ${showUrl(url)}) links to a page read before: the pages would never end`);
        seen.add(next);
        url = next;
        break;
      }
    }
  }
  throw new CrmsyncError('ERR_SOURCE', `more than ${HTTP_MAX_PAGES} pages: stopped`);
}

/** Opens an HTTP source (nothing is fetched until rows are read). */
export function httpSource(config: HttpSourceConfig, deps: HttpDeps): ImportSource {
  const rows = async function* (from?: ReadFrom): AsyncGenerator<SourceRow> {
    let ordinal = 0;
    for await (const page of pages(config, deps, from)) {
      for (const value of page) {
        ordinal++;
        yield isObject(value)
          ? { ordinal, values: flatten(value) }
          : { ordinal, values: {}, error: `row ${ordinal} is ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}, not an object` };
      }
    }
  };
  return {
    description: `HTTP ${showUrl(config.url)} (${config.pagination.type} pagination)`,
    fingerprint: `http:${showUrl(config.url)}:${JSON.stringify([config.query, config.pagination, config.records])}`,
    resume: 'ordinal',
    strictColumns: false,
    columns: () => firstRowColumns(rows()),
    rows,
    async close() {},
  };
}
