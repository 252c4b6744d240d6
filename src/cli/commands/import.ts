/**
 * `crmsync import`: CSV, JSON, NDJSON, SQLite or PostgreSQL rows into records through a
 * mapping (docs/migration.md), into a stopped node's data directory or a running node
 * (--api). `crmsync import --infer FILE` prints a proposed mapping instead.
 */
import { rm, stat, unlink } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import {
  FORMATS, httpSink, inferMapping, loadMapping, nodeSink, openSource, runImport, streamProgress, silentProgress,
  type Format, type ImportReport, type ImportSource, type Mapping, type MappingInput, type ProgressReporter,
} from '../../migrate/import/index.js';
import type { HttpDeps } from '../../migrate/sources/http-fetch.js';
import { sourceNameFrom } from '../../migrate/mapping/infer-values.js';
import { ENCODINGS, type Encoding } from '../../migrate/sources/decode.js';
import { CliError, EXIT } from '../errors.js';
import { json, keyValues } from '../format.js';
import { say, shellWord, suggest } from '../hints.js';
import type { Io } from '../io.js';
import { closeTarget, openTarget, type TargetFlags } from './migrate-target.js';

/** Flags of `import`. */
export type ImportFlags = TargetFlags & {
  mapping?: string;
  sourceName?: string;
  format?: string;
  table?: string;
  query?: string;
  key?: string;
  incremental?: boolean;
  watermarkColumn?: string;
  dryRun?: boolean;
  rejects?: string;
  encoding?: string;
  infer?: boolean;
  /** Rejected rows accepted before the command exits with EXIT.rejected (default 0). */
  maxRejects?: string;
  /** Seconds between plain progress lines when stderr is not a terminal. */
  progressEvery?: string;
  json?: boolean;
};

/** What the command needs besides Io: where progress goes, and a stop signal. */
export interface ImportDeps {
  progress?: { write(text: string): void; isTTY: boolean; columns?: number };
  signal?: AbortSignal;
}

/** Sample rows `--infer` reads: enough for a day above 12 to show up in a date column. */
const INFER_SAMPLE_ROWS = 1000;

function parseFormat(value: string | undefined): Format | undefined {
  if (value === undefined) return undefined;
  if ((FORMATS as readonly string[]).includes(value)) return value as Format;
  throw new CliError(`unknown format "${value}"`, EXIT.usage, `use --format ${FORMATS.join('|')}`);
}

function parseEncoding(value: string | undefined): Encoding | undefined {
  if (value === undefined) return undefined;
  const normalised = value.toLowerCase().replace(/[-_]/g, '');
  if (normalised === 'utf8') return 'utf8';
  if (['latin1', 'iso88591', 'windows1252', 'cp1252'].includes(normalised)) return 'latin1';
  throw new CliError(`unknown encoding "${value}"`, EXIT.usage, `use --encoding ${ENCODINGS.join('|')}`);
}

const isUrl = (location: string) => /^(postgres(ql)?|https?):\/\//i.test(location);

/** What an HTTP source uses in a real process: fetch, timers, Math.random, the environment. */
const processHttp = (io: Io): HttpDeps => ({
  fetch, sleep: (ms) => new Promise((done) => setTimeout(done, ms)), random: Math.random, now: Date.now, env: io.env,
});

async function open(location: string, flags: ImportFlags, io: Io, mapping?: Mapping): Promise<ImportSource> {
  const format = parseFormat(flags.format);
  const encoding = parseEncoding(flags.encoding);
  return openSource(isUrl(location) ? location : resolve(io.cwd, location), {
    ...(format ? { format } : {}), ...(encoding ? { encoding } : {}),
    ...(flags.table === undefined ? {} : { table: flags.table }), ...(flags.query === undefined ? {} : { query: flags.query }),
    ...(flags.key === undefined ? {} : { keyColumn: flags.key }),
    http: { ...(mapping?.source?.http ? { config: mapping.source.http } : {}), deps: processHttp(io) },
  });
}

/** The source name: the flag, the mapping's, or the file's / table's / URL's name. */
function sourceNameOf(location: string, flags: ImportFlags, fromMapping: string | undefined): string {
  if (flags.sourceName) return flags.sourceName;
  if (fromMapping) return fromMapping;
  if (flags.table) return flags.table.replace(/[^A-Za-z0-9_.-]/g, '-');
  if (/^postgres(ql)?:\/\//i.test(location)) {
    throw new CliError('a PostgreSQL query needs a name for its rows\' identity', EXIT.usage, 'pass --source-name NAME (the same on every run)');
  }
  if (/^https?:\/\//i.test(location)) {
    const url = new URL(location);
    return `${url.hostname}${url.pathname}`.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+|-+$/g, '').slice(0, 64) || 'http';
  }
  return basename(location, extname(location)).replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'import';
}

