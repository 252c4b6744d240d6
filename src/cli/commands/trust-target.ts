/**
 * Where the trust commands run: the running node through its HTTP API (`--api URL`, or
 * the node the data directory's api-url names while its process lives), otherwise the
 * stopped node's data directory, opened here without listening. Both answer through the
 * same TrustPort, so each command is written once.
 */
import { dataDirPaths, processAlive, readIfExists } from '../../config/files.js';
import { loadConfig, type LoadedConfig } from '../../config/load.js';
import { advertisedUrl } from '../../config/tls.js';
import { hasCode, type CrmNode, type Role, type Scope, type TrustMember, type TrustView } from '../../index.js';
import { connect, neverInitialised, notInitialisedError, type ClientFlags } from '../connect.js';
import { CliError, EXIT } from '../errors.js';
import { dirArgs, suggest } from '../hints.js';
import type { Io } from '../io.js';
import { openLocalNode } from '../node-files.js';

/** An invitation as the commands print it. */
export interface IssuedInvitation {
  code: string;
  node: string;
  role: Role;
  expires: number;
  urls: string[];
}

/** The trust operations, on a running node or a stopped one. */
export interface TrustPort {
  /** 'api' (a running node) or 'local' (a stopped data directory opened here). */
  readonly kind: 'api' | 'local';
  view(): Promise<TrustView>;
  grant(body: { key: string; node: string; role: Role; admin?: boolean; scope?: Scope }): Promise<TrustMember>;
  revoke(member: string): Promise<{ node: string; key: string; upTo: number }>;
  invite(body: { node: string; role: Role; scope?: Scope; ttlSeconds: number; urls?: string[] }): Promise<IssuedInvitation>;
  close(): Promise<void>;
}

/** True when the data directory names a running node (its api-url, and its pid alive). */
async function running(loaded: LoadedConfig): Promise<boolean> {
  const paths = dataDirPaths(loaded.config.dataDir);
  if ((await readIfExists(paths.apiUrl)) === undefined) return false;
  const pid = Number((await readIfExists(paths.pid))?.trim());
  return !(Number.isInteger(pid) && pid > 0 && !processAlive(pid));
}

/** Opens the node the flags name; the caller closes the port. */
export async function openTrustPort(flags: ClientFlags, io: Io): Promise<TrustPort> {
  const loaded = await loadConfig({ flags, env: io.env, cwd: io.cwd, warn: io.err, readToken: false });
  if (flags.api !== undefined || (await running(loaded))) return apiPort(flags, io);
  if (await neverInitialised(loaded)) throw notInitialisedError(loaded, flags);
  let node: CrmNode;
  try {
    node = await openLocalNode(loaded, io.err, loaded.config.nodeId);
  } catch (err) {
    if (!hasCode(err, 'ERR_LOCKED')) throw err;
    throw new CliError(`the node on ${loaded.config.dataDir} is running, but it left no api-url to reach it by`, EXIT.conflict,
      `pass its API: ${suggest('trust list', flags)} --api URL`, { cause: err, code: 'ERR_LOCKED' });
  }
  return localPort(node, loaded, flags);
}

async function apiPort(flags: ClientFlags, io: Io): Promise<TrustPort> {
  const { client } = await connect(flags, io);
  return {
    kind: 'api',
    view: () => client.trust(),
    grant: (body) => client.grant(body),
    revoke: (member) => client.revoke(member),
    invite: (body) => client.invite(body),
    close: async () => {},
  };
}

function localPort(node: CrmNode, loaded: LoadedConfig, flags: ClientFlags): TrustPort {
  return {
    kind: 'local',
    view: async () => node.trust.view(),
    grant: (body) => node.trust.grant(body),
    revoke: (member) => node.trust.revoke(member),
    async invite(body) {
      const urls = body.urls && body.urls.length > 0 ? body.urls : [ownUrl(loaded, flags)];
      const issued = await node.trust.invite({ node: body.node, role: body.role, ...(body.scope ? { scope: body.scope } : {}), ttlMs: body.ttlSeconds * 1000, urls });
      return { ...issued, urls };
    },
    close: () => node.close(),
  };
}

/** The stopped node's advertised peer URL, or a usage error saying why there is none. */
function ownUrl(loaded: LoadedConfig, flags: ClientFlags): string {
  const advertised = advertisedUrl(loaded.config);
  if ('url' in advertised) return advertised.url;
  throw new CliError(`cannot tell where the new node reaches this one: ${advertised.why}`, EXIT.usage,
    `pass --url wss://HOST:PORT (repeatable), or set it once: "advertise" in ${loaded.configFile} (crmsync init${dirArgs(flags)} --advertise wss://HOST:PORT --force)`,
    { code: 'ERR_USAGE' });
}
