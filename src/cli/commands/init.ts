/**
 * `crmsync init`: creates a data directory: the node's key pair (`node.key`), its
 * config file, a private API token, and how it enters a cluster: it founds one (the
 * default: it is the first administrator), joins one with an invitation code (`--join`),
 * or waits to be granted by an administrator (`--cluster FINGERPRINT`).
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { dataDirPaths, makePrivateDir, writeFileAtomic } from '../../config/files.js';
import { ensureNodeKey, writeInvitation } from '../../config/identity.js';
import { KEYS, type Config } from '../../config/keys.js';
import { loadConfig, type ConfigFlags } from '../../config/load.js';
import { generateToken, readTokenFile, writeTokenFile } from '../../config/token.js';
import { CliError, EXIT, flagError } from '../errors.js';
import { json, keyValues } from '../format.js';
import { shellWord } from '../hints.js';
import type { Io } from '../io.js';
import { joinPlan, type ClusterPlan } from './init-cluster.js';

/** Options of `init`. */
export type InitOptions = ConfigFlags & {
  /** Overwrite an existing config file (an existing API token and node key are kept). */
  force?: boolean;
  /** An invitation code (`crmsync trust invite`): join that cluster under the code's node id. */
  join?: string;
  json?: boolean;
};

/** What `init` created (its --json output). */
export interface InitResult {
  dataDir: string;
  configFile: string;
  tokenFile: string;
  tokenCreated: boolean;
  keyFile: string;
  keyCreated: boolean;
  /** The node key's fingerprint: how the trust list names this node. */
  key: string;
  nodeId: string;
  /** How the node enters its cluster. */
  cluster: ClusterPlan;
  listen: string;
  api: string;
  peers: string[];
}

/** A node id from the host name plus a random suffix, e.g. `crm-01-3fa2`. */
export function generateNodeId(host = hostname(), random = randomBytes): string {
  const slug = host.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 50).replace(/-+$/, '');
  return `${slug || 'node'}-${random(2).toString('hex')}`;
}

/** Creates the data directory, its key, config file and API token; prints next steps. */
export async function init(options: InitOptions, io: Io): Promise<InitResult> {
  // The existing file (if any) is what --force replaces, so only flags and env count.
  const loaded = await loadConfig({ flags: options, env: io.env, cwd: io.cwd, warn: io.err, readToken: false, skipFile: true });
  const { config } = loaded;
  const paths = dataDirPaths(config.dataDir);
  if (options.join !== undefined && options.cluster !== undefined) {
    throw flagError('--cluster', options.cluster, 'give --join CODE (the code names the cluster) or --cluster FINGERPRINT, not both');
  }
  // Checked before anything is written: a bad code must leave no directory behind.
  const joining = options.join === undefined ? undefined : joinPlan(options.join, config.nodeId, Date.now());
  if (loaded.configFileExists && !options.force) {
    throw new CliError(`${loaded.configFile} already exists`, EXIT.conflict,
      `pass --force to overwrite it (the API token and node key are kept), or choose another --data-dir; see the current values with: crmsync config show --data-dir ${shellWord(config.dataDir)}`);
  }
  // The directory holds customer data and secrets: owner-only.
  await makePrivateDir(config.dataDir);
  await mkdir(dirname(loaded.configFile), { recursive: true });
  const existing = await readTokenFile(paths.apiToken, io.err).catch(() => undefined);
  const token = config.apiToken ?? existing ?? generateToken();
  const tokenCreated = token !== existing;
  if (tokenCreated) await writeTokenFile(paths.apiToken, token);
  const { keys, created: keyCreated } = await ensureNodeKey(paths.nodeKey, io.err);
  const cluster: ClusterPlan = joining?.plan
    ?? (config.cluster === undefined || config.cluster === keys.fingerprint ? { mode: 'found', founder: keys.fingerprint } : { mode: 'await-grant', founder: config.cluster });
  const nodeId = joining?.plan.node ?? config.nodeId ?? generateNodeId();
  // A joining node dials its inviter (and keeps it as a peer) unless peers were given.
  const peers = joining && loaded.sources.peers.kind === 'default' ? joining.urls : config.peers;
  if (joining) await writeInvitation(paths.invitation, options.join!.trim());
  const content = fileContent(loaded.configFile, paths.config, { ...config, nodeId, cluster: cluster.founder, peers });
  await writeFileAtomic(loaded.configFile, `${JSON.stringify(content, null, 2)}\n`, 0o600);
  const result: InitResult = {
    dataDir: config.dataDir, configFile: loaded.configFile, tokenFile: paths.apiToken, tokenCreated,
    keyFile: paths.nodeKey, keyCreated, key: keys.fingerprint, nodeId, cluster, listen: config.listen, api: config.api, peers,
  };
  if (options.json) io.out(json(result));
  else {
    io.out(summary(result));
    io.err(nextSteps(result, loaded.configFile !== paths.config));
  }
  return result;
}

/** Keys init writes even at their default, so the file shows what is in effect. */
const ALWAYS: ReadonlySet<keyof Config> = new Set(['nodeId', 'cluster', 'listen', 'api', 'peers']);
/** Keys that never go into the file: where it is, and the API token (it has its own file). */
const NEVER: ReadonlySet<keyof Config> = new Set(['dataDir', 'apiToken']);

/** The keys init writes: the identity, the addresses, and every other key given by flag or environment. */
function fileContent(file: string, defaultFile: string, config: Config): Record<string, unknown> {
  const content: Record<string, unknown> = {};
  // A config file outside the data directory must say where the data directory is.
  if (file !== defaultFile) content.dataDir = config.dataDir;
  for (const key of Object.keys(KEYS) as (keyof Config)[]) {
    if (NEVER.has(key)) continue;
    const value = config[key];
    const isDefault = value === KEYS[key].default || (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0);
    if (ALWAYS.has(key) || (value !== undefined && !isDefault)) content[key] = value;
  }
  return content;
}

const MEMBERSHIP: Record<ClusterPlan['mode'], (r: InitResult) => string> = {
  found: () => 'founds a new cluster (first administrator, role region)',
  join: (r) => `joins with an invitation as ${r.cluster.role ?? '?'} (redeemed with ${r.cluster.issuer ?? 'its inviter'} at first start)`,
  'await-grant': (r) => `waits for an administrator of ${r.cluster.founder} to grant its key`,
};

function summary(r: InitResult): string {
  return [
    `Initialised crmsync node "${r.nodeId}".`,
    '',
    keyValues([
      ['data dir', r.dataDir],
      ['config', r.configFile],
      ['node key', `${r.keyFile} (mode 0600${r.keyCreated ? ', new' : ', kept'})`],
      ['fingerprint', r.key],
      ['cluster', MEMBERSHIP[r.cluster.mode](r)],
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
  const cluster = {
    found: [`  crmsync trust invite --node NEW-NODE-ID --role laptop ${dirArgs}   # a code for each new machine`],
    join: [],
    'await-grant': [`  # on an administrator node: crmsync trust add ${r.key} --node ${r.nodeId} --role region`],
  }[r.cluster.mode];
  return [
    'Next steps:',
    ...cluster,
    `  crmsync start ${dirArgs}          # run the node (Ctrl-C stops it)`,
    `  crmsync status ${dirArgs}         # in another terminal`,
    ...(r.peers.length === 0 ? [`  crmsync peers add wss://OTHER-HOST:PORT --node OTHER-NODE-ID ${dirArgs}`] : []),
    `  CRM applications call the HTTP API with: Authorization: Bearer $(cat ${shellWord(r.tokenFile)})`,
  ].join('\n');
}
