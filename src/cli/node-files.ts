/**
 * What a data directory says about who its node is, as openNode takes it: the key in
 * `node.key`, the cluster from the configuration and the invitation still to redeem.
 * `start` and the commands that open a stopped node use the same answer.
 */
import { stat } from 'node:fs/promises';
import { dataDirPaths, makePrivateDir } from '../config/files.js';
import { ensureNodeKey, readInvitation, readNodeKey } from '../config/identity.js';
import type { LoadedConfig } from '../config/load.js';
import { openNode, type CrmNode, type NodeKeys, type NodeOptions } from '../index.js';

/** The identity options of openNode for one data directory. */
export interface LocalIdentity {
  options: Pick<NodeOptions, 'identity' | 'cluster' | 'invitation'>;
  /** The node's keys when they are in node.key (a database created by the library alone keeps its key inside). */
  keys: NodeKeys | undefined;
}

/** True when the data directory holds a database. */
export async function hasDatabase(dataDir: string): Promise<boolean> {
  return stat(dataDirPaths(dataDir).db).then(() => true, () => false);
}

/**
 * Reads the identity of `loaded`'s data directory. A directory without a database and
 * without node.key (a node configured by environment alone, never `init`ed) gets its
 * node.key now, so every node's key is a file its operator can see and back up.
 */
export async function localIdentity(loaded: LoadedConfig, warn: (message: string) => void): Promise<LocalIdentity> {
  const paths = dataDirPaths(loaded.config.dataDir);
  let keys = await readNodeKey(paths.nodeKey, warn);
  if (!keys && !(await hasDatabase(loaded.config.dataDir))) {
    await makePrivateDir(loaded.config.dataDir);
    keys = (await ensureNodeKey(paths.nodeKey, warn)).keys;
  }
  const invitation = await readInvitation(paths.invitation, warn);
  const { cluster } = loaded.config;
  return {
    options: {
      ...(keys ? { identity: { privateKeyPem: keys.privateKeyPem } } : {}),
      ...(cluster === undefined ? {} : { cluster: { founder: cluster } }),
      ...(invitation === undefined ? {} : { invitation }),
    },
    keys,
  };
}

/**
 * Opens a stopped node's data directory in this process, without listening or dialing:
 * its key, its cluster, and none of a joining node's invitation (redeeming it is
 * `start`'s job, with the inviter dialed). `nodeId` names a new database's node.
 */
export async function openLocalNode(loaded: LoadedConfig, warn: (message: string) => void, nodeId: string | undefined): Promise<CrmNode> {
  const { options } = await localIdentity(loaded, warn);
  const { invitation: _redeemedByStart, ...identity } = options;
  return openNode({ dataDir: dataDirPaths(loaded.config.dataDir).db, nodeId, listen: false, ...identity });
}
