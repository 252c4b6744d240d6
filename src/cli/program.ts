/**
 * The commander program: parses argv and calls the command functions. `run()` is the
 * one place that turns errors into exit codes (main.ts only exits with its result).
 *
 * Start-up time: this module and what it imports statically load only commander and
 * the small CLI helpers. Every command module is imported when its command runs, so
 * `--help` and the API-client commands never load the engine (Automerge, LevelDB),
 * fastify, pino-pretty or the import sources.
 */
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { addBackupCommands } from './commands/register-backup.js';
import { addConflictCommands } from './commands/register-conflicts.js';
import { addExportCommand } from './commands/register-export.js';
import { addImportCommand } from './commands/register-import.js';
import { addTrustCommands } from './commands/register-trust.js';
import type { SignalSource } from './commands/start.js';
import { FailureReporter } from './error-output.js';
import { EXIT } from './errors.js';
import type { Io } from './io.js';
import { clientOptions, examples, flagsOf, nodeOptions } from './options.js';

// By the package's own name (exports "./package.json"): the same from src/cli under
// vitest and from dist/src/cli in an installed package.
const VERSION = (createRequire(import.meta.url)('crmsync/package.json') as { version: string }).version;

const EXIT_CODES_HELP = `
Exit codes: 0 ok, 1 runtime error, 2 usage or invalid value, 3 node not running or unreachable,
4 not found or not initialised, 5 already exists or in use, 6 import rejected more rows than
--max-rejects allows, 7 not permitted (trust changes need an administrator node).
Configuration: docs/configuration.md; commands: docs/cli.md.
`;

type Opts = Record<string, unknown>;

/** Collects a repeatable option's values. */
const collectList = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Commander wants actions to resolve to void; commands resolve to what they printed. */
const done = (promise: Promise<unknown>): Promise<void> => promise.then(() => undefined);

// Command modules load when their command runs: `status` need not load the HTTP server
// or the engine, and `--help` loads none of them.
const records = () => import('./commands/records.js');
const peers = () => import('./commands/peers.js');
const inspect = () => import('./commands/inspect.js');

