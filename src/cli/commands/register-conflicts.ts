/** Registers `conflicts list|show|resolve` with the commander program (`conflicts <id>` is `show`). */
import type { Command } from 'commander';
import type { Io } from '../io.js';
import { clientOptions, examples, flagsOf } from '../options.js';

// Loaded when a conflicts command runs, so `--help` and the other commands start without it.
const conflicts = () => import('./conflicts.js');

type Opts = Record<string, unknown>;

const done = (promise: Promise<unknown>): Promise<void> => promise.then(() => undefined);

/** Adds the commands. */
export function addConflictCommands(program: Command, io: Io): void {
  const cmd = program.command('conflicts').description('the conflict inbox: records whose fields hold concurrent values, and resolving them');
  cmd.addHelpText('after', `${examples(
    'crmsync conflicts list --territory emea',
    'crmsync conflicts show cust-42',
    'crmsync conflicts resolve cust-42 email --keep ada@example.com',
    'crmsync conflicts resolve cust-42 stage --keep-node berlin',
  )}
\`crmsync conflicts <id>\` is short for \`crmsync conflicts show <id>\`.
`);
  clientOptions(cmd.command('list').description('one page of the records with open conflicts, in id order (deleted ones too)'))
    .option('--territory <t>', 'only this territory')
    .option('--owner <o>', 'only this owner')
    .option('--limit <n>', 'records per page (1-200, default 50)')
    .option('--cursor <cursor>', "the previous page's next cursor")
    .addHelpText('after', examples('crmsync conflicts list --owner anna', 'crmsync conflicts list --limit 200 --json'))
    .action((opts: Opts) => done(conflicts().then((m) => m.conflictsList(flagsOf(opts), io))));
  // The default subcommand: `conflicts cust-42` runs it, as `conflicts <id>` always did.
  clientOptions(cmd.command('show <id>', { isDefault: true }).description('every concurrent value of each conflicted field: node, time, author, winner and the rule that picked it'))
    .addHelpText('after', examples('crmsync conflicts show cust-42', 'crmsync conflicts cust-42 --json'))
    .action((id: string, opts: Opts) => done(conflicts().then((m) => m.conflictsShow(id, flagsOf(opts), io))));
  clientOptions(cmd.command('resolve <id> <field>').description('keep one concurrent value of a field: one new change supersedes the others on every node'))
    .option('--keep <value>', 'the value to keep, as `conflicts show` prints it (without the quotes); 3 keeps the number 3')
    .option('--keep-node <node>', 'keep the value this node wrote')
    .addHelpText('after', `${examples(
      'crmsync conflicts resolve cust-42 email --keep ada@example.com',
      'crmsync conflicts resolve cust-42 address.city --keep-node berlin',
      'crmsync conflicts resolve cust-42 custom.score --keep 3',
    )}
<field>: an atomic field (email), address.<part>, custom.<key> or deleted.
Exit code 5 (ERR_NOT_CONFLICTED): the field holds no concurrent values.
`)
    .action((id: string, field: string, opts: Opts) => done(conflicts().then((m) => m.conflictsResolve(id, field, flagsOf(opts), io))));
}
