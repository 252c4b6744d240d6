/** `crmsync init`: creates a data directory with crmsync.json and a private API token. */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { dataDirPaths, writeFileAtomic } from '../../config/files.js';
import { KEYS, type Config } from '../../config/keys.js';
import { loadConfig, type ConfigFlags } from '../../config/load.js';
import { generateToken, readTokenFile, writeTokenFile } from '../../config/token.js';
import { CliError, EXIT } from '../errors.js';
import { json, keyValues } from '../format.js';
import { shellWord } from '../hints.js';
import type { Io } from '../io.js';

/** Options of `init`. */
export type InitOptions = ConfigFlags & {
  /** Overwrite an existing config file (an existing API token is kept). */
  force?: boolean;
  json?: boolean;
};

/** What `init` created (its --json output). */
export interface InitResult {
  dataDir: string;
  configFile: string;
  tokenFile: string;
  tokenCreated: boolean;
  nodeId: string;
  listen: string;
  api: string;
  peers: string[];
}

/** A node id from the host name plus a random suffix, e.g. `crm-01-3fa2`. */
export function generateNodeId(host = hostname(), random = randomBytes): string {
  const slug = host.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 50).replace(/-+$/, '');
  return `${slug || 'node'}-${random(2).toString('hex')}`;
}

/** Creates the data directory, its config file and API token; prints next steps. */
export async function init(options: InitOptions, io: Io): Promise<InitResult> {
  // The existing file (if any) is what --force replaces, so only flags and env count.
  const loaded = await loadConfig({ flags: options, env: io.env, cwd: io.cwd, warn: io.err, readToken: false, skipFile: true });
  const { config } = loaded;
  const paths = dataDirPaths(config.dataDir);
  if (loaded.configFileExists && !options.force) {
    throw new CliError(`${loaded.configFile} already exists`, EXIT.conflict,
      `pass --force to overwrite it (the API token is kept), or choose another --data-dir; see the current values with: crmsync config show --data-dir ${config.dataDir}`);
  }
  // The directory holds customer data and secrets: owner-only.
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await mkdir(dirname(loaded.configFile), { recursive: true });
  const existing = await readTokenFile(paths.apiToken, io.err).catch(() => undefined);
  const token = config.apiToken ?? existing ?? generateToken();
  const tokenCreated = token !== existing;
  if (tokenCreated) await writeTokenFile(paths.apiToken, token);
  const nodeId = config.nodeId ?? generateNodeId();
  await writeFileAtomic(loaded.configFile, `${JSON.stringify(fileContent(loaded.configFile, paths.config, { ...config, nodeId }), null, 2)}\n`, 0o600);
  const result: InitResult = {
    dataDir: config.dataDir, configFile: loaded.configFile, tokenFile: paths.apiToken, tokenCreated,
    nodeId, listen: config.listen, api: config.api, peers: config.peers,
  };
  if (options.json) io.out(json(result));
  else {
    io.out(summary(result));
    io.err(nextSteps(result, loaded.configFile !== paths.config));
  }
  return result;
}

/** The keys init writes; defaults are written too, so the file shows what is in effect. */
function fileContent(file: string, defaultFile: string, config: Config): Record<string, unknown> {
  const content: Record<string, unknown> = {};
  // A config file outside the data directory must say where the data directory is.
  if (file !== defaultFile) content.dataDir = config.dataDir;
  content.nodeId = config.nodeId;
  content.listen = config.listen;
  content.api = config.api;
  content.peers = config.peers;
  if (config.peerToken !== undefined) content.peerToken = config.peerToken;
  if (config.logLevel !== KEYS.logLevel.default) content.logLevel = config.logLevel;
  return content;
}

function summary(r: InitResult): string {
  return [
    `Initialised crmsync node "${r.nodeId}".`,
    '',
    keyValues([
      ['data dir', r.dataDir],
      ['config', r.configFile],
      ['API token', `${r.tokenFile} (mode 0600${r.tokenCreated ? ', new' : ', kept'})`],
      ['peers listen on', r.listen],
      ['HTTP API on', r.api],
      ['peers', r.peers.join(', ') || 'none yet'],
    ]),
  ].join('\n');
}

/** Hints (stderr): the commands to run next, aimed at this directory. */
function nextSteps(r: InitResult, explicitConfig: boolean): string {
  const dirArgs = `--data-dir ${shellWord(r.dataDir)}${explicitConfig ? ` --config ${shellWord(r.configFile)}` : ''}`;
  return [
    'Next steps:',
    `  crmsync start ${dirArgs}          # run the node (Ctrl-C stops it)`,
    `  crmsync status ${dirArgs}         # in another terminal`,
    `  crmsync peers add ws://OTHER-HOST:PORT ${dirArgs}`,
    `  CRM applications call the HTTP API with: Authorization: Bearer $(cat ${shellWord(r.tokenFile)})`,
  ].join('\n');
}
