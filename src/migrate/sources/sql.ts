/**
 * The SELECT an SQL source runs, shared by SQLite and PostgreSQL: a whole table (ordered
 * by the key column when there is one, so a killed import resumes after the last
 * committed key) or the user's own query.
 */
import type { ResumeMode } from './source.js';

/** What to read from a database. */
export type SqlTarget = { table: string } | { query: string };

/** Quotes an identifier; `schema.table` quotes each part. */
export function quoteIdent(name: string): string {
  return name.split('.').map((part) => `"${part.replace(/"/g, '""')}"`).join('.');
}

/** A statement, its resume mode, and how to bind a resume key. */
export interface SqlPlan {
  sql: (afterKey: boolean) => string;
  resume: ResumeMode;
  keyColumn?: string;
}

/**
 * Plans the read. `placeholder` renders the bind parameter ('?' or '$1'); `rowOrder` is
 * the dialect's stable order for a keyless table (SQLite's rowid), if any.
 */
export function planSql(target: SqlTarget, keyColumn: string | undefined, placeholder: string, rowOrder?: string): SqlPlan {
  if ('query' in target) {
    // A query is run as written; only its own ORDER BY makes row positions repeatable.
    return { sql: () => target.query, resume: /\border\s+by\b/i.test(target.query) ? 'ordinal' : 'none' };
  }
  const table = quoteIdent(target.table);
  if (keyColumn !== undefined) {
    const key = quoteIdent(keyColumn);
    return {
      sql: (afterKey) => `SELECT * FROM ${table}${afterKey ? ` WHERE ${key} > ${placeholder}` : ''} ORDER BY ${key}`,
      resume: 'key', keyColumn,
    };
  }
  if (rowOrder) return { sql: () => `SELECT * FROM ${table} ORDER BY ${rowOrder}`, resume: 'ordinal' };
  return { sql: () => `SELECT * FROM ${table}`, resume: 'none' };
}

/** Plain JSON-able column values: dates as ISO strings, big integers as strings, bytes as hex. */
export function plainValue(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}
