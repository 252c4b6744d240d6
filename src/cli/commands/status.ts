/** `crmsync status`: what a running node knows: clock, peers, record counts, conflicts. */
import type { NodeStatus, PeerStatus } from '../../index.js';
import { connect, type ClientFlags } from '../connect.js';
import { json, keyValues, table, time, type Cell } from '../format.js';
import { suggest } from '../hints.js';
import type { Io } from '../io.js';

/** One row per peer: the columns `status` and `peers list` share. */
export function peerRows(peers: PeerStatus[]): Cell[][] {
  return peers.map((p) => [p.url ?? '(inbound)', p.node, p.direction, p.state, p.behind, p.ahead, p.lagSeconds, time(p.lastSeenAt)]);
}

/** Headers of peerRows. */
export const PEER_HEADERS = ['url', 'node', 'direction', 'state', 'behind', 'ahead', 'lag s', 'last seen'];

/** Prints the status of the running node. */
export async function status(options: ClientFlags, io: Io): Promise<NodeStatus> {
  const { client } = await connect(options, io);
  const s = await client.status();
  if (options.json) {
    io.out(json(s));
    return s;
  }
  const clock = Object.entries(s.clock).map(([node, seq]) => `${node}:${seq}`).join('  ');
  io.out(keyValues([
    ['node', s.nodeId],
    ['API', client.baseUrl],
    ['peer URL', s.url ?? 'not listening'],
    ['records', `${s.records.live} live, ${s.records.deleted} deleted`],
    ['conflicted', `${s.conflicted} record(s)`],
    ['clock', clock || '(empty)'],
    ['rejected', `${s.rejectedConnections} connection(s) closed for invalid frames`],
    ['peers', s.peers.length === 0 ? 'none' : s.peers.length],
  ]));
  if (s.peers.length > 0) io.out(`\n${table(PEER_HEADERS, peerRows(s.peers))}`);
  if (s.conflicted > 0) io.err(`hint: find them with \`${suggest('records list', options)}\` (flag "conflict"), then \`${suggest('conflicts <id>', options)}\``);
  if (s.peers.length === 0) io.err(`No peers. Add one with: ${suggest('peers add ws://HOST:PORT', options)}`);
  return s;
}
