/**
 * `crmsync peers list|add|remove`: the peers of the running node. add/remove also
 * update `peers` in the config file (unless --no-save), so a restart keeps them.
 */
import { CrmsyncError } from '../../errors.js';
import type { PeerStatus } from '../../index.js';
import { readIfExists, writeFileAtomic } from '../../config/files.js';
import { KEYS } from '../../config/keys.js';
import type { LoadedConfig } from '../../config/load.js';
import { connect, type ClientFlags } from '../connect.js';
import { CliError, EXIT } from '../errors.js';
import { json, table } from '../format.js';
import type { Io } from '../io.js';
import { PEER_HEADERS, peerRows } from './status.js';

/** Options of `peers add` and `peers remove`. */
export type PeerChangeOptions = ClientFlags & {
  /** Also change the config file (default true). */
  save?: boolean;
};

/** Prints the peers of the running node. */
export async function peersList(options: ClientFlags, io: Io): Promise<PeerStatus[]> {
  const { client } = await connect(options, io);
  const peers = await client.peers();
  io.out(options.json ? json({ peers }) : peers.length === 0 ? 'No peers.' : table(PEER_HEADERS, peerRows(peers)));
  return peers;
}

function checkUrl(url: string): string {
  const result = KEYS.peers.schema.safeParse([url]);
  if (!result.success) throw new CrmsyncError('ERR_VALIDATION', `invalid peer URL ${JSON.stringify(url)}: must be a WebSocket URL such as ws://10.0.0.2:7400`, { details: [{ field: 'url', message: 'must be a ws:// or wss:// URL' }] });
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

/** Makes the running node dial `url` (and keep redialing it). */
export async function peersAdd(url: string, options: PeerChangeOptions, io: Io): Promise<PeerStatus[]> {
  const peerUrl = checkUrl(url);
  const { client, loaded } = await connect(options, io);
  const peers = await client.addPeer(peerUrl);
  const saved = options.save === false ? undefined : await savePeers(loaded, (p) => (p.includes(peerUrl) ? p : [...p, peerUrl]));
  if (options.json) io.out(json({ peers, saved: saved ?? null }));
  else {
    io.out(`Dialing ${peerUrl}.${saved ? ` Saved in ${saved}.` : ''}`);
    io.out(table(PEER_HEADERS, peerRows(peers)));
  }
  const note = saved ? overridden(loaded) : undefined;
  if (note) io.err(note);
  return peers;
}

/** Stops dialing `url`; exit 4 when it was not a peer of the running node. */
export async function peersRemove(url: string, options: PeerChangeOptions, io: Io): Promise<void> {
  const peerUrl = checkUrl(url);
  const { client, loaded } = await connect(options, io);
  const removed = await client.removePeer(peerUrl);
  const saved = options.save === false ? undefined : await savePeers(loaded, (p) => p.filter((x) => x !== peerUrl));
  if (!removed && !saved) {
    throw new CliError(`${peerUrl} is not a peer of this node`, EXIT.notFound, 'list the peers with: crmsync peers list');
  }
  if (options.json) io.out(json({ removed, saved: saved ?? null }));
  else io.out(`${removed ? `Stopped dialing ${peerUrl}.` : `${peerUrl} was not connected.`}${saved ? ` Removed from ${saved}.` : ''}`);
}
