/**
 * How a failed command reports its error on stderr (docs/cli.md, "Errors"): for people,
 * `error CODE: message`, one line per field problem and a `hint:`; with `--json`, one
 * line `{"error": {"code", "message", "details"?, "hint"?}}`. Both come from one
 * ErrorReport, so they always say the same thing.
 */
import { CommanderError, type Command } from 'commander';
import { CrmsyncError, type FieldIssue } from '../errors.js';
import { CliError, EXIT, exitCodeOf, type ExitCode } from './errors.js';
import { suggest, type WhereFlags } from './hints.js';
import type { Io } from './io.js';

/** What is said about an error, before it is formatted. */
export interface ErrorReport {
  code: string;
  message: string;
  details?: FieldIssue[];
  hint?: string;
}

/** Hints for engine codes, aimed at the node the command was aimed at. */
const HINT_BY_CODE: Partial<Record<string, (flags: WhereFlags) => string>> = {
  ERR_UNAUTHORIZED: (f) => `the API token was refused: pass the token of that node with --token, or set CRMSYNC_API_TOKEN (it is in ${f.dataDir ?? '<data-dir>'}/api-token)`,
  ERR_CLOSED: (f) => `the node is not running, shutting down or not ready yet; try again once \`${suggest('status', f)}\` answers`,
  ERR_NOT_CONFLICTED: (f) => `see which fields of the record hold concurrent values with \`${suggest('conflicts show <id>', f)}\`, and which records do with \`${suggest('conflicts list', f)}\``,
  ERR_LOCKED: (f) => `stop the node that holds it (its pid is in ${f.dataDir ?? '<data-dir>'}/crmsync.pid), or use another --data-dir; \`${suggest('status', f)}\` shows it`,
};

/** `a: b; c: d`: how validate() and the API join details into their message. */
export const summaryOf = (details: readonly FieldIssue[]): string => details.map((d) => `${d.field}: ${d.message}`).join('; ');

/** The causes under an error, innermost last (`fetch failed` says nothing without them). */
export function causeText(err: unknown): string {
  const seen: string[] = [];
  const top = (err as { message?: unknown } | null)?.message;
  const walk = (e: unknown, depth: number): void => {
    if (depth > 5 || typeof e !== 'object' || e === null) return;
    const { message, code, errors, cause } = e as { message?: unknown; code?: unknown; errors?: unknown; cause?: unknown };
    // What the error itself says already ("…: fetch failed" over a "fetch failed") is not repeated.
    if (depth > 0 && typeof message === 'string' && message !== '' && !(typeof top === 'string' && top.includes(message))) {
      const text = typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
      if (!seen.includes(text)) seen.push(text);
    }
    // AggregateError: every address tried (localhost is ::1 and 127.0.0.1).
    if (Array.isArray(errors)) for (const inner of errors) walk(inner, depth + 1);
    walk(cause, depth + 1);
  };
  walk(err, 0);
  return seen.join('; ');
}

/** The first `code` in an error's cause chain (AggregateErrors included): ECONNREFUSED, ENOTFOUND, ... */
export function causeCode(err: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof err !== 'object' || err === null) return undefined;
  const { code, errors, cause } = err as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof code === 'string') return code;
  for (const inner of Array.isArray(errors) ? errors : []) {
    const found = causeCode(inner, depth + 1);
    if (found) return found;
  }
  return causeCode(cause, depth + 1);
}

/** The report of any error a command threw. */
export function errorReport(err: unknown, flags: WhereFlags): ErrorReport {
  if (err instanceof CrmsyncError) {
    const details = err.details && err.details.length > 0 ? err.details : undefined;
    const hint = HINT_BY_CODE[err.code]?.(flags);
    let message = err.message;
    // validate() and the API put every detail into the message too: say each once.
    if (details && message.endsWith(`: ${summaryOf(details)}`)) message = message.slice(0, -summaryOf(details).length - 2);
    if (/fetch failed$/.test(message) && causeText(err)) message = `${message} (${causeText(err)})`;
    return { code: err.code, message, ...(details ? { details } : {}), ...(hint ? { hint } : {}) };
  }
  if (err instanceof CliError) return { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  const e = err as Error | undefined;
  return { code: 'ERR_INTERNAL', message: e?.message ?? String(err) };
}

/** The text for people: what happened, each field problem once, how to fix it. */
export function describeError(err: unknown, flags: WhereFlags = {}): string {
  if (!(err instanceof CrmsyncError) && !(err instanceof CliError)) {
    // A bug: the stack is what a bug report needs.
    return `error: ${(err as Error | undefined)?.stack ?? String(err)}`;
  }
  const report = errorReport(err, flags);
  const lines = [`error ${report.code}: ${report.message}`];
  // Problems the message already states (config errors list them line by line) are not repeated.
  for (const d of report.details ?? []) if (!report.message.includes(d.message)) lines.push(`  ${d.field}: ${d.message}`);
  if (report.hint) lines.push(`hint: ${report.hint}`);
  return lines.join('\n');
}

/** The `--json` form: one line, so a script reads it with one JSON.parse. */
export function errorJson(err: unknown, flags: WhereFlags = {}): string {
  return JSON.stringify({ error: errorReport(err, flags) });
}

/** Where a command run was aimed, from its parsed options (for hints). */
function whereOf(opts: Record<string, unknown>): WhereFlags {
  const pick = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return { dataDir: pick(opts.dataDir), config: pick(opts.config), api: typeof opts.api === 'boolean' ? opts.api : pick(opts.api) };
}

/**
 * Reports the failure of one run (program.ts's run() is its only user): as JSON when the
 * command was given --json, as text otherwise, with hints aimed where the command was.
 */
export class FailureReporter {
  /** The options of the command that ran (unset when parsing failed before it ran). */
  private opts: Record<string, unknown> | undefined;

  constructor(private readonly argv: string[], private readonly io: Io) {}

  /** Records the options of the command that runs, and mutes commander's own error text under --json. */
  attach(program: Command): this {
    program.hook('preAction', (_program, action) => void (this.opts = action.opts()));
    const mute = (cmd: Command): void => {
      // Settings are copied to subcommands when they are created: each needs its own.
      cmd.configureOutput({ writeErr: (s) => (this.json() ? undefined : this.io.err(s)) });
      cmd.commands.forEach(mute);
    };
    mute(program);
    return this;
  }

  /** Prints the error on stderr; returns the exit code. */
  report(err: unknown): ExitCode {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.ok; // --help, --version
      // Commander has printed its message, unless muted for --json.
      if (this.json()) this.io.err(errorJson(new CliError(err.message.replace(/^error: /, ''), EXIT.usage, 'add --help for usage and examples')));
      return EXIT.usage;
    }
    const where = whereOf(this.opts ?? {});
    this.io.err(this.json() ? errorJson(err, where) : describeError(err, where));
    return exitCodeOf(err);
  }

  /** Whether --json was asked for; before a command runs (a parse error) only argv can tell. */
  private json(): boolean {
    if (this.opts) return this.opts.json === true;
    const end = this.argv.indexOf('--');
    return (end < 0 ? this.argv : this.argv.slice(0, end)).includes('--json');
  }
}
