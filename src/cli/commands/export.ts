/**
 * `crmsync export`: records to CSV or NDJSON, all or filtered like `records list`,
 * streamed page by page to stdout or to a file (written as FILE.tmp, then renamed, so a
 * failed export never leaves half a file). Works on a stopped node's data directory or,
 * with --api, on a running node.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { STAGES } from '../../index.js';
import { fsyncPath } from '../../migrate/backup.js';
import {
  EXPORT_PAGE_SIZE, exportRecords, nodePages,
  type ExportFilters, type ExportFormat, type ExportResult, type PageReader,
} from '../../migrate/export.js';
import { mappingMapper } from '../../migrate/export-mapping.js';
import { loadMapping } from '../../migrate/mapping/load.js';
import { CliError, EXIT } from '../errors.js';
import { json, keyValues } from '../format.js';
import type { Io } from '../io.js';
import { apiPages, fileError, withTarget, type TargetFlags } from './migrate-target.js';

/** Options of `export`. */
export type ExportCommandOptions = TargetFlags & {
  format?: string;
  /** Output file; stdout when absent or '-'. */
  out?: string;
  mapping?: string;
  territory?: string;
  owner?: string;
  stage?: string;
  /** ms since epoch or an ISO date. */
  since?: string;
  q?: string;
  includeDeleted?: boolean;
  /** Comma-separated custom fields to give columns (skips the pass that finds them). */
  customColumns?: string;
  bom?: boolean;
  /** Prefix formula-leading cells with `'` (default true; --no-escape-formulas turns it off). */
  escapeFormulas?: boolean;
  json?: boolean;
};

/** What `export` reports (its --json output when writing to a file). */
export interface ExportSummary extends ExportResult {
  format: ExportFormat;
  file: string | null;
}

const FORMAT_BY_EXTENSION: Record<string, ExportFormat> = { '.csv': 'csv', '.ndjson': 'ndjson', '.jsonl': 'ndjson' };

function formatOf(options: ExportCommandOptions): ExportFormat {
  if (options.format !== undefined) {
    if (options.format === 'csv' || options.format === 'ndjson') return options.format;
    throw new CliError(`unknown format "${options.format}"`, EXIT.usage, 'use --format csv or --format ndjson');
  }
  return (options.out && FORMAT_BY_EXTENSION[extname(options.out).toLowerCase()]) || 'csv';
}

/** The list filters from the flags, validated here so both targets refuse the same values. */
export function filtersOf(options: ExportCommandOptions): ExportFilters {
  const filters: ExportFilters = {};
  if (options.territory !== undefined) filters.territory = options.territory;
  if (options.owner !== undefined) filters.owner = options.owner;
  if (options.stage !== undefined) {
    if (!(STAGES as readonly string[]).includes(options.stage)) throw new CliError(`unknown stage "${options.stage}"`, EXIT.usage, `use one of ${STAGES.join(', ')}`);
    filters.stage = options.stage;
  }
  if (options.q !== undefined) filters.q = options.q;
  if (options.since !== undefined) {
    const ms = /^\d+$/.test(options.since) ? Number(options.since) : Date.parse(options.since);
    if (!Number.isFinite(ms)) throw new CliError(`--since ${options.since} is not a time`, EXIT.usage, 'give milliseconds since the epoch or an ISO date such as 2024-05-01');
    filters.updatedSince = ms;
  }
  if (options.includeDeleted) filters.includeDeleted = true;
  return filters;
}

/** Exports records; prints a summary (stderr when the data goes to stdout). */
export async function exportCommand(options: ExportCommandOptions, io: Io): Promise<ExportSummary> {
  const format = formatOf(options);
  const filters = filtersOf(options);
  const mapper = options.mapping === undefined ? undefined : mappingMapper(await loadMapping(resolve(io.cwd, options.mapping)));
  const customColumns = options.customColumns?.split(',').map((c) => c.trim()).filter(Boolean);
  const toFile = options.out !== undefined && options.out !== '-';
  const file = toFile ? resolve(io.cwd, options.out!) : null;
  const result = await withTarget(options, io, { command: 'crmsync export' }, async (target) => {
    const pages: PageReader = target.kind === 'local' ? nodePages(target.node, filters) : apiPages(target.client, filters, EXPORT_PAGE_SIZE);
    const exportOptions = {
      format, ...(mapper ? { mapper } : {}), ...(customColumns ? { customColumns } : {}),
      bom: options.bom ?? false, escapeFormulas: options.escapeFormulas ?? true,
    };
    return file === null ? exportRecords(pages, stdoutOf(io), exportOptions) : toFileAtomically(file, (out) => exportRecords(pages, out, exportOptions));
  });
  const summary: ExportSummary = { ...result, format, file };
  if (result.unlistedCustom.length > 0 && !options.json) {
    io.err(`warning: custom fields ${result.unlistedCustom.join(', ')} have no column (added during the export, or not in --custom-columns)`);
  }
  if (result.tagsWithSeparator > 0 && !options.json) io.err(`warning: ${result.tagsWithSeparator} records have a tag containing ';', the CSV tag separator`);
  const text = options.json ? json(summary) : keyValues([['exported', result.records], ['format', format], ['file', file ?? '(stdout)']]);
  if (file !== null) io.out(text);
  else if (!options.json) io.err(text);
  return summary;
}

/** Where stdout data goes: the process's stream (with backpressure) or, in tests, io.out. */
function stdoutOf(io: Io): Writable {
  if (io.outStream instanceof Writable) return io.outStream;
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      io.out(chunk.toString('utf8'));
      done();
    },
  });
}

async function toFileAtomically<T>(file: string, write: (out: Writable) => Promise<T>): Promise<T> {
  const tmp = `${file}.tmp`;
  const out = createWriteStream(tmp, { mode: 0o600 });
  try {
    await once(out, 'open');
    const result = await write(out);
    out.end();
    await finished(out);
    await fsyncPath(tmp, 'r+');
    await rename(tmp, file);
    return result;
  } catch (err) {
    out.destroy();
    await unlink(tmp).catch(() => undefined);
    throw fileError(err, file, 'write');
  }
}
