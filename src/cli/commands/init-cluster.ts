/** How `crmsync init` enters a cluster: what an invitation code says, checked before anything is written. */
// The leaf modules index.ts re-exports (index.js would load the engine into `init`).
import { hasCode } from '../../errors.js';
import { decodeInvitation } from '../../trust/invitation.js';
import type { Role } from '../../trust/statements.js';
import { flagError } from '../errors.js';

/** How the node enters its cluster (init's --json shows it). */
export interface ClusterPlan {
  /** found: a new cluster; join: an invitation; await-grant: an administrator's `trust add`. */
  mode: 'found' | 'join' | 'await-grant';
  /** The cluster's founder key fingerprint (what the config's `cluster` holds). */
  founder: string;
  /** With an invitation: the node id, role, inviting node and when the code expires. */
  node?: string;
  role?: Role;
  issuer?: string;
  expires?: number;
}

/** An invitation code as init uses it; exit 2 naming --join when it is not one, or names another node id. */
export function joinPlan(code: string, nodeId: string | undefined): { plan: ClusterPlan & { node: string; expires: number }; urls: string[] } {
  let invitation;
  try {
    invitation = decodeInvitation(code.trim());
  } catch (err) {
    if (hasCode(err, 'ERR_VALIDATION')) throw flagError('--join', `${code.slice(0, 24)}…`, err.message);
    throw err;
  }
  if (nodeId !== undefined && nodeId !== invitation.node) {
    throw flagError('--node-id', nodeId, `the invitation is for node id "${invitation.node}": leave out --node-id (the code names the node)`);
  }
  return {
    plan: { mode: 'join', founder: invitation.founder, node: invitation.node, role: invitation.role, issuer: invitation.issuer, expires: invitation.expires },
    urls: invitation.urls,
  };
}
