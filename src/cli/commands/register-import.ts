/** Registers `import` with the commander program. */
import type { Command } from 'commander';
import type { Io } from '../io.js';
import { dirOptions, examples, flagsOf } from '../options.js';
import type { ImportDeps } from './import.js';

type Opts = Record<string, unknown>;

/**
 * `--api` takes an optional URL, so in `import --api FILE` commander hands FILE to
 * --api: a value that is no host:port is the source, and --api means "the running node".
 */
async function sourceOf(source: string | undefined, opts: Opts): Promise<[string | undefined, Opts]> {
  // config/keys.js loads zod: only once the command runs.
  const { parseHostPort } = await import('../../config/keys.js');
  if (source === undefined && typeof opts.api === 'string' && parseHostPort(opts.api) === undefined) return [opts.api, { ...opts, api: true }];
  return [source, opts];
}

/** Ctrl-C (or SIGTERM) stops after the batch being written; the run stays resumable. */
function stopSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return { signal: controller.signal, dispose: () => (process.off('SIGINT', stop), process.off('SIGTERM', stop)) };
}

/** Adds `import`. */
export function addImportCommand(program: Command, io: Io, deps?: ImportDeps): void {
  dirOptions(program.command('import [source]').description('import customers from CSV, JSON, NDJSON, SQLite, PostgreSQL or an HTTP API through a mapping'))
    .option('--mapping <file>', 'the mapping file (docs/migration.md); propose one with --infer')
    .option('--infer', 'print a proposed mapping for the source (JSON) instead of importing')
    .option('--source-name <name>', "the source's name: part of record ids and of its resume state (default: from the mapping, or the file name)")
    .option('--format <format>', 'csv, json, ndjson, sqlite, postgres or http (default: from the extension, postgres:// or http(s)://)')
    .option('--table <table>', 'SQLite/PostgreSQL: the table to read')
    .option('--query <sql>', 'SQLite/PostgreSQL: a query to read (add ORDER BY to make a killed import resumable)')
    .option('--key <column>', 'the column identifying a row (default: the mapping key, else the e-mail)')
    .option('--incremental', 'only rows whose watermark is above the one stored by the last run')
    .option('--watermark-column <column>', 'an updated-at timestamp or version number column')
    .option('--dry-run', 'report what would be created, updated, unchanged and rejected; write nothing')
    .option('--rejects <file>', 'where rejected rows go: .ndjson or .csv (default: <source-name>.rejects.ndjson)')
    .option('--max-rejects <n>', 'rejected rows to accept before exiting with code 6 (default 0)')
    .option('--encoding <encoding>', 'utf8 or latin1 (default: detected from the start of the file)')
    .option('--api [url]', 'import into the running node through its HTTP API (alone: the URL in <data-dir>/api-url); default: open the stopped node\'s data directory')
    .option('--token <token>', 'API token (env CRMSYNC_API_TOKEN; default: <data-dir>/api-token)')
    .option('--progress-every <seconds>', 'seconds between progress lines on stderr when it is not a terminal (default 5; 0: after every batch)')
    .option('--json', 'print the final accounting as JSON only, no progress')
    .addHelpText('after', `${examples(
      'crmsync import --infer customers.csv > customers.mapping.json',
      'crmsync import customers.csv --mapping customers.mapping.json -d ./berlin --dry-run',
      'crmsync import customers.csv --mapping customers.mapping.json -d ./berlin --api',
      'crmsync import legacy.sqlite --table contacts --key id --mapping legacy.mapping.json -d ./berlin',
      'crmsync import postgres://crm@db/crm --table customers --key id --incremental --watermark-column updated_at --mapping pg.mapping.json -d ./berlin --api',
      'CRM_TOKEN=… crmsync import --mapping crm-api.mapping.json -d ./berlin --incremental   # an HTTP API described under "source" in the mapping',
    )}
Every run prints rows read = created + updated + unchanged + rejected; rejected rows are written to
the rejects file with their row, line, field and reason. Exit code 6 when more rows were rejected
than --max-rejects allows (the others are imported). Re-running changes nothing; a killed run
continues where its last committed batch ended. Mapping format: docs/migration.md.
`)
    .action(async (source: string | undefined, opts: Opts) => {
      const [location, rest] = await sourceOf(source, opts);
      // Loaded when the command runs (the import sources pull in csv-parse, pg, SQLite).
      const { importCommand } = await import('./import.js');
      const stop = deps?.signal ? undefined : stopSignal();
      try {
        await importCommand(location, flagsOf(rest), io, {
          progress: deps?.progress ?? { write: (t) => process.stderr.write(t), isTTY: process.stderr.isTTY === true, columns: process.stderr.columns },
          ...(deps?.signal ?? stop?.signal ? { signal: (deps?.signal ?? stop?.signal)! } : {}),
        });
      } finally {
        stop?.dispose();
      }
    });
}
