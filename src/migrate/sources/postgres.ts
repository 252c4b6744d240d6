/**
 * PostgreSQL source through the real `pg` driver, streamed with a server-side cursor
 * (pg-cursor): at most PG_FETCH_ROWS rows are in memory at once, however big the table.
 */
import pg from 'pg';
import Cursor from 'pg-cursor';
import { CrmsyncError } from '../../index.js';
import type { ImportSource, SourceRow } from './source.js';
import { planSql, plainValue, type SqlTarget } from './sql.js';

/** Rows fetched from the cursor per round trip. Bounds memory and round trips. */
export const PG_FETCH_ROWS = 1000;

/** A connection string with its password masked, for messages. */
export function redactConnection(connection: string): string {
  try {
    const url = new URL(connection);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'postgres://(unparsable connection string)';
  }
}

/** Connects and opens a table or a query as a source. */
export async function postgresSource(connection: string, target: SqlTarget, keyColumn?: string): Promise<ImportSource> {
  const client = new pg.Client({ connectionString: connection });
  // An idle client whose server goes away emits 'error'; without a listener that would
  // crash the process instead of failing the current read.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new CrmsyncError('ERR_VALIDATION', `cannot connect to ${redactConnection(connection)}: ${(err as Error).message}`, { cause: err });
  }
  const plan = planSql(target, keyColumn, '$1');
  let closed = false;
  const query = (afterKey: string | number | undefined) =>
    client.query(new Cursor(plan.sql(afterKey !== undefined), afterKey === undefined ? [] : [afterKey]));
  return {
    description: `PostgreSQL ${redactConnection(connection)} (${'table' in target ? `table ${target.table}` : 'query'})`,
    fingerprint: `postgres:${redactConnection(connection)}:${plan.sql(false)}`,
    resume: plan.resume,
    strictColumns: true,
    ...(plan.keyColumn === undefined ? {} : { keyColumn: plan.keyColumn }),
    async columns() {
      // LIMIT 0 around the statement: the server plans it but sorts and sends nothing.
      try {
        const result = await client.query(`SELECT * FROM (${plan.sql(false)}) AS crmsync_columns LIMIT 0`);
        return result.fields.map((f) => f.name);
      } catch (err) {
        throw new CrmsyncError('ERR_VALIDATION', `PostgreSQL rejected the statement: ${(err as Error).message}`, { cause: err });
      }
    },
    async *rows(from) {
      const cursor = query(from?.afterKey);
      let ordinal = 0;
      try {
        for (;;) {
          const batch = await read(cursor, PG_FETCH_ROWS);
          if (batch.length === 0) break;
          for (const row of batch) {
            const values: Record<string, unknown> = {};
            for (const [column, value] of Object.entries(row)) values[column] = plainValue(value);
            yield { ordinal: ++ordinal, values } satisfies SourceRow;
          }
        }
      } finally {
        await cursor.close().catch(() => {});
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await client.end().catch(() => {});
    },
  };
}

async function read(cursor: Cursor, rows: number): Promise<Record<string, unknown>[]> {
  try {
    return await cursor.read(rows);
  } catch (err) {
    throw new CrmsyncError('ERR_VALIDATION', `PostgreSQL rejected the read: ${(err as Error).message}`, { cause: err });
  }
}
