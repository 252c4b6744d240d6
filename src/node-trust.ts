/**
 * Part of the composition root: who a node is (its key, node id and cluster) and the
 * trust list it starts from. A data directory is bound to its key and cluster for
 * life: its origin's entries are signed with that key.
 */
import { CrmsyncError } from './errors.js';
import type { Limits } from './limits.js';
import type { Logger } from './log.js';
import type { NodeIdentityRecord, Store } from './store/store.js';
import { generateNodeKeys, loadNodeKeys, parseFingerprint, SignatureVerifier, type NodeKeys } from './trust/keys.js';
import { TrustList } from './trust/trust-list.js';
import { TrustService } from './trust/trust-service.js';
import { parseNodeId, type NodeId } from './types.js';

/** Identity options of openNode. */
export interface IdentityOptions {
  nodeId?: string | undefined;
  /** The node's key (PKCS#8 PEM, e.g. node.key). Absent: generated and kept in the store. */
  identity?: { privateKeyPem: string } | undefined;
  /**
   * The cluster to join: its founder's key fingerprint and statements to start from (the
   * grant of this node, typically). Absent when a data directory is created: the node
   * founds a new cluster and is its first administrator.
   */
  cluster?: { founder: string; statements?: unknown[] } | undefined;
}

/** The identity record of a new data directory. */
export function newIdentity(options: IdentityOptions, generateNodeId: () => NodeId): { record: NodeIdentityRecord; keys: NodeKeys } {
  const keys = options.identity ? loadNodeKeys(options.identity.privateKeyPem) : generateNodeKeys();
  const founder = options.cluster?.founder ?? keys.fingerprint;
  parseFingerprint(founder);
  const record: NodeIdentityRecord = {
    nodeId: options.nodeId === undefined ? generateNodeId() : parseNodeId(options.nodeId), key: keys.fingerprint, founder,
    ...(options.identity ? {} : { privateKeyPem: keys.privateKeyPem }),
  };
  return { record, keys };
}

/** The keys of an existing data directory, checked against what the options say. */
export function existingKeys(record: NodeIdentityRecord, options: IdentityOptions): NodeKeys {
  if (options.nodeId !== undefined && options.nodeId !== record.nodeId) {
    throw new CrmsyncError('ERR_VALIDATION', `data directory belongs to node "${record.nodeId}", not "${options.nodeId}"`);
  }
  if (options.cluster && options.cluster.founder !== record.founder) {
    throw new CrmsyncError('ERR_VALIDATION', `data directory belongs to the cluster founded by ${record.founder}, not ${options.cluster.founder}`);
  }
  const pem = options.identity?.privateKeyPem ?? record.privateKeyPem;
  if (pem === undefined) {
    throw new CrmsyncError('ERR_VALIDATION', `data directory of node "${record.nodeId}" needs its key (node.key): pass it as the identity`);
  }
  const keys = loadNodeKeys(pem);
  if (keys.fingerprint !== record.key) {
    throw new CrmsyncError('ERR_VALIDATION', `the given key ${keys.fingerprint} is not the key of node "${record.nodeId}" (${record.key}); a node's history is signed with its own key`);
  }
  return keys;
}

/** Loads the trust list (stored statements, then the options'), founding the cluster on first start. */
export async function openTrust(store: Store, keys: NodeKeys, options: IdentityOptions, limits: Limits, logger: Logger, now: number): Promise<TrustService> {
  const verifier = new SignatureVerifier(limits.maxTrustStatements);
  const list = new TrustList({ founderKey: parseFingerprint(store.identity.founder), verifier, maxStatements: limits.maxTrustStatements });
  const trust = new TrustService({ keys, list, verifier, persistence: store, logger, maxProof: 16 });
  const stored = await store.trustStatements();
  if (stored.length > 0) list.add(stored);
  if (options.cluster?.statements?.length) await trust.receive(options.cluster.statements, store.nodeId);
  if (list.founder === keys.fingerprint && !list.memberByKey(keys.fingerprint)) {
    await trust.issue({ op: 'grant', node: store.nodeId, key: keys.fingerprint, role: 'region', admin: true }, now);
  }
  const self = list.memberByKey(keys.fingerprint);
  if (!self) logger.warn({ key: keys.fingerprint }, 'this node is not yet on its cluster\'s trust list; peers will refuse it until an administrator grants its key');
  else if (self.node !== store.nodeId) {
    throw new CrmsyncError('ERR_VALIDATION', `the trust list binds this node's key to node id "${self.node}", not "${store.nodeId}"`);
  }
  return trust;
}
