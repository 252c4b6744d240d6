/**
 * `crmsync start`: opens the node and its HTTP API, announces them in the data
 * directory (crmsync.pid, api-url) and runs until SIGINT/SIGTERM.
 *
 * Shutdown order: API (no new requests), then node (drains writes, closes the store),
 * then the announcement files. A second signal during shutdown gives up waiting.
 */
import pretty from 'pino-pretty';
import { createApiServer } from '../../api/server.js';
import { dataDirPaths, makePrivateDir, readIfExists, removeIfExists, writeFileAtomic } from '../../config/files.js';
import { formatHostPort, parseHostPort } from '../../config/keys.js';
import { loadConfig, type ConfigFlags, type LoadedConfig } from '../../config/load.js';
import { peerTls } from '../../config/tls.js';
import { createLogger, hasCode, openNode, type CrmNode, type Limits, type Logger } from '../../index.js';
import { neverInitialised, notInitialisedError } from '../connect.js';
import { CliError, EXIT } from '../errors.js';
import { dirArgs } from '../hints.js';
import type { Io } from '../io.js';
import { localIdentity } from '../node-files.js';
import { apiTlsFor, forgetInvitationOnceMember } from './start-parts.js';

/** Options of `start`. */
export type StartOptions = ConfigFlags & {
  /** Engine limit overrides (tests use quick reconnects). */
  limits?: Partial<Limits>;
  /** `--territory` (repeatable): hold only these territories' records. */
  territory?: string[];
  /** `--owner` (repeatable): hold only these owners' records. */
  owner?: string[];
  /** `--all-records`: hold every record the scope allows, dropping a stored subscription. */
  allRecords?: boolean;
};

/** A node and its API, running in this process. */
export interface RunningNode {
  node: CrmNode;
  /** Actual URL of the HTTP API (also in `<dataDir>/api-url`). */
  apiUrl: string;
  /** URL peers dial, or null when listening is off. */
  peerUrl: string | null;
  loaded: LoadedConfig;
  logger: Logger;
  /** Closes the API, then the node, then removes the pid and api-url files. Idempotent. */
  stop(): Promise<void>;
}

