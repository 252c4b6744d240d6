/**
 * One import run: stream the source, map and check each row, and write batches through
 * the sink, each batch ONE atomic commit together with the run's progress. Invariants:
 *
 * 1. Every row taken from the source is accounted for exactly once: skipped as already
 *    committed by an interrupted run, skipped as not newer than the watermark, or read;
 *    and read = created + updated + unchanged + rejected (checked before returning).
 * 2. Progress (and at the end the watermark) is committed in the same batch as the rows
 *    it covers, so a killed run resumes after its last durable row: no gap, and no
 *    duplicate either way because record ids derive from the source key.
 * 3. At most one batch is in flight; the next is assembled while it commits, and sent
 *    only after it is durable, so stored progress never runs ahead of the rows.
 * 4. A key seen twice in one run: the later row is rejected, naming the first.
 */
import { CrmsyncError } from '../../index.js';
import { mapRow, rowWatermark } from '../mapping/apply.js';
import type { Mapping } from '../mapping/schema.js';
import { TransformError } from '../mapping/transforms.js';
import type { ImportSource, SourceRow } from '../sources/source.js';
import { importAuthor, importRecordId, parseSourceName } from './identity.js';
import { silentProgress, type ProgressReporter } from './progress.js';
import { memoryRejects, openRejects, type Reject, type RejectSink } from './rejects.js';
import { approxBytes, checkColumns, finalWatermark, predictAll, remember, resumable } from './run-helpers.js';
import type { ImportSink, SinkItem, SinkResult } from './sink.js';
import { parseState, stateKey, zeroCounts, type Counts, type ImportState, type RunState } from './state.js';

/** Rows per batch (one atomic, durable commit each). Bounds memory and commit latency. */
export const IMPORT_BATCH_ROWS = 500;
/** Approximate JSON size (characters) per batch; the HTTP sink splits by bytes where it must (http-batches.ts). */
export const IMPORT_BATCH_BYTES = 512 * 1024;

/** What to import and where. */
export interface ImportOptions {
  source: ImportSource;
  mapping: Mapping;
  sink: ImportSink;
  /** Names the source: part of record ids, the state key and the author `import:<name>`. */
  sourceName: string;
  /** Identity column; overrides the mapping's key. */
  keyColumn?: string;
  /** Only rows whose watermark is above the stored one. */
  incremental?: boolean;
  /** Watermark column (and date format); overrides the mapping's. */
  watermark?: { column: string; format?: string };
  /** Evaluate against the node's current records without writing anything. */
  dryRun?: boolean;
  /** Rejects file: a path (resumable) or a sink; default: kept in memory. */
  rejects?: string | RejectSink;
  progress?: ProgressReporter;
  batchRows?: number;
  /** Stops after the current batch; the run stays resumable. */
  signal?: AbortSignal;
  now?: () => number;
}

/** The accounting of a run. */
export interface ImportReport extends Counts {
  source: string;
  sourceName: string;
  dryRun: boolean;
  incremental: boolean;
  /** Rows taken from the source by this run (invariant 1). */
  scanned: number;
  /** Rows considered: created + updated + unchanged + rejected. */
  read: number;
  skipped: { alreadyCommitted: number; notNewer: number };
  /** Set when this run continued an interrupted one: rows that run had committed. */
  resumedAfterRow: number | null;
  watermark: { before: number | null; after: number | null };
  /** False when stopped by the signal (resumable). */
  completed: boolean;
  elapsedMs: number;
  rowsPerSecond: number;
  /** The first rejects (up to 20), for a summary; all of them are in the rejects file. */
  sampleRejects: Reject[];
  /** Values a lenient step kept raw (e.g. phone numbers it could not normalise), per field. */
  keptRaw: { field: string; keptIn: string; rows: number }[];
}

interface Pending {
  item: SinkItem;
  row: SourceRow;
  key: string;
}