/**
 * `crmsync import --infer FILE`: prints a proposed mapping as JSON, and on stderr what it
 * decided and why (not with --json: then stdout's mapping is the whole output).
 */
export async function inferCommand(location: string, flags: ImportFlags, io: Io): Promise<MappingInput> {
  const source = await open(location, flags, io);
  try {
    await source.probe?.();
    const columns = await source.columns();
    const samples: Record<string, unknown>[] = [];
    for await (const row of source.rows()) {
      if (!row.error) samples.push(row.values);
      if (samples.length >= INFER_SAMPLE_ROWS) break;
    }
    const mapping = inferMapping(columns.length > 0 ? columns : Object.keys(samples[0] ?? {}), samples, {
      ...(flags.sourceName ? { sourceName: flags.sourceName } : isUrl(location) ? {} : { fileName: basename(location) }),
    });
    io.out(json(mapping));
    say(io, flags, explainInference(mapping, samples.length, location, flags));
    return mapping;
  } finally {
    await source.close();
  }
}

/** What --infer decided, for people: one line per decision, ambiguous ones marked. */
function explainInference(mapping: MappingInput, rows: number, location: string, flags: ImportFlags): string {
  const lines = [`crmsync import --infer: proposed a mapping of ${Object.keys(mapping.fields).length} fields from ${rows} sample rows.`];
  for (const d of mapping.decisions ?? []) {
    const spec = d.field ? mapping.fields[d.field] : undefined;
    const column = spec?.column ? ` ← "${spec.column}"` : '';
    lines.push(`${d.ambiguous ? '  CHECK ' : '  '}${d.field ?? ''}${column}: ${d.decision} (${d.why})`);
  }
  const checks = (mapping.decisions ?? []).filter((d) => d.ambiguous).length;
  if (checks > 0) lines.push(`${checks} decision${checks === 1 ? '' : 's'} could not be made from the values: check the lines marked CHECK.`);
  lines.push(`Review it, save it, then: ${suggest(`import ${shellWord(location)} --mapping <file>`, flags)}`);
  return lines.join('\n');
}

/** `crmsync import SOURCE --mapping FILE`: runs the import and prints its accounting. */
export async function importCommand(location: string | undefined, flags: ImportFlags, io: Io, deps: ImportDeps = {}): Promise<ImportReport | MappingInput> {
  if (location === undefined && !flags.mapping) throw new CliError('give the file, connection string or URL to import', EXIT.usage, 'e.g. crmsync import customers.csv --mapping customers.mapping.json');
  if (flags.infer && location !== undefined) return inferCommand(location, flags, io);
  if (!flags.mapping) throw new CliError('--mapping is required', EXIT.usage, `propose one with: crmsync import --infer ${location} > mapping.json`);
  const maxRejects = parseMaxRejects(flags.maxRejects);
  const progressEvery = parseProgressEvery(flags.progressEvery);
  const mapping = await loadMapping(resolve(io.cwd, flags.mapping));
  location ??= mapping.source?.http.url;
  if (location === undefined) throw new CliError('give the file, connection string or URL to import', EXIT.usage, 'or describe an HTTP source under "source" in the mapping (docs/migration.md)');
  const sourceName = sourceNameOf(location, flags, mapping.sourceName);
  if (!flags.sourceName && !mapping.sourceName && !flags.table && !isUrl(location) && sourceNameFrom(basename(location)) !== sourceName) {
    say(io, flags, `note: rows are identified within the source "${sourceName}", the file name; a later export named differently (another date) would create new records. Set "sourceName": "${sourceNameFrom(basename(location))}" in the mapping (crmsync import --infer proposes it) or pass --source-name.`);
  }
  const rejectsFile = resolve(io.cwd, flags.rejects ?? `${sourceName}.rejects.ndjson`);
  const source = await open(location, flags, io, mapping);
  try {
    // An empty, binary or header-only file fails here, before the node is opened or created.
    await source.probe?.();
    const target = await openTarget(flags, io, { command: `crmsync import ${location}`, create: true });
    try {
      const sink = target.kind === 'api' ? httpSink(target.baseUrl, target.token) : nodeSink(target.node);
      const out = deps.progress ?? { write: (t: string) => io.err(t.replace(/\n$/, '')), isTTY: false };
      const progress: ProgressReporter = flags.json ? silentProgress : streamProgress(`import ${sourceName}`, { ...out, ...(progressEvery === undefined ? {} : { plainIntervalMs: progressEvery }) });
      const report = await runImport({
        source, mapping, sink, sourceName, rejects: rejectsFile, progress,
        ...(flags.key === undefined ? {} : { keyColumn: flags.key }),
        ...(flags.incremental ? { incremental: true } : {}),
        ...(flags.watermarkColumn === undefined ? {} : { watermark: { column: flags.watermarkColumn, ...(mapping.watermark?.format ? { format: mapping.watermark.format } : {}) } }),
        ...(flags.dryRun ? { dryRun: true } : {}),
        ...(deps.signal ? { signal: deps.signal } : {}),
      });
      const where = target.kind === 'api' ? target.baseUrl : target.dataDir;
      if (flags.json) io.out(json({ ...report, target: where, rejectsFile: report.rejected > 0 ? rejectsFile : null }));
      else io.out(summary(report, where, rejectsFile));
      if (report.rejected > maxRejects) throw tooManyRejects(report, maxRejects, rejectsFile);
      return report;
    } finally {
      // No rejects (or a run that failed before any): leave no empty file behind.
      if ((await stat(rejectsFile).catch(() => undefined))?.size === 0) await unlink(rejectsFile).catch(() => {});
      await closeTarget(target);
      // A dry run into a directory without a database leaves none behind.
      if (flags.dryRun && target.kind === 'local') for (const dir of target.created) await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await source.close();
  }
}

function parseMaxRejects(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^\d+$/.test(value)) throw new CliError(`--max-rejects ${value} is not a number of rows`, EXIT.usage, 'e.g. --max-rejects 10 (0, the default, accepts none)');
  return Number(value);
}