function addRecordCommands(program: Command, io: Io): void {
  const recordsCmd = program.command('records').description('read and write customer records of the running node');
  recordsCmd.addHelpText('after', examples(
    'crmsync records put --data \'{"name":"Ada Lovelace","email":"ada@example.com","stage":"lead"}\'',
    'crmsync records list --territory emea --stage lead --all --json',
  ));
  clientOptions(recordsCmd.command('get <id>').description('show one record (deleted ones too)'))
    .addHelpText('after', examples('crmsync records get c_01HF… --json'))
    .action((id: string, opts: Opts) => done(records().then((m) => m.recordsGet(id, flagsOf(opts), io))));
  clientOptions(recordsCmd.command('put [id]').description('create a record, or with an id create or fully replace it'))
    .option('--data <json>', "the record as JSON ('-' reads stdin)")
    .option('--file <file>', "a file holding the record JSON ('-' reads stdin)")
    .option('--idempotency-key <key>', 'safe retries of a create (without id): the same key returns the same record')
    .addHelpText('after', examples(
      'crmsync records put --data \'{"name":"Ada Lovelace","company":"Analytical Engines"}\'',
      'crmsync records put cust-42 --file cust-42.json',
      'cat record.json | crmsync records put cust-42 --file -',
    ))
    .action((id: string | undefined, opts: Opts) => done(records().then((m) => m.recordsPut(id, flagsOf(opts), io))));
  clientOptions(recordsCmd.command('patch <id>').description('change some fields (null clears one; addTags, removeTags, incrementInteractions)'))
    .option('--data <json>', "the patch as JSON ('-' reads stdin)")
    .option('--file <file>', "a file holding the patch JSON ('-' reads stdin)")
    .addHelpText('after', examples(
      'crmsync records patch cust-42 --data \'{"stage":"qualified","addTags":["vip"]}\'',
      'crmsync records patch cust-42 --data \'{"phone":null,"incrementInteractions":1}\'',
    ))
    .action((id: string, opts: Opts) => done(records().then((m) => m.recordsPatch(id, flagsOf(opts), io))));
  clientOptions(recordsCmd.command('delete <id>').description('delete a record (a tombstone; restorable)'))
    .addHelpText('after', examples('crmsync records delete cust-42'))
    .action((id: string, opts: Opts) => done(records().then((m) => m.recordsDelete(id, flagsOf(opts), io))));
  clientOptions(recordsCmd.command('erase <id>').description('erase a record on every node, for good (GDPR; the node must be an administrator): no tombstone, no history, never restorable'))
    .addHelpText('after', examples('crmsync records erase cust-42', 'crmsync records erasures'))
    .action((id: string, opts: Opts) => done(import('./commands/erase.js').then((m) => m.recordsErase(id, flagsOf(opts), io))));
  clientOptions(recordsCmd.command('erasures').description('list the erasures of the cluster: who erased, when, the salted id hash'))
    .action((opts: Opts) => done(import('./commands/erase.js').then((m) => m.recordsErasures(flagsOf(opts), io))));
  clientOptions(recordsCmd.command('restore <id>').description('restore a deleted record'))
    .addHelpText('after', examples('crmsync records restore cust-42'))
    .action((id: string, opts: Opts) => done(records().then((m) => m.recordsRestore(id, flagsOf(opts), io))));
  clientOptions(recordsCmd.command('list').description('list records with filters, one page or --all'))
    .option('--territory <t>', 'only this territory')
    .option('--owner <o>', 'only this owner')
    .option('--stage <s>', 'only this stage')
    .option('--since <time>', 'only records updated since (ms since epoch or ISO date)')
    .option('--q <text>', 'prefix of a word of name, company or e-mail')
    .option('--limit <n>', 'records per page (1-1000, default 100)')
    .option('--cursor <cursor>', "the previous page's next cursor")
    .option('--all', 'follow cursors to the last page')
    .option('--include-deleted', 'include deleted records')
    .addHelpText('after', examples(
      'crmsync records list --owner alice --stage proposal',
      'crmsync records list --q ada --since 2024-01-01 --json',
      'crmsync records list --all --include-deleted --json > all.json',
    ))
    .action((opts: Opts) => done(records().then((m) => m.recordsList(flagsOf(opts), io))));
}

function addPeerCommands(program: Command, io: Io): void {
  const peersCmd = program.command('peers').description('list, add and remove peers of the running node');
  peersCmd.addHelpText('after', examples('crmsync peers list', 'crmsync peers add wss://10.0.0.2:7400 --node paris'));
  clientOptions(peersCmd.command('list').description('peers with state, behind/ahead counts and lag'))
    .addHelpText('after', examples('crmsync peers list --json'))
    .action((opts: Opts) => done(peers().then((m) => m.peersList(flagsOf(opts), io))));
  clientOptions(peersCmd.command('add <url>').description('dial a member of the trust list and keep redialing it; also saved in the config file'))
    .option('--node <id>', 'the node id the URL reaches (a trust-list member); a node proving another id is refused')
    .option('--confirm', 'without --node: you vouch for the URL (this node introduces itself to whatever answers there)')
    .option('--no-save', 'do not add it to the config file (lost on restart)')
    .addHelpText('after', examples('crmsync peers add wss://10.0.0.2:7400 --node paris', 'crmsync peers add wss://paris.internal:7400 --node paris --no-save'))
    .action((url: string, opts: Opts) => done(peers().then((m) => m.peersAdd(url, flagsOf(opts), io))));
  clientOptions(peersCmd.command('remove <url>').description('stop dialing a peer; also removed from the config file'))
    .option('--no-save', 'leave the config file unchanged')
    .addHelpText('after', examples('crmsync peers remove ws://10.0.0.2:7400'))
    .action((url: string, opts: Opts) => done(peers().then((m) => m.peersRemove(url, flagsOf(opts), io))));
}

