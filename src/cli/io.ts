/**
 * The output sink and the process surroundings a command may use. main.ts builds the
 * real one from `process`; tests pass a recording one.
 */

/** What a command may touch besides its options. */
export interface Io {
  /** Data for the user or a program: tables, or JSON with `--json` (stdout). */
  out(text: string): void;
  /** Messages for humans: warnings, hints, progress (stderr). Never data. */
  err(text: string): void;
  /** Environment variables (CRMSYNC_*). */
  env: Record<string, string | undefined>;
  /** Base of relative paths. */
  cwd: string;
  /** Reads all of stdin (for `--file -`). */
  readStdin(): Promise<string>;
  /** Where `start` writes its logs, and whether that is a terminal (pretty logs). */
  logStream: NodeJS.WritableStream;
  /** stdout as a stream, for commands that stream data with backpressure (export); tests leave it out. */
  outStream?: NodeJS.WritableStream;
  logIsTTY: boolean;
}

/** The Io of the running process. */
export function processIo(): Io {
  return {
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    env: process.env,
    cwd: process.cwd(),
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    // Logs are messages about the process, not its output: stderr, like every other message.
    logStream: process.stderr,
    outStream: process.stdout,
    logIsTTY: process.stderr.isTTY === true,
  };
}
