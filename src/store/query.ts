/**
 * Filtered, paged record listing served from secondary indexes. One index drives the
 * scan (text search, then open conflicts, territory, owner, stage, then updated-since); the remaining
 * filters are checked on the records the index yields. A page scans a bounded number
 * of index keys, so a query never walks the whole database in one call; the cursor
 * resumes where the scan stopped.
 */
import type { RecordView } from '../crdt/record-schema.js';
import { CrmsyncError } from '../errors.js';
import { FIXED } from '../limits.js';
import { encodeIndexValue, normaliseQuery, textTokens, type IndexName } from './indexes.js';
import type { Store } from './store.js';
import type { RecordId } from '../types.js';

/** Index keys examined per page for each record returned (bounds one call's work). */
export const SCAN_FACTOR = FIXED.indexScanFactor;

/** Filters of a record listing. All given filters must match. */
export interface RecordQuery {
  territory?: string;
  owner?: string;
  stage?: string;
  /** Only records updated at or after this time (ms since epoch). */
  updatedSince?: number;
  /** Prefix of a word of name, company or e-mail (case-insensitive). */
  q?: string;
  /** Only records with open conflicts (the conflict inbox). */
  conflicted?: boolean;
  includeDeleted?: boolean;
  limit: number;
  /** Cursor from the previous page. */
  cursor?: string;
}

/** One page of a listing. */
export interface QueryPage {
  records: RecordView[];
  /** Pass as `cursor` for the next page; undefined when there is none. */
  next: string | undefined;
}

interface Plan {
  gte: string;
  lt: string;
}

const encodeCursor = (key: string) => Buffer.from(key, 'utf8').toString('base64url');
function decodeCursor(cursor: string): string {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (key.length === 0) throw new CrmsyncError('ERR_VALIDATION', 'invalid cursor: pass the `next` value of the previous page unchanged', { details: [{ field: 'cursor', message: 'invalid cursor' }] });
  return key;
}

function planOf(query: RecordQuery): Plan | undefined {
  if (query.q !== undefined && normaliseQuery(query.q) !== '') {
    const prefix = `text/${encodeIndexValue(normaliseQuery(query.q))}`;
    return { gte: prefix, lt: `${prefix}\uffff` };
  }
  // Conflicted records are few: their index narrows a scan more than a territory's does.
  if (query.conflicted) return { gte: 'conflict/open/', lt: 'conflict/open0' };
  for (const name of ['territory', 'owner', 'stage'] as const satisfies readonly IndexName[]) {
    const value = query[name];
    if (value !== undefined) return { gte: `${name}/${encodeIndexValue(value)}/`, lt: `${name}/${encodeIndexValue(value)}0` };
  }
  if (query.updatedSince !== undefined) {
    return { gte: `updated/${Math.max(0, query.updatedSince).toString(16).padStart(12, '0')}`, lt: 'updated0' };
  }
  return undefined;
}

function firstMatch(view: RecordView, key: string, query: RecordQuery): boolean {
  if (!key.startsWith('text/') || query.q === undefined) return true;
  const q = normaliseQuery(query.q);
  const first = textTokens(view).filter((t) => t.startsWith(q)).map(encodeIndexValue).sort()[0];
  return key.slice('text/'.length, key.lastIndexOf('/')) === first;
}

function matches(view: RecordView, query: RecordQuery): boolean {
  if (query.conflicted && view.conflicts.length === 0) return false;
  if (query.territory !== undefined && view.territory !== query.territory) return false;
  if (query.owner !== undefined && view.owner !== query.owner) return false;
  if (query.stage !== undefined && view.stage !== query.stage) return false;
  if (query.updatedSince !== undefined && view.updatedAt < query.updatedSince) return false;
  return true;
}

/** Runs a listing query. */
export async function queryRecords(store: Store, query: RecordQuery): Promise<QueryPage> {
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const plan = planOf(query);
  if (!plan) {
    const page = await store.listRecords({ after, limit: query.limit, includeDeleted: query.includeDeleted ?? false });
    return { records: page.views, next: page.next === undefined ? undefined : encodeCursor(page.next) };
  }
  const budget = query.limit * SCAN_FACTOR;
  const keys = await store.scanIndex({ ...plan, after, limit: budget });
  const idOf = (key: string) => key.slice(key.lastIndexOf('/') + 1) as RecordId;
  const ids = [...new Set(keys.map(idOf))];
  const metas = await store.getMetas(ids);
  const views = new Map(ids.map((id, i) => [id, metas[i]?.view]));
  const records: RecordView[] = [];
  const taken = new Set<string>();
  let lastKey: string | undefined;
  for (const key of keys) {
    const view = views.get(idOf(key));
    lastKey = key;
    // Text search can reach one record through several of its words: list it only at
    // its smallest matching word, so it appears once across all pages.
    if (view && (query.includeDeleted || !view.deleted) && matches(view, query) && !taken.has(view.id) && firstMatch(view, key, query)) {
      records.push(view);
      taken.add(view.id);
    }
    if (records.length >= query.limit) break;
  }
  const exhausted = keys.length < budget && lastKey === keys[keys.length - 1];
  return { records, next: exhausted || lastKey === undefined ? undefined : encodeCursor(lastKey) };
}
