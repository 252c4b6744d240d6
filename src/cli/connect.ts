/**
 * Finds the running node a command talks to: `--api URL` if given, else the URL the
 * node wrote to `<dataDir>/api-url` when it started; the token from the configuration
 * (flag, env, file) or `<dataDir>/api-token`.
 */
import { dataDirPaths, processAlive, readIfExists } from '../config/files.js';
import { formatHostPort, parseHostPort } from '../config/keys.js';
import { loadConfig, type ConfigFlags, type LoadedConfig } from '../config/load.js';
import { ApiClient } from './client.js';
import { CliError, EXIT, NotRunningError } from './errors.js';
import { httpFetch } from './http.js';
import type { Io } from './io.js';

/** Options every command that talks to a node accepts. */
export type ClientFlags = ConfigFlags & {
  /** Print JSON only. */
  json?: boolean;
};

/** The command to print when the node is not running. */
export function startCommand(loaded: LoadedConfig): string {
  const config = loaded.configFile !== dataDirPaths(loaded.config.dataDir).config ? ` --config ${loaded.configFile}` : '';
  return `crmsync start --data-dir ${loaded.config.dataDir}${config}`;
}

async function runningUrl(loaded: LoadedConfig): Promise<string> {
  const paths = dataDirPaths(loaded.config.dataDir);
  const hint = `start it with: ${startCommand(loaded)}   (or pass --api URL for a node elsewhere)`;
  const url = (await readIfExists(paths.apiUrl))?.trim();
  if (!url) throw new NotRunningError(`no crmsync node is running on ${loaded.config.dataDir} (there is no ${paths.apiUrl})`, hint);
  const pid = Number((await readIfExists(paths.pid))?.trim());
  if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) {
    throw new NotRunningError(`the node on ${loaded.config.dataDir} is not running: process ${pid} that wrote ${paths.apiUrl} has exited`, hint);
  }
  return url;
}

/** Loads the configuration and builds a client of the running node. */
export async function connect(flags: ClientFlags, io: Io): Promise<{ client: ApiClient; loaded: LoadedConfig }> {
  const loaded = await loadConfig({ flags, env: io.env, cwd: io.cwd, warn: io.err });
  let url: string;
  if (loaded.sources.api.kind === 'flag') {
    // --api names a node explicitly (any host); the api-url file is only for local nodes.
    url = `http://${formatHostPort(parseHostPort(loaded.config.api)!)}`;
  } else {
    url = await runningUrl(loaded);
  }
  if (loaded.config.apiToken === undefined) {
    throw new CliError(`no API token for the node at ${url}`, EXIT.usage,
      `pass --token TOKEN or set CRMSYNC_API_TOKEN; \`crmsync init\` writes the token to ${dataDirPaths(loaded.config.dataDir).apiToken}`);
  }
  // httpFetch, not the global fetch: a command starts in a fraction of the time (http.ts).
  const client = new ApiClient(url, loaded.config.apiToken, { unreachableHint: `start it with: ${startCommand(loaded)}`, fetch: httpFetch });
  return { client, loaded };
}
