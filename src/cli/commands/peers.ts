/**
 * `crmsync peers list|add|remove`: the peers of the running node. add/remove also
 * update `peers` in the config file (unless --no-save), so a restart keeps them.
 */
import { hasCode, type NodeStatus, type PeerStatus } from '../../index.js';
import { readIfExists, writeFileAtomic } from '../../config/files.js';
import { KEYS } from '../../config/keys.js';
import type { LoadedConfig } from '../../config/load.js';
import { connect, type ClientFlags } from '../connect.js';
import { CliError, EXIT, flagError } from '../errors.js';
import { json, table } from '../format.js';
import { say, suggest } from '../hints.js';
import type { Io } from '../io.js';
import { PEER_HEADERS, peerProblems, peerRows } from './status.js';

/** Options of `peers add` and `peers remove`. */
export type PeerChangeOptions = ClientFlags & {
  /** Also change the config file (default true). */
  save?: boolean;
  /** `peers add`: the member the URL reaches. */
  node?: string;
  /** `peers add` without --node: the operator vouches for the URL. */
  confirm?: boolean;
};

/** Prints the peers of the running node. */
export async function peersList(options: ClientFlags, io: Io): Promise<PeerStatus[]> {
  const { client } = await connect(options, io);
  const peers = await client.peers();
  if (options.json) io.out(json({ peers }));
  else if (peers.length === 0) io.err(`No peers. Add one with: ${suggest('peers add wss://HOST:PORT --node NODE-ID', options)}`);
  else {
    io.out(table(PEER_HEADERS, peerRows(peers)));
    for (const line of peerProblems(peers)) io.err(line);
  }
  return peers;
}

function checkUrl(url: string): string {
  const result = KEYS.peers.schema.safeParse([url]);
  if (!result.success) throw flagError('<url>', url, 'must be a WebSocket URL (ws:// or wss://) such as ws://10.0.0.2:7400');
  return url.trim();
}

/** Adds or removes `url` in the config file's peers; returns the file changed, if any. */
async function savePeers(loaded: LoadedConfig, change: (peers: string[]) => string[]): Promise<string | undefined> {
  const text = await readIfExists(loaded.configFile);
  if (text === undefined) return undefined;
  const content = JSON.parse(text) as { peers?: string[] };
  const before = content.peers ?? [];
  const after = change(before);
  if (after.length === before.length && after.every((p, i) => p === before[i])) return undefined;
  content.peers = after;
  await writeFileAtomic(loaded.configFile, `${JSON.stringify(content, null, 2)}\n`, 0o600);
  return loaded.configFile;
}

function overridden(loaded: LoadedConfig): string | undefined {
  const source = loaded.sources.peers;
  return source.kind === 'env' || source.kind === 'flag' ? `note: ${source.where} overrides the config file's peers` : undefined;
}

/** Makes the running node dial `url` (and keep redialing it): the member --node, or a URL the operator vouches for (--confirm). */
export async function peersAdd(url: string, options: PeerChangeOptions, io: Io): Promise<PeerStatus[]> {
  const peerUrl = checkUrl(url);
  if (options.node === undefined && !options.confirm) {
    throw flagError('--node', '', `required: the node id ${peerUrl} reaches (a member: ${suggest('trust list', options)}), or --confirm to vouch for the URL`);
  }
  const { client, loaded } = await connect(options, io);
  const peers = await client.addPeer(peerUrl, options.node === undefined ? { confirm: true } : { node: options.node }).catch((err: unknown) => {
    if (!hasCode(err, 'ERR_NOT_FOUND')) throw err;
    throw new CliError(err.message.replace(/; see crmsync trust list.*$/, ''), EXIT.notFound,
      `see the members with: ${suggest('trust list', options)}; a new machine joins with: ${suggest(`trust invite --node ${options.node} --role <role>`, options)}`,
      { cause: err, code: 'ERR_NOT_FOUND' });
  });
  const saved = options.save === false ? undefined : await savePeers(loaded, (p) => (p.includes(peerUrl) ? p : [...p, peerUrl]));
  if (options.json) io.out(json({ peers, saved: saved ?? null }));
  else {
    io.err(`Dialing ${peerUrl}.${saved ? ` Saved in ${saved}.` : ''}`);
    io.out(table(PEER_HEADERS, peerRows(peers)));
  }
  const note = saved ? overridden(loaded) : undefined;
  if (note) say(io, options, note);
  return peers;
}

/**
 * Stops dialing `url`; exit 4 when it was not a peer of the running node. The other node
 * keeps its own peer list: if this node is in it, it goes on dialing us (and we accept),
 * so the note says how to remove this node there too.
 */
export async function peersRemove(url: string, options: PeerChangeOptions, io: Io): Promise<void> {
  const peerUrl = checkUrl(url);
  const { client, loaded } = await connect(options, io);
  const removed = await client.removePeer(peerUrl);
  const saved = options.save === false ? undefined : await savePeers(loaded, (p) => p.filter((x) => x !== peerUrl));
  if (!removed && !saved) {
    throw new CliError(`${peerUrl} is not a peer of this node`, EXIT.notFound, `list the peers with: ${suggest('peers list', options)}`);
  }
  const note = redialNote(peerUrl, await client.status());
  if (options.json) {
    io.out(json({ removed, saved: saved ?? null, note: note ?? null }));
    return;
  }
  io.err(`${removed ? `Stopped dialing ${peerUrl}.` : `${peerUrl} was not connected.`}${saved ? ` Removed from ${saved}.` : ''}`);
  if (note) io.err(note);
}

/** What the other side may still do, and how to stop it there (undefined when it cannot dial us). */
function redialNote(peerUrl: string, self: NodeStatus): string | undefined {
  if (self.url === null) return undefined;
  return [
    `note: this only changes this node (${self.nodeId}). If the node at ${peerUrl} lists this one among its own peers, it goes on dialing ${self.url} and the two still sync.`,
    `hint: to stop that, remove this node on that one too: crmsync peers remove ${self.url} -d <its data dir>   (or --api <its API URL>; it may know this node by another address: see \`crmsync peers list\` there)`,
  ].join('\n');
}