/** Runs an import; resolves with its accounting. */
export async function runImport(options: ImportOptions): Promise<ImportReport> {
  const now = options.now ?? Date.now;
  const started = now();
  const { source, mapping, sink } = options;
  const sourceName = parseSourceName(options.sourceName);
  const incremental = options.incremental ?? false;
  const dryRun = options.dryRun ?? false;
  const watermarkSpec = options.watermark ?? mapping.watermark;
  if (incremental && !watermarkSpec) throw new CrmsyncError('ERR_VALIDATION', '--incremental needs a watermark column (--watermark-column, or "watermark" in the mapping)', { details: [{ field: 'watermarkColumn', message: 'required' }] });
  const keyColumn = options.keyColumn ?? ('column' in mapping.key ? mapping.key.column : undefined);
  await checkColumns(source, mapping, keyColumn, watermarkSpec?.column);

  const state = parseState(await sink.getState(stateKey(sourceName)));
  const resume = resumable(state, source, incremental, dryRun);
  const baseline = incremental ? state.watermark : undefined;
  const rejects = typeof options.rejects === 'string'
    ? openRejects(options.rejects, resume?.rejectsBytes)
    : options.rejects ?? memoryRejects();
  const progress = options.progress ?? silentProgress;
  const batchRows = options.batchRows ?? IMPORT_BATCH_ROWS;
  const author = importAuthor(sourceName);
  const counts = zeroCounts();
  const sampleRejects: Reject[] = [];
  const keptRaw = new Map<string, { field: string; keptIn: string; rows: number }>();
  const seen = new Map<string, number>();
  let scanned = 0;
  let read = 0;
  const skipped = { alreadyCommitted: 0, notNewer: 0 };
  let maxWatermark = resume?.maxWatermark;
  let lastOrdinal = resume?.ordinal ?? 0;
  let lastKey = resume?.lastKey;
  let batch: Pending[] = [];
  let batchBytes = 0;
  let inFlight: Promise<void> | undefined;

  const reject = (r: Reject) => {
    counts.rejected++;
    rejects.write(r);
    if (sampleRejects.length < 20) sampleRejects.push(r);
  };
  const position = (row: SourceRow) => ({ row: row.ordinal + (resume && source.resume === 'key' ? resume.ordinal : 0), ...(row.line === undefined ? {} : { line: row.line }) });
  const snapshot = () => ({ scanned, committed: counts.created + counts.updated + counts.unchanged + counts.rejected, ...counts, ...(source.progress ? { position: source.progress() } : {}) });

  const settle = (pending: Pending[], results: SinkResult[]) => {
    for (const [i, result] of results.entries()) {
      const p = pending[i]!;
      if (result.status !== 'rejected') counts[result.status]++;
      else {
        const detail = result.error?.details?.[0];
        reject({ ...position(p.row), key: p.key, field: detail?.field ?? '(record)', reason: detail?.message ?? result.error?.message ?? 'rejected by the node', values: p.row.values });
      }
    }
    progress.update(snapshot());
  };
  const runState = (): RunState => ({
    fingerprint: source.fingerprint, incremental, ordinal: lastOrdinal, ...(lastKey === undefined ? {} : { lastKey }),
    ...(maxWatermark === undefined ? {} : { maxWatermark }), rejectsBytes: rejects.bytes,
  });
  const flush = async (final: boolean) => {
    await inFlight;
    inFlight = undefined;
    const pending = batch;
    batch = [];
    batchBytes = 0;
    const next: ImportState = final
      ? { version: 1, run: null, completedAt: now(), ...finalWatermark(state.watermark, maxWatermark) }
      : { ...state, version: 1, run: runState() };
    if (dryRun) {
      settle(pending, await predictAll(sink, pending));
      return;
    }
    if (pending.length === 0 && !final) return;
    const commit = sink.upsertMany(pending.map((p) => p.item), { author, state: { [stateKey(sourceName)]: next } })
      .then((results) => settle(pending, results));
    if (final) await commit;
    else {
      // Awaited by the next flush; the no-op handler only keeps a failure that happens
      // before then from counting as unhandled (which would end the process).
      commit.catch(() => {});
      inFlight = commit;
    }
  };

  let completed = false;
  try {
    const rows = source.rows({
      ...(resume && source.resume === 'key' && resume.lastKey !== undefined ? { afterKey: resume.lastKey } : {}),
      ...(baseline === undefined ? {} : { watermarkAbove: baseline }),
    });
    for await (const row of rows) {
      if (options.signal?.aborted) break;
      scanned++;
      const ordinal = position(row).row;
      if (resume && source.resume === 'ordinal' && row.ordinal <= resume.ordinal) {
        skipped.alreadyCommitted++;
        remember(row, mapping, keyColumn, sourceName, seen);
        continue;
      }
      lastOrdinal = ordinal;
      if (source.keyColumn !== undefined && row.values[source.keyColumn] !== undefined) lastKey = row.values[source.keyColumn] as string | number;
      if (row.error) {
        read++;
        reject({ ...position(row), field: '(row)', reason: row.error, ...(row.raw === undefined ? {} : { raw: row.raw }) });
        continue;
      }
      if (watermarkSpec) {
        let wm: number | undefined;
        try {
          wm = rowWatermark(row.values, watermarkSpec.column, watermarkSpec.format);
        } catch (err) {
          if (!(err instanceof TransformError)) throw err;
          if (incremental) {
            read++;
            reject({ ...position(row), field: watermarkSpec.column, reason: err.message, values: row.values });
            continue;
          }
        }
        if (incremental && baseline !== undefined && wm !== undefined && wm <= baseline) {
          skipped.notNewer++;
          continue;
        }
        if (wm !== undefined && (maxWatermark === undefined || wm > maxWatermark)) maxWatermark = wm;
      }
      read++;
      const mapped = mapRow(row.values, mapping, keyColumn);
      if (!mapped.ok) {
        reject({ ...position(row), field: mapped.field, reason: mapped.reason, values: row.values });
      } else {
        const id = importRecordId(sourceName, mapped.key);
        const first = seen.get(id);
        if (first !== undefined) {
          reject({ ...position(row), key: mapped.key, field: keyColumn ?? 'email', reason: `duplicate key "${mapped.key}": row ${first} has the same key and was imported`, values: row.values });
        } else {
          seen.set(id, ordinal);
          for (const k of mapped.kept) {
            const entry = keptRaw.get(`${k.field}\0${k.keptIn}`);
            if (entry) entry.rows++;
            else keptRaw.set(`${k.field}\0${k.keptIn}`, { ...k, rows: 1 });
          }
          const item = { id, fields: mapped.patch };
          batch.push({ item, row, key: mapped.key });
          batchBytes += approxBytes(item.fields);
        }
      }
      if (batch.length >= batchRows || batchBytes >= IMPORT_BATCH_BYTES) await flush(false);
      else if (scanned % 1000 === 0) progress.update(snapshot());
    }
    completed = !options.signal?.aborted;
    await flush(completed);
    await inFlight;
  } finally {
    progress.finish();
    if (typeof options.rejects === 'string') rejects.close();
  }
  if (read !== counts.created + counts.updated + counts.unchanged + counts.rejected || scanned !== read + skipped.alreadyCommitted + skipped.notNewer) {
    throw new Error(`import accounting does not add up: scanned ${scanned}, read ${read}, skipped ${JSON.stringify(skipped)}, counts ${JSON.stringify(counts)}`);
  }
  const elapsedMs = Math.max(1, now() - started);
  return {
    source: source.description, sourceName, dryRun, incremental, scanned, read, ...counts, skipped,
    resumedAfterRow: resume ? resume.ordinal : null,
    watermark: { before: state.watermark ?? null, after: completed && !dryRun ? (finalWatermark(state.watermark, maxWatermark).watermark ?? null) : (state.watermark ?? null) },
    completed, elapsedMs, rowsPerSecond: Math.round((read / elapsedMs) * 1000), sampleRejects, keptRaw: [...keptRaw.values()],
  };
}
