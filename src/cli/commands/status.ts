/** `crmsync status`: what a running node knows: clock, peers, record counts, conflicts. */
import type { NodeStatus, PeerStatus } from '../../index.js';
import { connect, type ClientFlags } from '../connect.js';
import { json, keyValues, table, time, type Cell } from '../format.js';
import { suggest } from '../hints.js';
import type { Io } from '../io.js';

/** One row per peer: the columns `status` and `peers list` share (role: what the peer proved in its handshake). */
export function peerRows(peers: PeerStatus[]): Cell[][] {
  return peers.map((p) => [p.url ?? '(inbound)', p.node, p.role, p.direction, p.state, p.behind, p.ahead, p.lagSeconds, time(p.lastSeenAt)]);
}

/** Headers of peerRows. */
export const PEER_HEADERS = ['url', 'node', 'role', 'direction', 'state', 'behind', 'ahead', 'lag s', 'last seen'];

/** Lines explaining peers that fail (a refused address, another node than expected), for stderr. */
export function peerProblems(peers: PeerStatus[]): string[] {
  return peers.filter((p) => p.lastError !== null && p.state !== 'connected').map((p) => `note: ${p.url ?? p.node}: ${p.lastError}`);
}

/** The anti-entropy line: the interval and the last result (ids are left to --json and `verify --peer`). */
function antiEntropyLine(ae: NodeStatus['antiEntropy']): string {
  const every = ae.intervalMs === 0 ? 'background off' : `every ${Math.round(ae.intervalMs / 1000)} s`;
  const last = ae.last === null ? 'no exchange yet'
    : `last ${time(ae.last.at)} with ${ae.last.peer}: ${ae.last.differing} differing, ${ae.last.repaired} repaired, ${ae.last.remaining} remaining, ${ae.last.roundTrips} round trips`;
  const failed = ae.lastError === null ? '' : `; last failure ${time(ae.lastError.at)} with ${ae.lastError.peer} (${ae.lastError.code})`;
  return `${every}; ${last}${failed}`;
}

/** The lifecycle line: where the log starts, members not waited for, tombstones. */
function lifecycleLine(l: NodeStatus['lifecycle']): string {
  const absent = l.absent.length === 0 ? '' : `; not waited for (away longer than the log retention): ${l.absent.join(', ')}`;
  const waiting = l.stable ? '' : `; tombstones wait for the holdings of ${l.waitingFor.join(', ')}`;
  return `log from position ${l.logStart} (${l.truncated} entries truncated since start)${absent}; ${l.collected} tombstone(s) collected, ${l.erasures} erasure(s)${waiting}`;
}

/** The storage line: commit batches and the mean time each waited, fsync included (where a slow disk shows). */
function storageLine(st: NodeStatus['storage']): string {
  const { commit, index } = st;
  const mean = commit.batches === 0 ? '' : `, ${((commit.seconds * 1000) / commit.batches).toFixed(2)} ms each on average (fsync included)`;
  return `${commit.batches} commit batch(es)${mean}; ${index.batches} index batch(es), not fsynced`;
}

/** Prints the status of the running node. */
export async function status(options: ClientFlags, io: Io): Promise<NodeStatus> {
  const { client } = await connect(options, io);
  const s = await client.status();
  if (options.json) {
    io.out(json(s));
    return s;
  }
  const clock = Object.entries(s.clock).map(([node, seq]) => `${node}:${seq}`).join('  ');
  const { identity } = s;
  const refused = [...Object.entries(s.refused.connections), ...Object.entries(s.refused.handshakes)];
  io.out(keyValues([
    ['node', s.nodeId],
    ['key', identity.key],
    ['role', identity.role === null ? 'not yet a member (waiting for its grant or invitation)' : `${identity.role}${identity.admin ? ', administrator' : ''}`],
    ['cluster', `${identity.cluster} (founded by ${identity.founder})`],
    ['API', client.baseUrl],
    ['peer URL', `${s.url ?? 'not listening'}${s.insecure ? '   INSECURE: no TLS beyond loopback (--insecure)' : ''}`],
    ['records', `${s.records.live} live, ${s.records.deleted} deleted${s.records.indexBacklog > 0 ? `; ${s.records.indexBacklog} waiting for their index keys (written when writes pause, or by the next filtered listing or search)` : ''}`],
    ['storage', storageLine(s.storage)],
    ['conflicted', `${s.conflicted} record(s)`],
    ['merge policies', `${Object.entries(s.mergePolicies.rules).map(([field, rule]) => `${field} ${rule}`).join(', ')}; others latest (${s.mergePolicies.digest})`],
    ['clock', clock || '(empty)'],
    ['rejected', `${s.rejectedConnections} connection(s) closed for invalid frames`],
    ['refused', refused.length === 0 ? 'none' : refused.map(([reason, n]) => `${reason} ${n}`).join(', ')],
    ['verification', `${Object.values(s.rejectedEntries).reduce((a, b) => a + b, 0)} session(s) closed for entries that failed it, ${s.quarantinedChanges} change(s) quarantined`],
    ['anti-entropy', antiEntropyLine(s.antiEntropy)],
    ['lifecycle', lifecycleLine(s.lifecycle)],
    ['peers', s.peers.length === 0 ? 'none' : s.peers.length],
  ]));
  if (s.peers.length > 0) io.out(`\n${table(PEER_HEADERS, peerRows(s.peers))}`);
  for (const line of peerProblems(s.peers)) io.err(line);
  if (s.insecure) io.err('warning: this node accepts peers beyond loopback without TLS (--insecure): for test rigs only');
  if (s.conflicted > 0) io.err(`hint: find them with \`${suggest('conflicts list', options)}\`, then \`${suggest('conflicts show <id>', options)}\``);
  if (s.peers.length === 0) io.err(`No peers. Add one with: ${suggest('peers add wss://HOST:PORT --node NODE-ID', options)}`);
  return s;
}
