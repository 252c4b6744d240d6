/**
 * Exit codes and error codes of the CLI, and the one mapping from errors to them (used
 * only by program.ts's run(), the one exit point). Commands throw; they never exit.
 */
// The leaf module that index.ts re-exports: index.js would load the whole engine
// (Automerge, LevelDB, ws) into every command, even `--help`.
import { CrmsyncError } from '../errors.js';

/** The documented exit codes (docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** A runtime error: storage, timeout, an unexpected failure. */
  runtime: 1,
  /** Bad usage or an invalid value: flags, configuration, record JSON. */
  usage: 2,
  /** The node is not running or cannot be reached. */
  notRunning: 3,
  /** A record, a peer or the data directory itself does not exist. */
  notFound: 4,
  /** Something already exists or is in use (a config, a record id, a locked data dir), or a field to resolve holds no conflict. */
  conflict: 5,
  /** An import rejected more rows than --max-rejects allows (the others were imported). */
  rejected: 6,
  /** The node may not do that: changing the trust list needs an administrator node. */
  notPermitted: 7,
} as const;

/** An exit code. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * Codes the CLI reports besides the engine's (docs/cli.md, "Error codes"): failures of
 * the command line itself, which no engine code describes.
 */
export type CliCode =
  | 'ERR_USAGE' | 'ERR_NOT_RUNNING' | 'ERR_UNREACHABLE' | 'ERR_NOT_INITIALISED'
  | 'ERR_ADDRESS_IN_USE' | 'ERR_REJECTED' | 'ERR_EXPIRED' | 'ERR_RUNTIME' | 'ERR_INTERNAL';

/** The code a CliError has when the thrower names none. */
const CODE_BY_EXIT: Record<ExitCode, CliCode | 'ERR_NOT_FOUND' | 'ERR_EXISTS' | 'ERR_UNAUTHORIZED'> = {
  0: 'ERR_RUNTIME', 1: 'ERR_RUNTIME', 2: 'ERR_USAGE', 3: 'ERR_NOT_RUNNING', 4: 'ERR_NOT_FOUND', 5: 'ERR_EXISTS', 6: 'ERR_REJECTED', 7: 'ERR_UNAUTHORIZED',
};

/** A failure of the CLI itself, with its exit code, a stable code and a hint saying how to fix it. */
export class CliError extends Error {
  /** Stable code: a CliCode, or an engine code when one fits (ERR_NOT_FOUND, ERR_LOCKED, ...). */
  readonly code: string;

  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
    options?: { cause?: unknown; code?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = options?.code ?? CODE_BY_EXIT[exitCode];
  }
}

/** The node's API could not be reached (connection refused, no api-url file). */
export class NotRunningError extends CliError {
  constructor(message: string, hint: string, options?: { cause?: unknown; code?: 'ERR_NOT_RUNNING' | 'ERR_UNREACHABLE' }) {
    super(message, EXIT.notRunning, hint, options);
    this.name = 'NotRunningError';
  }
}

const BY_CODE: Partial<Record<string, ExitCode>> = {
  ERR_VALIDATION: EXIT.usage,
  ERR_UNAUTHORIZED: EXIT.usage,
  ERR_NOT_FOUND: EXIT.notFound,
  ERR_EXISTS: EXIT.conflict,
  ERR_NOT_CONFLICTED: EXIT.conflict,
  ERR_GONE: EXIT.notFound,
  ERR_LOCKED: EXIT.conflict,
  ERR_CLOSED: EXIT.notRunning,
};

/** The exit code for any error a command throws. */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof CrmsyncError) return BY_CODE[err.code] ?? EXIT.runtime;
  return EXIT.runtime;
}

/** An invalid flag or argument value, named as the user typed it (`--limit`, `<url>`). */
export function flagError(flag: string, value: unknown, message: string): CrmsyncError {
  return new CrmsyncError('ERR_VALIDATION', `invalid ${flag} ${JSON.stringify(String(value))}: ${message}`, { details: [{ field: flag, message }] });
}