/** Builds the program; commands print through `io`. */
export function buildProgram(io: Io, signals?: SignalSource): Command {
  const program = new Command('crmsync')
    .description('Multi-master sync engine for CRM customer records')
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError('(add --help for usage and examples)')
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .addHelpText('after', `${examples(
      'crmsync init --data-dir ./berlin --node-id berlin --listen 0.0.0.0:7400 --advertise wss://berlin.example:7400',
      'crmsync start --data-dir ./berlin',
      'crmsync status --data-dir ./berlin',
    )}${EXIT_CODES_HELP}`);
  nodeOptions(program.command('init').description('create a data directory: node key, crmsync.json, private API token; found or join a cluster'))
    .option('--join <code>', 'join a cluster with an invitation code (crmsync trust invite); the code names the node id')
    .option('--force', 'overwrite an existing config file (the API token and node key are kept)')
    .option('--json', 'print what was created as JSON')
    .addHelpText('after', `${examples(
      'crmsync init --data-dir ./berlin --node-id berlin --listen 0.0.0.0:7400 --advertise wss://berlin.example:7400',
      'crmsync init -d ./laptop-anna --join crmsync-invite:…',
      'crmsync init -d ./paris --node-id paris --cluster ed25519:… --peers wss://berlin.example:7400',
    )}
Without --join or --cluster the node founds a new cluster and is its first administrator.
With --cluster it waits until an administrator runs: crmsync trust add <its fingerprint> --node <id> --role <role>.
`)
    .action((opts: Opts) => done(import('./commands/init.js').then((m) => m.init(flagsOf(opts), io))));
  nodeOptions(program.command('start').description('run the node and its HTTP API until SIGINT/SIGTERM'))
    .option('--territory <t>', 'hold only records of this territory (repeatable; with --owner: or of that owner); within the node\'s scope', collectList)
    .option('--owner <o>', 'hold only records of this owner (repeatable)', collectList)
    .option('--all-records', 'hold every record the node\'s scope allows (without --territory/--owner the node keeps the subscription it last had)')
    .addHelpText('after', `${examples(
      'crmsync start --data-dir ./berlin',
      'crmsync start -d ./laptop --territory DACH-North',
      'crmsync start -d ./laptop --all-records',
      'CRMSYNC_LOG_LEVEL=debug crmsync start -d ./berlin --api 127.0.0.1:0',
    )}\nLogs go to stderr (JSON, or pretty at a terminal). The actual API URL is written to <data-dir>/api-url.\n`)
    .action((opts: Opts) => done(import('./commands/start.js').then((m) => m.start(flagsOf(opts), io, signals))));
  clientOptions(program.command('status').description('node id, vector clock, peers, record and conflict counts'))
    .addHelpText('after', examples('crmsync status --data-dir ./berlin', 'crmsync status --api http://10.0.0.2:7401 --token "$TOKEN" --json'))
    .action((opts: Opts) => done(import('./commands/status.js').then((m) => m.status(flagsOf(opts), io))));
  addRecordCommands(program, io);
  addConflictCommands(program, io);
  clientOptions(program.command('history <id>').description('the changes that made a record'))
    .option('--limit <n>', 'most entries to show')
    .addHelpText('after', examples('crmsync history cust-42 --limit 20'))
    .action((id: string, opts: Opts) => done(inspect().then((m) => m.history(id, flagsOf(opts), io))));
  addPeerCommands(program, io);
  addTrustCommands(program, io);
  addBackupCommands(program, io);
  addExportCommand(program, io);
  addImportCommand(program, io);
  const config = program.command('config').description('inspect the configuration');
  // Every config flag, so `config show` shows what those flags would do to another command.
  nodeOptions(config.command('show').description('effective configuration and the source of each value (secrets masked)'))
    .option('--json', 'print JSON only')
    .addHelpText('after', examples('crmsync config show --data-dir ./berlin', 'CRMSYNC_LISTEN=0.0.0.0:7400 crmsync config show --json'))
    .action((opts: Opts) => done(import('./commands/config-show.js').then((m) => m.configShow(flagsOf(opts), io))));
  return program;
}

/** Parses argv (without node and script), runs the command, returns the exit code. */
export async function run(argv: string[], io: Io, signals?: SignalSource): Promise<number> {
  const program = buildProgram(io, signals);
  const failures = new FailureReporter(argv, io).attach(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    return failures.report(err);
  }
}
