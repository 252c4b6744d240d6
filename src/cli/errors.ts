/**
 * Exit codes, and the one mapping from errors to them (used only by main.ts, the one
 * exit point). Commands throw; they never exit.
 */
import { CrmsyncError } from '../index.js';

/** The documented exit codes (docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** A runtime error: storage, timeout, an unexpected failure. */
  runtime: 1,
  /** Bad usage or an invalid value: flags, configuration, record JSON. */
  usage: 2,
  /** The node is not running or cannot be reached. */
  notRunning: 3,
  /** A record or peer does not exist. */
  notFound: 4,
  /** Something already exists or is in use (a config, a record id, a locked data dir). */
  conflict: 5,
  /** An import rejected more rows than --max-rejects allows (the others were imported). */
  rejected: 6,
} as const;

/** An exit code. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure of the CLI itself, with its exit code and a hint saying how to fix it. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** The node's API could not be reached (connection refused, no api-url file). */
export class NotRunningError extends CliError {
  constructor(message: string, hint: string, options?: { cause?: unknown }) {
    super(message, EXIT.notRunning, hint, options);
    this.name = 'NotRunningError';
  }
}

const BY_CODE: Partial<Record<string, ExitCode>> = {
  ERR_VALIDATION: EXIT.usage,
  ERR_UNAUTHORIZED: EXIT.usage,
  ERR_NOT_FOUND: EXIT.notFound,
  ERR_EXISTS: EXIT.conflict,
  ERR_LOCKED: EXIT.conflict,
  ERR_CLOSED: EXIT.notRunning,
};

const HINT_BY_CODE: Partial<Record<string, string>> = {
  ERR_UNAUTHORIZED: 'the API token was refused: pass the token of that node with --token, or set CRMSYNC_API_TOKEN (it is in <dataDir>/api-token)',
  ERR_CLOSED: 'the node is shutting down or not ready yet; try again once `crmsync status` answers',
  ERR_LOCKED: 'stop the other node (see <dataDir>/crmsync.pid) or use another --data-dir',
};

/** The exit code for any error a command throws. */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof CrmsyncError) return BY_CODE[err.code] ?? EXIT.runtime;
  return EXIT.runtime;
}

/** The text main.ts prints to stderr for an error: what happened, details, how to fix it. */
export function describeError(err: unknown): string {
  if (err instanceof CrmsyncError) {
    const lines = [`error ${err.code}: ${err.message}`];
    // Config errors already list their details in the message.
    if (err.details && !err.message.includes('\n')) lines.push(...err.details.map((d) => `  ${d.field}: ${d.message}`));
    const hint = HINT_BY_CODE[err.code];
    if (hint) lines.push(`hint: ${hint}`);
    return lines.join('\n');
  }
  if (err instanceof CliError) return err.hint ? `error: ${err.message}\nhint: ${err.hint}` : `error: ${err.message}`;
  const e = err as Error;
  return `error: ${e?.stack ?? String(err)}`;
}
