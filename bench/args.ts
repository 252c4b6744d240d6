/**
 * The command lines of the bench scripts: `--help` prints the usage; an unknown flag or a
 * value that does not parse ends the run with what is wrong, the usage and exit code 2
 * (the CLI's usage code), instead of a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Exit code of a bad command line, as in the crmsync CLI. */
export const USAGE_EXIT = 2;
const HELP = { type: 'boolean', short: 'h', default: false } as const;
/** What parseArgs returns for `options` (its result type does not narrow through a generic). */
type Values<O extends Options> = ReturnType<typeof parseArgs<{ options: O }>>['values'];

/** Parses `process.argv` against `options` (strict: no positionals, no unknown flags). */
export function benchOptions<const O extends Options>(usage: string, options: O): Values<O> {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ options: { ...options, help: HELP } }).values;
  } catch (err) {
    return usageError(usage, (err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`usage: ${usage}\n`);
    process.exit(0);
  }
  return values as Values<O>;
}

/** Ends the run on a bad option value: the message says which flag and what it takes. */
export function usageError(usage: string, message: string): never {
  process.stderr.write(`${message}\n\nusage: ${usage}\n`);
  process.exit(USAGE_EXIT);
}

/**
 * The whole number a flag gives, at least `min`, or the usage error that says so (`what`
 * names the unit: "records"). Empty text is refused, not read as 0.
 */
export function wholeNumber(usage: string, flag: string, text: string, min: number, what = ''): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < min) {
    usageError(usage, `${flag} ${text}: give a whole number${what ? ` of ${what}` : ''}, at least ${min}`);
  }
  return value;
}
