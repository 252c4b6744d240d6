/**
 * Finds the running node a command talks to: `--api URL` if given, else the URL the
 * node wrote to `<dataDir>/api-url` when it started; the token from the configuration
 * (flag, env, file) or `<dataDir>/api-token`.
 */
import { readFile, stat } from 'node:fs/promises';
import { dataDirPaths, processAlive, readIfExists } from '../config/files.js';
import { formatHostPort, parseHostPort } from '../config/keys.js';
import { loadConfig, type ConfigFlags, type LoadedConfig } from '../config/load.js';
import { ApiClient } from './client.js';
import { CliError, EXIT, NotRunningError } from './errors.js';
import { dirArgs, type WhereFlags } from './hints.js';
import { createHttpFetch, type PinnedCertificate } from './http.js';
import type { Io } from './io.js';

/** Options every command that talks to a node accepts. */
export type ClientFlags = ConfigFlags & {
  /** Print JSON only. */
  json?: boolean;
  /** `--api-cert FILE`: the certificate an https:// API must present. */
  apiCert?: string;
};

/** The command to print when the node is not running, with the -d/-c the user gave. */
function startCommand(flags: WhereFlags): string {
  return `crmsync start${dirArgs(flags)}`;
}

/**
 * True when `init` never ran on the data directory: no config file and no database.
 * (A node configured by environment alone has a database once it has run.)
 */
export async function neverInitialised(loaded: LoadedConfig): Promise<boolean> {
  if (loaded.configFileExists) return false;
  return !(await stat(dataDirPaths(loaded.config.dataDir).db).then(() => true, () => false));
}

/**
 * "not a crmsync data directory: run crmsync init -d DIR" (exit 4, ERR_NOT_INITIALISED);
 * `otherwise` lists the other ways out (a command that can create a node adds --node-id).
 */
export function notInitialisedError(loaded: LoadedConfig, flags: WhereFlags, otherwise = 'pass the --data-dir of an existing node, or --api URL for a node elsewhere'): CliError {
  return new CliError(`${loaded.config.dataDir} is not a crmsync data directory: there is no ${loaded.configFile} and no crmsync database`, EXIT.notFound,
    `create it with: crmsync init${dirArgs(flags)}   (or ${otherwise})`,
    { code: 'ERR_NOT_INITIALISED' });
}

async function runningUrl(loaded: LoadedConfig, flags: WhereFlags): Promise<string> {
  const paths = dataDirPaths(loaded.config.dataDir);
  const hint = `start it with: ${startCommand(flags)}   (or pass --api URL for a node elsewhere)`;
  const url = (await readIfExists(paths.apiUrl))?.trim();
  if (!url) {
    if (await neverInitialised(loaded)) throw notInitialisedError(loaded, flags);
    throw new NotRunningError(`no crmsync node is running on ${loaded.config.dataDir} (there is no ${paths.apiUrl})`, hint);
  }
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
  const explicit = loaded.sources.api.kind === 'flag';
  if (explicit) {
    // --api names a node explicitly (any host); the api-url file is only for local nodes.
    const scheme = /^https:\/\//i.test(loaded.config.api) ? 'https' : 'http';
    url = `${scheme}://${formatHostPort(parseHostPort(loaded.config.api)!)}`;
  } else {
    url = await runningUrl(loaded, flags);
  }
  const pin = await pinnedCertificate(flags, loaded, url, explicit, io);
  if (loaded.config.apiToken === undefined) {
    throw new CliError(`no API token for the node at ${url}`, EXIT.usage,
      `pass --token TOKEN or set CRMSYNC_API_TOKEN; \`crmsync init\` writes the token to ${dataDirPaths(loaded.config.dataDir).apiToken}`,
      { code: 'ERR_UNAUTHORIZED' });
  }
  // httpFetch, not the global fetch: a command starts in a fraction of the time (http.ts).
  const client = new ApiClient(url, loaded.config.apiToken, { unreachableHint: `start it with: ${startCommand(flags)}   (or pass the right --api URL)`, fetch: createHttpFetch(pin) });
  return { client, loaded };
}

/**
 * The certificate an https:// API must present: `--api-cert FILE`, else (for the local
 * node found through api-url) the api-cert.pem it wrote when it started.
 */
async function pinnedCertificate(flags: ClientFlags, loaded: LoadedConfig, url: string, explicit: boolean, io: Io): Promise<PinnedCertificate | undefined> {
  if (flags.apiCert !== undefined) {
    const file = flags.apiCert;
    const pem = await readFile(file, 'utf8').catch((err: Error) => {
      throw new CliError(`cannot read --api-cert ${file}: ${err.message}`, EXIT.usage, 'give the certificate the API presents (its node writes it to <data-dir>/api-cert.pem)', { code: 'ERR_USAGE' });
    });
    if (!url.startsWith('https:')) io.err(`note: --api-cert is ignored: ${url} is not https://`);
    return { pem, file };
  }
  if (explicit || !url.startsWith('https:')) return undefined;
  const file = dataDirPaths(loaded.config.dataDir).apiCert;
  const pem = await readIfExists(file);
  return pem === undefined ? undefined : { pem, file };
}
