/**
 * `crmsync trust add CODE` on the node an invitation names: a node initialised with
 * `--cluster` (waiting for a grant) takes an invitation instead. The code is kept in the
 * data directory, and the node redeems it with its issuer when it starts, exactly as
 * after `init --join`.
 */
import { dataDirPaths } from '../../config/files.js';
import { writeInvitation } from '../../config/identity.js';
import { loadConfig } from '../../config/load.js';
import type { ClientFlags } from '../connect.js';
import { CliError, EXIT } from '../errors.js';
import { json, keyValues, time } from '../format.js';
import { suggest } from '../hints.js';
import type { Io } from '../io.js';
import { joinPlan, type ClusterPlan } from './init-cluster.js';
import { openTrustPort } from './trust-target.js';

/** What `trust add CODE` kept. */
export interface KeptInvitation {
  plan: ClusterPlan & { node: string; expires: number };
  urls: string[];
  /** Where the code is kept until the node is a member. */
  file: string;
  /** True when the node runs now: it redeems the code at its next start. */
  restart: boolean;
}

/** Keeps an invitation for this node; refuses one for another node, another cluster, or a node that is a member already. */
export async function trustRedeem(code: string, flags: ClientFlags, io: Io): Promise<KeptInvitation> {
  if (flags.api !== undefined) {
    throw new CliError('an invitation is redeemed by the node it names, from its own data directory, not through an API', EXIT.usage,
      'run on that machine: crmsync trust add CODE -d <its data dir>   (a new machine: crmsync init --join CODE)', { code: 'ERR_USAGE' });
  }
  const { plan, urls } = joinPlan(code, undefined, Date.now(), '<fingerprint or invitation>');
  const port = await openTrustPort(flags, io);
  let restart: boolean;
  try {
    const view = await port.view();
    restart = port.kind === 'api';
    if (view.founder !== plan.founder) {
      throw new CliError(`the invitation is for another cluster (founded by ${plan.founder}); this node belongs to the one founded by ${view.founder}`, EXIT.usage,
        'redeem it on a node of that cluster, or on a new machine with: crmsync init --join CODE', { code: 'ERR_VALIDATION' });
    }
    if (view.self.node !== plan.node) {
      throw new CliError(`the invitation is for node "${plan.node}", and this node is "${view.self.node}"`, EXIT.usage,
        `redeem it on ${plan.node}'s machine, or ask for a code for ${view.self.node}: crmsync trust invite --node ${view.self.node} --role ${plan.role} (on an administrator node)`, { code: 'ERR_VALIDATION' });
    }
    if (view.self.role !== null) {
      throw new CliError(`this node is a member already (${view.self.role}); it needs no invitation`, EXIT.conflict,
        `see the members with: ${suggest('trust list', flags)}`, { code: 'ERR_EXISTS' });
    }
  } finally {
    await port.close();
  }
  const loaded = await loadConfig({ flags, env: io.env, cwd: io.cwd, warn: io.err, readToken: false });
  const file = dataDirPaths(loaded.config.dataDir).invitation;
  await writeInvitation(file, code.trim());
  const kept: KeptInvitation = { plan, urls, file, restart };
  if (flags.json) io.out(json(kept));
  else {
    io.out(keyValues([['node', plan.node], ['role', plan.role ?? '?'], ['issuer', plan.issuer ?? '?'], ['expires', time(plan.expires)], ['dials', urls.join(', ')]]));
    io.err(`Kept the invitation in ${file}. The node redeems it with ${plan.issuer ?? 'its issuer'} when it ${restart ? 'restarts: stop it (Ctrl-C) and run' : 'starts:'} ${suggest('start', flags)}`);
  }
  return kept;
}
