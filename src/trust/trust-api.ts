/**
 * The trust operations of a node, as the library, the HTTP API and the CLI use them:
 * who is in the cluster, and (on an administrator) granting, revoking and inviting.
 */
import type { OriginHead } from '../crdt/origin-clock.js';
import { CrmsyncError } from '../errors.js';
import { parseNodeId, type NodeId } from '../types.js';
import { encodeInvitation } from './invitation.js';
import { fingerprintOf, parseFingerprint } from './keys.js';
import { ROLES, type Role, type Scope } from './statements.js';
import type { TrustService } from './trust-service.js';

/** One member as listed. */
export interface TrustMember {
  node: NodeId;
  key: string;
  role: Role;
  admin: boolean;
  scope?: Scope;
  grantedBy: string;
  grantedAt: number;
}

/** The trust list as a node sees it. */
export interface TrustView {
  cluster: string;
  founder: string;
  /** This node: its key, and its membership (null while an invitation is pending). */
  self: { node: NodeId; key: string; role: Role | null; admin: boolean };
  members: TrustMember[];
  revoked: { node: string | null; key: string; upTo: number }[];
}

/** The trust operations of a node. */
export interface TrustApi {
  view(): TrustView;
  /** Grants a key a node id and role (administrators only). */
  grant(body: { node: string; key: string; role: Role; admin?: boolean; scope?: Scope }): Promise<TrustMember>;
  /** Revokes a member by node id or key: its history up to what this node holds stays valid. */
  revoke(nodeOrKey: string): Promise<{ node: string; key: string; upTo: number }>;
  /** An invitation code for a new node (administrators only), valid for `ttlMs`. */
  invite(body: { node: string; role: Role; scope?: Scope; ttlMs: number; urls: string[] }): Promise<{ code: string; node: NodeId; role: Role; expires: number }>;
}

/** Builds the trust API over a node's trust service. */
export function createTrustApi(trust: TrustService, options: { self: NodeId; clock: () => ReadonlyMap<string, OriginHead>; now: () => number; assertOpen: () => void }): TrustApi {
  const { list } = trust;
  const role = (value: string): Role => {
    if (!(ROLES as readonly string[]).includes(value)) throw new CrmsyncError('ERR_VALIDATION', `unknown role "${value}": use ${ROLES.join(', ')}`, { details: [{ field: 'role', message: 'unknown role' }] });
    return value as Role;
  };
  const memberOf = (key: string): TrustMember => {
    const m = list.memberByKey(key)!;
    return { node: m.node, key: m.key, role: m.role, admin: m.admin, ...(m.scope ? { scope: m.scope } : {}), grantedBy: m.grantedBy, grantedAt: m.grantedAt };
  };
  return {
    view() {
      options.assertOpen();
      const self = list.memberByKey(trust.keys.publicKey);
      return {
        cluster: list.cluster, founder: list.founder,
        self: { node: options.self, key: trust.keys.fingerprint, role: self?.role ?? null, admin: list.isAdmin(trust.keys.fingerprint) },
        members: list.members().map((m) => memberOf(m.key)),
        revoked: list.revoked().map((key) => {
          const node = list.statements().find((s) => s.op === 'grant' && s.key === key)?.node ?? null;
          return { node, key, upTo: (node && list.retired(node)?.upTo) || 0 };
        }),
      };
    },
    async grant(body) {
      options.assertOpen();
      const key = fingerprintOf(parseFingerprint(body.key));
      // Checked before signing: a grant that cannot take would be stored and relayed for nothing.
      const byKey = list.memberByKey(key);
      const byNode = list.memberByNode(body.node);
      if ((byKey && byKey.node !== body.node) || (byNode && byNode.key !== key)) {
        throw new CrmsyncError('ERR_EXISTS', `node id "${body.node}" or key ${key} is already bound to another key or node (a node id and a key are bound for life)`);
      }
      await trust.issue({ op: 'grant', node: parseNodeId(body.node), key, role: role(body.role), admin: body.admin ?? false, ...(body.scope ? { scope: body.scope } : {}) }, options.now());
      if (!list.memberByKey(key)) {
        throw new CrmsyncError('ERR_EXISTS', `the grant did not take: node id "${body.node}" or key ${key} is already bound to another key or node, or the key was revoked (a node id and a key are bound for life)`);
      }
      return memberOf(key);
    },
    async revoke(nodeOrKey) {
      options.assertOpen();
      const member = nodeOrKey.startsWith('ed25519:') ? list.memberByKey(nodeOrKey) : list.memberByNode(nodeOrKey);
      if (!member) throw new CrmsyncError('ERR_NOT_FOUND', `no member ${JSON.stringify(nodeOrKey)} on the trust list (see crmsync trust list)`);
      if (member.key === trust.keys.fingerprint) throw new CrmsyncError('ERR_VALIDATION', 'a node cannot revoke itself; revoke it from another administrator');
      // The revoked node's history stays valid up to what this node holds of it, pinned by its chain hash.
      const head = options.clock().get(member.node);
      await trust.issue({ op: 'revoke', node: member.node, key: member.key, upTo: head?.seq ?? 0, ...(head ? { upToChain: head.hash } : {}) }, options.now());
      return { node: member.node, key: member.key, upTo: head?.seq ?? 0 };
    },
    async invite(body) {
      options.assertOpen();
      const expires = options.now() + body.ttlMs;
      const invitation = await trust.invite({ node: parseNodeId(body.node), role: role(body.role), ...(body.scope ? { scope: body.scope } : {}), expires, urls: body.urls });
      return { code: encodeInvitation(invitation), node: invitation.node, role: invitation.role, expires };
    },
  };
}
