/**
 * SQLite database files through node-sqlite3-wasm: SQLite compiled to WebAssembly that
 * reads the file in place (no native build, nothing downloaded at install, and unlike
 * sql.js it does not load the whole database into memory). Opened read-only.
 */
import { stat } from 'node:fs/promises';
import sqlite3 from 'node-sqlite3-wasm';
import { CrmsyncError } from '../../index.js';
import type { ImportSource, SourceRow } from './source.js';
import { planSql, plainValue, type SqlTarget } from './sql.js';

const { Database } = sqlite3;

/** Opens a table or a query of an SQLite file. */
export async function sqliteSource(path: string, target: SqlTarget, keyColumn?: string): Promise<ImportSource> {
  const info = await stat(path).catch((err: unknown) => {
    throw new CrmsyncError('ERR_VALIDATION', `cannot read SQLite file ${path}: ${(err as Error).message}`, { cause: err });
  });
  let db: InstanceType<typeof Database>;
  try {
    db = new Database(path, { readOnly: true, fileMustExist: true });
  } catch (err) {
    throw new CrmsyncError('ERR_VALIDATION', `cannot open SQLite file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const plan = planSql(target, keyColumn, '?', 'rowid');
  if (plan.resume === 'ordinal' && 'table' in target && !hasRowid(db, plan.sql(false))) {
    Object.assign(plan, planSql(target, keyColumn, '?'));
  }
  const what = 'table' in target ? `table ${target.table}` : 'query';
  return {
    description: `SQLite ${path} (${what})`,
    fingerprint: `sqlite:${info.size}:${info.mtimeMs}:${plan.sql(false)}`,
    resume: plan.resume,
    strictColumns: true,
    ...(plan.keyColumn === undefined ? {} : { keyColumn: plan.keyColumn }),
    async columns() {
      const statement = prepare(db, `SELECT * FROM (${plan.sql(false)}) LIMIT 1`);
      try {
        for (const row of statement.iterate()) return Object.keys(row);
        return [];
      } finally {
        statement.finalize();
      }
    },
    async *rows(from) {
      const afterKey = from?.afterKey;
      const statement = prepare(db, plan.sql(afterKey !== undefined));
      let ordinal = 0;
      try {
        for (const row of statement.iterate(afterKey === undefined ? undefined : [afterKey])) {
          const values: Record<string, unknown> = {};
          for (const [column, value] of Object.entries(row)) values[column] = plainValue(value);
          yield { ordinal: ++ordinal, values } satisfies SourceRow;
        }
      } finally {
        statement.finalize();
      }
    },
    async close() {
      if (db.isOpen) db.close();
    },
  };
}

function prepare(db: InstanceType<typeof Database>, sql: string) {
  try {
    return db.prepare(sql);
  } catch (err) {
    throw new CrmsyncError('ERR_VALIDATION', `SQLite rejected the statement: ${(err as Error).message}`, { cause: err });
  }
}

/** WITHOUT ROWID tables cannot be ordered by rowid. */
function hasRowid(db: InstanceType<typeof Database>, sql: string): boolean {
  try {
    db.prepare(sql).finalize();
    return true;
  } catch {
    return false;
  }
}
