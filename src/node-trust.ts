/**
 * Part of the composition root: who a node is (its key, node id and cluster) and the
 * trust list it starts from. A data directory is bound to its key and cluster for
 * life: its origin's entries are signed with that key.
 */
import { CrmsyncError } from './errors.js';
import { FIXED, type Limits } from './limits.js';
import type { Logger } from './log.js';
import type { NodeIdentityRecord, Store } from './store/store.js';
import { generateNodeKeys, loadNodeKeys, parseFingerprint, SignatureVerifier, type NodeKeys } from './trust/keys.js';
import { decodeInvitation, type Invitation } from './trust/invitation.js';
import { parseStatement } from './trust/statements.js';
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
  /**
   * An invitation code (crmsync trust invite) for a new data directory: it names the
   * cluster, the node id and the administrator to dial, who grants this node's key.
   */
  invitation?: string | undefined;
}

/** Where a joining node keeps its invitation until it is a member. */
const JOINING_KEY = 'trust/joining';

/** The identity record of a new data directory. */
export function newIdentity(options: IdentityOptions, generateNodeId: () => NodeId): { record: NodeIdentityRecord; keys: NodeKeys } {
  const keys = options.identity ? loadNodeKeys(options.identity.privateKeyPem) : generateNodeKeys();
  const invitation = options.invitation === undefined ? undefined : decodeInvitation(options.invitation);
  if (invitation && options.nodeId !== undefined && options.nodeId !== invitation.node) {
    throw new CrmsyncError('ERR_VALIDATION', `the invitation is for node id "${invitation.node}", not "${options.nodeId}"`);
  }
  const founder = invitation?.founder ?? options.cluster?.founder ?? keys.fingerprint;
  parseFingerprint(founder);
  const record: NodeIdentityRecord = {
    nodeId: invitation?.node ?? (options.nodeId === undefined ? generateNodeId() : parseNodeId(options.nodeId)), key: keys.fingerprint, founder,
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
  const verifier = new SignatureVerifier();
  const list = new TrustList({ founderKey: parseFingerprint(store.identity.founder), verifier, maxStatements: limits.maxTrustStatements, maxErasures: limits.maxErasures });
  const joining = await joiningInvitation(store, options);
  const trust = new TrustService({ keys, list, verifier, persistence: store, logger, maxProof: FIXED.maxProofStatements, joining });
  const stored = await store.trustStatements();
  if (stored.length > 0) list.add(stored);
  if (options.cluster?.statements?.length) await trust.receive(options.cluster.statements, store.nodeId);
  if (list.founder === keys.fingerprint && !list.memberByKey(keys.fingerprint)) {
    await trust.issue({ op: 'grant', node: store.nodeId, key: keys.fingerprint, role: 'region', admin: true }, now);
  }
  const self = list.memberByKey(keys.fingerprint);
  if (!self && joining) logger.info({ issuer: joining.issuer }, 'joining the cluster: redeeming the invitation with its issuer');
  else if (!self) logger.warn({ key: keys.fingerprint }, 'this node is not yet on its cluster\'s trust list; peers will refuse it until an administrator grants its key');
  else if (self.node !== store.nodeId) {
    throw new CrmsyncError('ERR_VALIDATION', `the trust list binds this node's key to node id "${self.node}", not "${store.nodeId}"`);
  }
  return trust;
}

/** The invitation a node joins with: the one given now (kept for restarts) or the one kept. */
async function joiningInvitation(store: Store, options: IdentityOptions): Promise<Invitation | undefined> {
  if (options.invitation !== undefined) {
    const invitation = decodeInvitation(options.invitation);
    if (invitation.founder !== store.identity.founder) {
      throw new CrmsyncError('ERR_VALIDATION', 'the invitation is for another cluster than this data directory\'s');
    }
    await store.putState([[JOINING_KEY, options.invitation]]);
    return invitation;
  }
  const kept = await store.getState<string>(JOINING_KEY);
  return kept === undefined ? undefined : decodeInvitation(kept);
}

/** The peers a joining node dials: its invitation's issuer, besides the configured ones. */
export function invitationPeers(options: IdentityOptions): string[] {
  return options.invitation === undefined ? [] : decodeInvitation(options.invitation).urls;
}

/**
 * Adds statements all or nothing (a backup's): each is parsed, its issuer's signature
 * and its cluster checked before any is added, so one altered statement refuses them all
 * (ERR_VALIDATION). Returns how many were new.
 */
export async function importStatements(trust: TrustService, statements: readonly unknown[], from: NodeId): Promise<number> {
  for (const value of statements) {
    const statement = parseStatement(value, trust.verifier);
    if (statement.cluster !== trust.cluster) {
      throw new CrmsyncError('ERR_VALIDATION', `trust statement for cluster ${statement.cluster}, not this node's cluster (${trust.cluster})`);
    }
  }
  return trust.receive(statements, from);
}
