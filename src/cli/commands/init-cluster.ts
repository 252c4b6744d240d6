/**
 * How a node enters a cluster with an invitation code (`init --join CODE`, `trust add CODE`):
 * what the code says, checked before anything is written.
 */
// The leaf modules index.ts re-exports (index.js would load the engine into `init`).
import { hasCode } from '../../errors.js';
import { decodeInvitation, type Invitation } from '../../trust/invitation.js';
import type { Role } from '../../trust/statements.js';
import { CliError, EXIT, flagError } from '../errors.js';

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

/** A checked invitation: the plan it makes and the peer URLs of its issuer. */
export interface JoinPlan {
  plan: ClusterPlan & { node: string; expires: number };
  urls: string[];
}

/** What to tell an operator holding a code that cannot be used. */
const NEW_CODE_HINT = (node = 'NODE-ID', role = 'ROLE') =>
  `ask an administrator of the cluster for a new code: crmsync trust invite --node ${node} --role ${role} (on their node)`;

/** Decodes a code; exit 2 (ERR_VALIDATION) naming `flag` when it is not an invitation code. */
export function readInvitationCode(code: string, flag: string): Invitation {
  try {
    return decodeInvitation(code.trim());
  } catch (err) {
    if (!hasCode(err, 'ERR_VALIDATION')) throw err;
    // Never echo the whole code: it holds a one-time secret.
    throw new CliError(`invalid ${flag} "${code.trim().slice(0, 20)}…": ${err.message.replace(/ \(ask the administrator.*\)$/, '')}`, EXIT.usage,
      `copy the whole code (one line, starting with crmsync-invite:), or ${NEW_CODE_HINT()}`, { cause: err, code: 'ERR_VALIDATION' });
  }
}

/**
 * An invitation code as init and `trust add` use it: exit 2 naming `flag` when it is not
 * one or names another node id, ERR_EXPIRED when it expired by this machine's clock (its
 * issuer would refuse it, and the node would dial in vain).
 */
export function joinPlan(code: string, nodeId: string | undefined, now: number, flag = '--join'): JoinPlan {
  const invitation = readInvitationCode(code, flag);
  if (nodeId !== undefined && nodeId !== invitation.node) {
    throw flagError('--node-id', nodeId, `the invitation is for node id "${invitation.node}": leave out --node-id (the code names the node)`);
  }
  if (invitation.expires < now) {
    throw new CliError(`the invitation for "${invitation.node}" expired at ${new Date(invitation.expires).toISOString()} (by this machine's clock)`, EXIT.usage,
      NEW_CODE_HINT(invitation.node, invitation.role), { code: 'ERR_EXPIRED' });
  }
  return {
    plan: { mode: 'join', founder: invitation.founder, node: invitation.node, role: invitation.role, issuer: invitation.issuer, expires: invitation.expires },
    urls: invitation.urls,
  };
}
