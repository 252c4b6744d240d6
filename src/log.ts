/**
 * Structured, PII-free logging. Components get child loggers; messages are constant
 * strings with the variable parts as fields; customer fields are redacted should one
 * ever reach a log call by mistake.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths that would carry customer data; censored if they appear in a log object. */
export const REDACT_PATHS = [
  'record', 'records', 'input', 'patch', 'view', 'payload', 'body',
  '*.name', '*.email', '*.phone', '*.notes', '*.address', '*.company',
];

/** Creates the root logger (JSON to stdout by default). */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream | pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.CRMSYNC_LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: undefined,
    },
    (options.destination as pino.DestinationStream | undefined) ?? pino.destination(1),
  );
}

/** A logger that discards everything (tests and library use without logging). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
