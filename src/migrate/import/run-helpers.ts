/**
 * The parts of an import run that need no run state: sizing a batch, choosing the
 * interrupted run to continue, the final watermark, the duplicate-key memory of
 * resumed rows, the column check before reading, and a dry run's record reads.
 */
import { CrmsyncError } from '../../index.js';
import { mapRow } from '../mapping/apply.js';
import type { Mapping } from '../mapping/schema.js';
import type { ImportSource, SourceRow } from '../sources/source.js';
import { importRecordId } from './identity.js';
import { predict } from './predict.js';
import type { ImportSink, SinkItem, SinkResult } from './sink.js';
import type { ImportState, RunState } from './state.js';

/** Concurrent record reads of a dry run. Bounds load on the node. */
export const DRY_RUN_READS = 16;

/** Roughly the JSON size of a patch (strings dominate it), without serialising it. */
export function approxBytes(value: unknown): number {
  if (typeof value === 'string') return value.length + 2;
  if (value === null || typeof value !== 'object') return 8;
  let size = 2;
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) size += key.length + 4 + approxBytes(object[key]);
  return size;
}

/** The interrupted run to continue, if it is the same input and mode. */
export function resumable(state: ImportState, source: ImportSource, incremental: boolean, dryRun: boolean): RunState | undefined {
  const run = state.run;
  if (!run || dryRun || source.resume === 'none') return undefined;
  if (run.fingerprint !== source.fingerprint || run.incremental !== incremental) return undefined;
  if (source.resume === 'key' && run.lastKey === undefined && run.ordinal > 0) return undefined;
  return run;
}

/** The watermark a completed run stores: the higher of the stored one and the run's highest. */
export function finalWatermark(before: number | undefined, max: number | undefined): { watermark?: number } {
  const value = max === undefined ? before : before === undefined ? max : Math.max(before, max);
  return value === undefined ? {} : { watermark: value };
}

/** Adds an already-committed row's key to `seen`, so a later duplicate is still caught. */
export function remember(row: SourceRow, mapping: Mapping, keyColumn: string | undefined, sourceName: string, seen: Map<string, number>): void {
  if (row.error) return;
  const mapped = mapRow(row.values, mapping, keyColumn);
  if (mapped.ok) {
    const id = importRecordId(sourceName, mapped.key);
    if (!seen.has(id)) seen.set(id, row.ordinal);
  }
}

/** Fails before reading when the mapping names a column a CSV or SQL source lacks. */
export async function checkColumns(source: ImportSource, mapping: Mapping, keyColumn?: string, watermarkColumn?: string): Promise<void> {
  if (!source.strictColumns) return;
  const available = await source.columns();
  if (available.length === 0) return; // an empty table: nothing to check against
  const named = [keyColumn, watermarkColumn, ...Object.values(mapping.fields).flatMap((f) => f.columns ?? (f.column ? [f.column] : []))];
  const missing = [...new Set(named.filter((c): c is string => c !== undefined && !available.includes(c)))];
  if (missing.length > 0) {
    throw new CrmsyncError('ERR_VALIDATION', `the mapping names column(s) the source does not have: ${missing.join(', ')} (it has: ${available.join(', ')})`, {
      details: missing.map((c) => ({ field: c, message: 'no such column in the source' })),
    });
  }
}

/** What upsertMany would report for each item, from bounded concurrent reads of the current records. */
export async function predictAll(sink: ImportSink, pending: { item: SinkItem }[]): Promise<SinkResult[]> {
  const results: SinkResult[] = new Array(pending.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < pending.length; i = next++) {
      const { item } = pending[i]!;
      results[i] = predict(item.id, item.fields, await sink.get(item.id));
    }
  };
  await Promise.all(Array.from({ length: Math.min(DRY_RUN_READS, pending.length) }, worker));
  return results;
}
