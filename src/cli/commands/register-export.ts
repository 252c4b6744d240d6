/** Registers `export` with the commander program. */
import type { Command } from 'commander';
import type { Io } from '../io.js';
import { examples, flagsOf } from '../options.js';
import { targetOptions } from './register-backup.js';

type Opts = Record<string, unknown>;

/** Adds the command. */
export function addExportCommand(program: Command, io: Io): void {
  targetOptions(program.command('export').description('write records to CSV or NDJSON, all or filtered, page by page'))
    .option('--format <format>', 'csv or ndjson (default: from the --out extension, else csv)')
    .option('-o, --out <file>', 'output file (default: stdout)')
    .option('--mapping <file>', 'an import mapping, run in reverse: the source system\'s columns')
    .option('--territory <t>', 'only this territory')
    .option('--owner <o>', 'only this owner')
    .option('--stage <s>', 'only this stage')
    .option('--since <time>', 'only records updated since (ms since epoch or ISO date)')
    .option('--q <text>', 'prefix of a word of name, company or e-mail')
    .option('--include-deleted', 'include deleted records (only without other filters)')
    .option('--custom-columns <keys>', 'comma-separated custom fields to give CSV columns (default: every one in use)')
    .option('--bom', 'start the CSV with a UTF-8 byte-order mark (for spreadsheets)')
    .option('--no-escape-formulas', "keep cells starting with = + - @ TAB CR as they are (default: prefixed with ' against spreadsheet formula injection; this also prefixes phone numbers such as +49…)")
    .addHelpText('after', `${examples(
      'crmsync export -d ./berlin --out customers.csv',
      'crmsync export -d ./berlin --api --territory north --stage lead --format ndjson > north.ndjson',
      'crmsync export -d ./berlin --mapping legacy-crm.mapping.json --out back-to-legacy.csv',
    )}
Default CSV columns: id, name, email, phone, company, title, address.street|city|region|postcode|country,
owner, territory, stage, tags (joined with ';'), notes, interactions, custom.<key> (one per custom field),
createdAt, updatedAt (ISO 8601), deleted. NDJSON: one record per line with the same fields, nested.
CSV cells starting with = + - @ TAB or CR get a leading ' so a spreadsheet shows them as text instead
of running them as formulas (OWASP); phone numbers such as +4930… too. crmsync import removes it again.
`)
    .action(async (opts: Opts) => {
      // Loaded when the command runs, so `--help` and the API commands start without it.
      const { exportCommand } = await import('./export.js');
      await exportCommand(flagsOf(opts), io);
    });
}