/** Where signals come from (`process`, or an EventEmitter in tests). */
export interface SignalSource {
  on(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
}

function makeLogger(level: string, io: Io): Logger {
  // Pretty output for people at a terminal; JSON lines for everything else (log shippers).
  const destination = io.logIsTTY
    ? pretty({ destination: io.logStream, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
    : io.logStream;
  return createLogger({ level, destination });
}

/** Runs `step`, turning "address in use" into a conflict with a hint. */
async function bind<T>(what: string, address: string, flag: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw new CliError(`cannot listen for ${what} on ${address} (${code})`, EXIT.conflict, `choose another address with ${flag} host:port (port 0 picks a free one)`,
        { cause: err, code: 'ERR_ADDRESS_IN_USE' });
    }
    throw err;
  }
}

/**
 * The subscription `--territory` / `--owner` ask for (repeatable): the node then holds
 * only those records; `--all-records`: every record its scope allows; neither: the one
 * the data directory keeps from its last start or `PUT /v1/subscription`.
 */
function subscriptionOf(options: StartOptions): { subscription?: { territories?: string[]; owners?: string[] } | null } {
  const territories = options.territory ?? [];
  const owners = options.owner ?? [];
  if (options.allRecords) {
    if (territories.length > 0 || owners.length > 0) throw new CliError('--all-records and --territory/--owner contradict each other', EXIT.usage, 'give either --all-records or the territories and owners to hold');
    return { subscription: null };
  }
  if (territories.length === 0 && owners.length === 0) return {};
  return { subscription: { ...(territories.length ? { territories } : {}), ...(owners.length ? { owners } : {}) } };
}

/** Opens the node and the API and announces them; returns once both serve. */
export async function startNode(options: StartOptions, io: Io): Promise<RunningNode> {
  const warnings: string[] = [];
  const loaded = await loadConfig({ flags: options, env: io.env, cwd: io.cwd, warn: (m) => warnings.push(m) });
  const { config } = loaded;
  const paths = dataDirPaths(config.dataDir);
  if (config.apiToken === undefined) {
    if (await neverInitialised(loaded)) throw notInitialisedError(loaded, options);
    throw new CliError(`no API token for ${config.dataDir}`, EXIT.usage,
      `run \`crmsync init${dirArgs(options)}\` first (it writes ${paths.apiToken}), or set CRMSYNC_API_TOKEN`, { code: 'ERR_UNAUTHORIZED' });
  }
  const logger = makeLogger(config.logLevel, io);
  for (const warning of warnings) logger.warn({ warning }, 'configuration warning');
  const listen = config.listen === 'off' ? false : parseHostPort(config.listen)!;
  const tls = await peerTls(config);
  // A node started without `init` gets an owner-only directory and its node.key too.
  await makePrivateDir(config.dataDir);
  const identity = await localIdentity(loaded, (m) => logger.warn({ warning: m }, 'configuration warning'));
  const node = await bind('peers', config.listen, '--listen', () => openNode({
    dataDir: paths.db, nodeId: config.nodeId, listen, peers: config.peers, peerToken: config.peerToken,
    ...identity.options, ...(tls === undefined ? {} : { tls }), insecure: config.insecure,
    antiEntropyIntervalMs: config.antiEntropyInterval, logger, mergePolicies: config.mergePolicies, ...subscriptionOf(options),
    limits: { logRetentionMs: config.logRetention, tombstoneRetentionMs: config.tombstoneRetention, lifecycleIntervalMs: config.lifecycleInterval, ...options.limits },
  })).catch((err: unknown) => { throw explainOpenFailure(err, options, paths.nodeKey); });
  let stopping = false;
  const apiAddress = parseHostPort(config.api)!;
  let api: Awaited<ReturnType<typeof createApiServer>>;
  let stopWatching = () => {};
  try {
    if ((await node.status()).insecure) io.err(`WARNING: --insecure: peers connect to ${node.url} without TLS; anyone on the path can read and cut the traffic. For test rigs only.`);
    const apiTls = await apiTlsFor(config, apiAddress.host, identity.keys, node.id, io);
    api = await bind('the HTTP API', formatHostPort(apiAddress), '--api', () => createApiServer(node, {
      host: apiAddress.host, port: apiAddress.port, token: config.apiToken!, logger, ready: () => !stopping,
      ...(apiTls ? { tls: apiTls } : {}), ...(config.advertise === undefined ? {} : { advertise: config.advertise }),
    }));
    if (apiTls) await writeFileAtomic(paths.apiCert, apiTls.cert);
    else await removeIfExists(paths.apiCert);
    stopWatching = forgetInvitationOnceMember(node, paths.invitation, logger);
  } catch (err) {
    await node.close();
    throw err;
  }
  try {
    // We hold the database lock, so any pid file still here is from a node that died.
    const stale = await readIfExists(paths.pid);
    if (stale !== undefined) logger.info({ pid: stale.trim() }, 'replacing the pid file of a node that did not shut down cleanly');
    // pid first: a reader that finds api-url also finds the pid to check it against.
    await writeFileAtomic(paths.pid, `${process.pid}\n`);
    await writeFileAtomic(paths.apiUrl, `${api.url}\n`);
  } catch (err) {
    await api.close().finally(() => node.close());
    throw err;
  }
  logger.info({ node: node.id, url: node.url, api: api.url, dataDir: config.dataDir, pid: process.pid }, 'crmsync ready');

  let stopped: Promise<void> | undefined;
  const server = api;
  const stop = (): Promise<void> => (stopped ??= (async () => {
    stopping = true;
    stopWatching();
    logger.info('crmsync stopping');
    try {
      await server.close();
    } finally {
      try {
        await node.close();
      } finally {
        await removeIfExists(paths.apiUrl);
        await removeIfExists(paths.pid);
      }
    }
    logger.info('crmsync stopped');
  })());
  return { node, apiUrl: api.url, peerUrl: node.url, loaded, logger, stop };
}

/** An error of openNode, with the flags that fix it where the library speaks of options. */
function explainOpenFailure(err: unknown, flags: StartOptions, keyFile: string): unknown {
  if (hasCode(err, 'ERR_VALIDATION') && /without TLS/.test(err.message)) {
    return new CliError(err.message.replace(/ \(remove tls: false.*\)$/, ''), EXIT.usage,
      `peers beyond loopback need TLS: leave --tls at auto (a self-signed certificate bound to the node key), give --tls-cert and --tls-key, or for a test rig pass --insecure   (crmsync config show${dirArgs(flags)} shows where tls=off comes from)`,
      { cause: err, code: 'ERR_VALIDATION' });
  }
  if (hasCode(err, 'ERR_VALIDATION') && /needs its key \(node\.key\)/.test(err.message)) {
    return new CliError(err.message, EXIT.usage, `put the node's key back into ${keyFile} (from a backup of the data directory); a new key is a new node`, { cause: err, code: 'ERR_VALIDATION' });
  }
  return err;
}

/** Runs a node until SIGINT or SIGTERM, then shuts it down cleanly. */
export async function start(options: StartOptions, io: Io, signals: SignalSource = process): Promise<void> {
  const running = await startNode(options, io);
  let onSignal: ((signal: NodeJS.Signals) => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let shuttingDown = false;
      onSignal = (signal) => {
        if (shuttingDown) {
          reject(new CliError(`received ${signal} again during shutdown; exiting without waiting for it to finish`, EXIT.runtime,
            'the pid and api-url files may be left behind; the next start replaces them'));
          return;
        }
        shuttingDown = true;
        running.logger.info({ signal }, 'shutdown requested');
        running.stop().then(resolve, reject);
      };
      signals.on('SIGINT', onSignal);
      signals.on('SIGTERM', onSignal);
    });
  } finally {
    if (onSignal) {
      signals.off('SIGINT', onSignal);
      signals.off('SIGTERM', onSignal);
    }
  }
}
