/**
 * The real `crmsync` executable as a child process for the migrate tests (exit codes,
 * stdout and stderr as a user sees them), the fixture files beside this file, and a
 * recursive directory listing to compare before and after a command.
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { init } from '../../src/cli/commands/init.js';
import { memoryIo, runCli, type CliResult } from '../cli/helpers.js';

export type { CliResult };

/** A CLI child process start: slow on a loaded 2-core machine. */
export const PROCESS_TIMEOUT_MS = 120_000;

/** Path of a fixture file in test/migrate/fixtures. */
export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Runs `crmsync ...args` to completion (paths in args are absolute); `env` adds to a CRMSYNC_-free environment. */
export const crmsync = (args: string[], options: { env?: Record<string, string> } = {}): Promise<CliResult> => runCli(args, options);

/** `crmsync init` of `dataDir` (in process: it is not what these tests are about). */
export async function initDataDir(dataDir: string, nodeId: string): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  await init({ dataDir, nodeId, listen: '127.0.0.1:0', api: '127.0.0.1:0' }, memoryIo());
  return dataDir;
}

/** Every path under `dir` with its size (directories end in /), sorted; null when `dir` does not exist. */
export async function tree(dir: string): Promise<string[] | null> {
  if (!(await stat(dir).then(() => true, () => false))) return null;
  const out: string[] = [];
  const walk = async (at: string, prefix: string) => {
    for (const entry of (await readdir(at, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isDirectory()) {
        out.push(`${prefix}${entry.name}/`);
        await walk(join(at, entry.name), `${prefix}${entry.name}/`);
      } else {
        out.push(`${prefix}${entry.name} ${(await stat(join(at, entry.name))).size}`);
      }
    }
  };
  await walk(dir, '');
  return out;
}
