/** Registers `backup`, `restore` and `verify-backup` with the commander program. */
import type { Command } from 'commander';
import { CliError, EXIT } from '../errors.js';
import type { Io } from '../io.js';
import { dirOptions, examples, flagsOf } from '../options.js';

// Loaded when their command runs, so `--help` and the API commands start without them.
const backups = () => import('./backup.js');
const verifier = () => import('./verify.js');

type Opts = Record<string, unknown>;

const done = (promise: Promise<unknown>): Promise<void> => promise.then(() => undefined);

/**
 * `--api` takes an optional URL, so in `backup --api FILE` commander hands FILE to
 * --api. A value that is no host:port is the file, and --api means "the running node".
 */
async function fileOf(file: string | undefined, opts: Opts): Promise<[string, Opts]> {
  // config/keys.js loads zod: only once a command runs.
  const { parseHostPort } = await import('../../config/keys.js');
  if (file === undefined && typeof opts.api === 'string' && parseHostPort(opts.api) === undefined) return [opts.api, { ...opts, api: true }];
  if (file === undefined) throw new CliError('give the backup file', EXIT.usage, 'e.g. crmsync backup -d ./berlin berlin.crmbak');
  return [file, opts];
}

const withFile = (run: (file: string, opts: Opts) => Promise<unknown>) => async (file: string | undefined, opts: Opts): Promise<void> => {
  const [path, rest] = await fileOf(file, opts);
  await run(path, rest);
};

/** --data-dir (a stopped node) or --api (a running one), --token, --json. */
export function targetOptions(cmd: Command): Command {
  return dirOptions(cmd)
    .option('--api [url]', 'use the running node through its HTTP API (alone: the URL in <data-dir>/api-url); default: open the stopped node\'s data directory')
    .option('--token <token>', 'API token (env CRMSYNC_API_TOKEN; default: <data-dir>/api-token)')
    .option('--json', 'print JSON only (for scripts)');
}

/** Adds the commands. */
export function addBackupCommands(program: Command, io: Io): void {
  targetOptions(program.command('backup [file]').description('write one compressed, checksummed backup file while the node keeps running'))
    .addHelpText('after', `${examples(
      'crmsync backup -d ./berlin berlin-2024-05-01.crmbak          # a stopped node',
      'crmsync backup -d ./berlin --api berlin-2024-05-01.crmbak    # the running node',
    )}
The file is written as <file>.tmp, fsynced, read back and verified, then renamed. Format: docs/backup-format.md.
`)
    .action(withFile(async (file, opts) => (await backups()).backup(file, flagsOf(opts), io)));
  targetOptions(program.command('restore [file]').description('verify a backup in full, then merge it into the node (empty or not)'))
    .option('--dry-run', 'verify and report what would be merged; write nothing')
    .option('--node-id <id>', 'node id for a data directory without a database (default: from crmsync.json)')
    .addHelpText('after', `${examples(
      'crmsync restore -d ./berlin-new berlin-2024-05-01.crmbak --node-id berlin-2',
      'crmsync restore -d ./berlin --api berlin-2024-05-01.crmbak --dry-run',
    )}
Restoring merges like sync: entries the node has are skipped, the rest are verified (signatures, as
from a peer) and CRDT-merged, so restoring old data into a node that moved on loses nothing, and
restoring twice changes nothing. A truncated or corrupted file (ERR_CORRUPT), a backup of another
cluster or of format version 1 (ERR_VALIDATION) is refused before anything is written. A new data
directory joins the backup's cluster with a key of its own: give it a node id the cluster has not
used, and have an administrator of the cluster grant its key before it syncs.
`)
    .action(withFile(async (file, opts) => (await backups()).restore(file, flagsOf(opts), io)));
  targetOptions(program.command('verify').description('check every stored record against its document (heads and view); --repair fixes what differs; --peer compares with a peer'))
    .option('--repair', 'rewrite stored heads and views (and their indexes) from the documents')
    .option('--peer <node>', "compare the running node's records with the connected peer NODE (Merkle digests) and repair what differs through sync")
    .addHelpText('after', `${examples(
      'crmsync verify -d ./berlin              # a stopped node',
      'crmsync verify -d ./berlin --api --repair',
      'crmsync verify -d ./berlin --peer paris # the running node against its peer paris',
    )}
Exit code 1 when problems remain (documents that do not load are reported, not repaired), or
with --peer when records still differ after the repair.
`)
    .action((opts: Opts) => done(verifier().then((m) => m.verify(flagsOf(opts), io))));
  program.command('verify-backup <file>').description('check every hash and count of a backup file; print what it holds')
    .option('--json', 'print JSON only')
    .addHelpText('after', examples('crmsync verify-backup berlin-2024-05-01.crmbak'))
    .action((file: string, opts: Opts) => done(backups().then((m) => m.verifyBackupFile(file, opts, io))));
}