/** `--progress-every <seconds>` as milliseconds (undefined: the default). */
function parseProgressEvery(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new CliError(`--progress-every ${value} is not a number of seconds`, EXIT.usage, 'e.g. --progress-every 30 (0: a line after every batch; default 5)');
  return Math.round(Number(value) * 1000);
}

/** The error (exit EXIT.rejected) of a run that rejected more rows than allowed. */
function tooManyRejects(r: ImportReport, max: number, rejectsFile: string): CliError {
  const would = r.dryRun ? 'would be' : 'were';
  const what = r.read > 0 && r.rejected === r.read
    ? `every row ${would} rejected (${r.rejected} of ${r.read}): nothing ${r.dryRun ? 'would be' : 'was'} imported`
    : `${r.rejected} of ${r.read} rows ${would} rejected${max > 0 ? ` (more than --max-rejects ${max})` : ''}; the others ${r.dryRun ? 'would be' : 'were'} imported`;
  return new CliError(`${what}; the rejected rows are in ${rejectsFile}`, EXIT.rejected,
    're-running after fixing them changes only what the fixes change; --max-rejects N accepts up to N rejected rows');
}

function summary(r: ImportReport, where: string, rejectsFile: string): string {
  const seconds = (r.elapsedMs / 1000).toFixed(1);
  const lines = keyValues([
    ['source', `${r.source} as "${r.sourceName}"`],
    ['into', `${where}${r.dryRun ? '   (dry run: nothing written)' : ''}`],
    ['rows read', r.read],
    ['created', r.created],
    ['updated', r.updated],
    ['unchanged', r.unchanged],
    ['rejected', r.rejected > 0 ? `${r.rejected}   → ${rejectsFile}` : 0],
    ['skipped', `${r.skipped.alreadyCommitted} committed by the interrupted run${r.incremental ? `, ${r.skipped.notNewer} not newer than the watermark` : ''}`],
    ['watermark', r.watermark.before === r.watermark.after ? (r.watermark.after ?? '-') : `${r.watermark.before ?? '-'} → ${r.watermark.after ?? '-'}`],
    ['time', `${seconds} s (${r.rowsPerSecond} rows/s)`],
  ]);
  const notes: string[] = [];
  if (r.resumedAfterRow !== null) notes.push(`Continued an interrupted run after row ${r.resumedAfterRow}.`);
  if (!r.completed) notes.push('Stopped before the end: run the same command again to continue.');
  for (const k of r.keptRaw) notes.push(`Kept ${k.rows} ${k.field} value${k.rows === 1 ? '' : 's'} that could not be normalised as raw text in ${k.keptIn}.`);
  for (const x of r.sampleRejects.slice(0, 5)) {
    const raw = x.raw === undefined ? '' : `: ${JSON.stringify(x.raw.length > 80 ? `${x.raw.slice(0, 80)}…` : x.raw)}`;
    notes.push(`  rejected row ${x.row}${x.line !== undefined ? ` (line ${x.line})` : ''}: ${x.field}: ${x.reason}${raw}`);
  }
  if (r.rejected > 5) notes.push(`  … all ${r.rejected} in ${rejectsFile}`);
  return [lines, ...notes].join('\n');
}
