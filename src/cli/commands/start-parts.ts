/** Parts of `crmsync start`: the API's certificate, and forgetting a used invitation. */
import { stat } from 'node:fs/promises';
import { removeInvitation } from '../../config/identity.js';
import type { Config } from '../../config/keys.js';
import { apiTlsPlan, type ServerTls } from '../../config/tls.js';
import { createNodeCertificate, type CrmNode, type Logger, type NodeKeys } from '../../index.js';
import { CliError, EXIT } from '../errors.js';
import type { Io } from '../io.js';

/** How often a joining node checks whether its invitation was redeemed (then the file is removed). */
export const INVITATION_CHECK_MS = 1000;

/** The API's TLS (an operator's certificate, or one made for the node key), or undefined for plain HTTP; prints the plan's warning. */
export async function apiTlsFor(config: Config, host: string, keys: NodeKeys | undefined, nodeId: string, io: Io): Promise<ServerTls | undefined> {
  const plan = await apiTlsPlan(config, host);
  if (plan.warning) io.err(plan.warning);
  if (plan.tls) return plan.tls;
  if (!plan.selfSigned) return undefined;
  if (!keys) {
    throw new CliError(`the API on ${host} needs a TLS certificate, and this node's key is inside its database (there is no node.key)`, EXIT.usage,
      'give --api-tls-cert and --api-tls-key, or bind the API to 127.0.0.1');
  }
  return { key: keys.privateKeyPem, cert: await createNodeCertificate(keys.privateKeyPem, nodeId) };
}

/**
 * Removes the kept invitation code once the node is a member (its issuer granted the
 * key in the handshake); returns the function that stops watching.
 */
export function forgetInvitationOnceMember(node: CrmNode, path: string, logger: Logger): () => void {
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  const check = async () => {
    if (busy || node.trust.view().self.role === null) return;
    busy = true;
    clearInterval(timer);
    const kept = await stat(path).then(() => true, () => false);
    if (!kept) return;
    await removeInvitation(path).then(
      () => logger.info({ node: node.id }, 'joined the cluster; the used invitation code was removed'),
      (err: unknown) => logger.warn({ err }, 'could not remove the used invitation code'),
    );
  };
  timer = setInterval(() => void check(), INVITATION_CHECK_MS);
  timer.unref();
  void check();
  return () => clearInterval(timer);
}
