/**
 * Where export, backup and restore run: against a running node through its HTTP API
 * (`--api`, alone for the URL in <dataDir>/api-url, or `--api URL`), or against a
 * stopped node's data directory, opened in this process without listening for peers.
 * A running node holds its directory's lock, so the second way then fails with
 * "the node is running; use --api".
 */
import { readFile, stat } from 'node:fs/promises';
import { dataDirPaths } from '../../config/files.js';
import { loadConfig, type LoadedConfig } from '../../config/load.js';
import { hasCode, openNode, parseNodeId, type CrmNode, type RecordView } from '../../index.js';
import type { ExportFilters, PageReader } from '../../migrate/export.js';
import type { ApiClient } from '../client.js';
import { connect, neverInitialised, notInitialisedError, type ClientFlags } from '../connect.js';
import { CliError, EXIT } from '../errors.js';
import { dirArgs } from '../hints.js';
import type { Io } from '../io.js';

/** Flags of the migrate commands: `--api` may be given without a URL. */
export type TargetFlags = Omit<ClientFlags, 'api'> & { api?: string | boolean; nodeId?: string };

/** A node reached over HTTP. */
export interface ApiTarget {
  kind: 'api';
  client: ApiClient;
  baseUrl: string;
  token: string;
  loaded: LoadedConfig;
}

/** A stopped node's data directory, opened here. */
export interface LocalTarget {
  kind: 'local';
  node: CrmNode;
  dataDir: string;
  loaded: LoadedConfig;
  /** Directories this open created (the database, and the data directory if it was missing), outermost first. */
  created: string[];
}

/** The node a command works on. */
export type Target = ApiTarget | LocalTarget;

/** How a command uses a local data directory. */
export interface LocalUse {
  /** The command as typed, for the "use --api" hint (e.g. "crmsync backup all.crmbak"). */
  command: string;
  /** May create the database (restore into a new node); otherwise it must exist. */
  create?: boolean;
  /** The cluster a database created here joins (a restore: the backup's); default: it founds a new one. */
  cluster?: { founder: string; statements: unknown[] };
}

/** Opens the target the flags name; the caller must `closeTarget` it. */
export async function openTarget(flags: TargetFlags, io: Io, use: LocalUse): Promise<Target> {
  const { api, ...rest } = flags;
  if (api !== undefined && api !== false) {
    const { client, loaded } = await connect(typeof api === 'string' ? { ...rest, api } : rest, io);
    return { kind: 'api', client, baseUrl: client.baseUrl, token: loaded.config.apiToken!, loaded };
  }
  const loaded = await loadConfig({ flags: rest, env: io.env, cwd: io.cwd, warn: io.err, readToken: false });
  const { dataDir } = loaded.config;
  const paths = dataDirPaths(dataDir);
  const exists = await stat(paths.db).then(() => true, () => false);
  if (!exists && !use.create) {
    if (await neverInitialised(loaded)) throw notInitialisedError(loaded, rest);
    throw new CliError(`there is no crmsync database in ${dataDir} (no ${paths.db})`, EXIT.notFound,
      'pass the --data-dir of a node, or --api to use a running node');
  }
  const nodeId = flags.nodeId ?? loaded.config.nodeId;
  if (!exists && nodeId === undefined) {
    // The same answer as every other command on a directory init never ran on (exit 4).
    if (await neverInitialised(loaded)) {
      throw notInitialisedError(loaded, rest, 'pass --node-id to create a new node here, the --data-dir of an existing node, or --api for a running one');
    }
    throw new CliError(`${dataDir} has no database and no node id to create one with`, EXIT.usage,
      `pass --node-id, or set "nodeId" in ${loaded.configFile}`);
  }
  // Checked before anything is opened or created: opening LevelDB writes to its directory.
  if (nodeId !== undefined) parseNodeId(nodeId);
  await sameNode(loaded, flags.nodeId, exists);
  const created = exists ? [] : await missing([dataDir, paths.db]);
  try {
    const node = await openNode({ dataDir: paths.db, nodeId, listen: false, ...(use.cluster && !exists ? { cluster: use.cluster } : {}) });
    return { kind: 'local', node, dataDir, loaded, created };
  } catch (err) {
    if (hasCode(err, 'ERR_LOCKED')) {
      throw new CliError(`the node on ${dataDir} is running; use --api`, EXIT.conflict,
        `${use.command}${dirArgs(rest)} --api   (talks to the running node through its HTTP API)`, { cause: err, code: 'ERR_LOCKED' });
    }
    throw err;
  }
}

/** The paths among `paths` that do not exist yet. */
async function missing(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) if (!(await stat(path).then(() => true, () => false))) out.push(path);
  return out;
}

/** Refuses --node-id naming another node than the data directory's crmsync.json, before the database is opened. */
async function sameNode(loaded: LoadedConfig, flag: string | undefined, exists: boolean): Promise<void> {
  if (flag === undefined || !exists || !loaded.configFileExists) return;
  const inFile = await readFile(loaded.configFile, 'utf8').then((t) => (JSON.parse(t) as { nodeId?: unknown }).nodeId, () => undefined);
  if (typeof inFile === 'string' && inFile !== flag) {
    throw new CliError(`this data directory belongs to node "${inFile}" (${loaded.configFile}), not "${flag}"`, EXIT.usage,
      'leave out --node-id (it is only for a data directory without a database), or use another --data-dir');
  }
}

/** Closes a local node (an API target needs nothing). */
export async function closeTarget(target: Target): Promise<void> {
  if (target.kind === 'local') await target.node.close();
}

/** Runs `body` with the target open, closing it afterwards. */
export async function withTarget<T>(flags: TargetFlags, io: Io, use: LocalUse, body: (target: Target) => Promise<T>): Promise<T> {
  const target = await openTarget(flags, io, use);
  try {
    return await body(target);
  } finally {
    await closeTarget(target);
  }
}

const PATH_ERRORS = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM']);

/** A file-system failure on a path the user named, as a CliError saying which file; other errors unchanged. */
export function fileError(err: unknown, path: string, action: string): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('E') || code.startsWith('ERR_')) return err;
  return new CliError(`cannot ${action} ${path}: ${(err as Error).message}`, PATH_ERRORS.has(code) ? EXIT.usage : EXIT.runtime, undefined, { cause: err });
}

/** Pages of the records the filters select, read through the HTTP API. */
export function apiPages(client: ApiClient, filters: ExportFilters, pageSize: number): PageReader {
  return async (after) => {
    const page = await client.list({ ...filters, limit: pageSize, ...(after === undefined ? {} : { cursor: after }) });
    return { records: page.customers as RecordView[], next: page.next ?? undefined };
  };
}
