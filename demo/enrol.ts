/**
 * How the demo's nodes enter one cluster, the way an operator's machines do: the first
 * node founds it (`crmsync init`), and every other node joins with an invitation code
 * the founder issued for it (`POST /v1/trust/invitations`, what `crmsync trust invite`
 * calls; then `crmsync init --join CODE` and `crmsync start`, which dials the founder
 * and redeems the code in its handshake).
 */
import { waitFor } from './cluster.js';
import type { NodeProcess } from './processes.js';
import type { NodeSpec } from './topology.js';

/** Starts one node: the founder without a code, the others with theirs. */
export type StartNode = (spec: NodeSpec, invitation?: string) => Promise<NodeProcess>;

/** How long a joining node may take to redeem its code (dial, handshake, durable grant). */
const REDEEM_TIMEOUT_MS = 60_000;

/**
 * Starts `cast[0]` as the founder, then the others with invitations, and waits until each
 * is a member. The founder's peer URL is dialed only to redeem the code: it is removed
 * again, so the links are what the topology says (a laptop stays an island of one when
 * it goes offline). Resolves to the processes in cast order.
 */
export async function startEnrolled(cast: readonly NodeSpec[], start: StartNode): Promise<NodeProcess[]> {
  const [founderSpec, ...joiners] = cast;
  if (!founderSpec) return [];
  const founder = await start(founderSpec);
  // One code per node, issued in turn by the founder (the only administrator).
  const codes: string[] = [];
  for (const spec of joiners) codes.push(await founder.client.invite(spec.name, spec.role));
  // Settle every start before failing, so no node is still being created when the cleanup removes the data.
  const started = await Promise.allSettled(joiners.map((spec, i) => start(spec, codes[i])));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  const members = started.map((s) => (s as PromiseFulfilledResult<NodeProcess>).value);
  await Promise.all(members.map(async (node) => {
    await waitFor(`${node.name} to redeem its invitation with ${founderSpec.name}`, REDEEM_TIMEOUT_MS,
      async () => (await node.client.status()).identity.role !== null);
    await node.client.removePeer(founder.peerUrl);
  }));
  return [founder, ...members];
}
