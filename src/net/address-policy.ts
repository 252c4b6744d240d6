/**
 * Where dial() may connect. Peer URLs come from configuration and from operators, so a
 * URL that names a cloud metadata service or a link-local address (SSRF: credentials
 * live there) is refused unless the transport allows it. Loopback and private ranges
 * stay allowed: regional servers and laptops sync over them.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { CrmsyncError } from '../errors.js';

/** One address a hostname resolves to. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a hostname to all its addresses (default: dns.lookup with `all`). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** The system resolver, all addresses in the order the system prefers. */
export const systemResolver: Resolver = async (hostname) => {
  const found = await lookup(hostname, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** Hostnames of cloud metadata services, refused before any DNS lookup. */
export const METADATA_HOSTNAMES: readonly string[] = [
  'metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal',
];

/** A fresh list of link-local and metadata ranges (BlockList also matches IPv4-mapped IPv6). */
export function linkLocalBlockList(): BlockList {
  const list = new BlockList();
  list.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, incl. 169.254.169.254 (AWS, GCP, Azure, OCI)
  list.addSubnet('fe80::', 10, 'ipv6'); // link-local
  list.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6
  list.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
  return list;
}

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(address: string): boolean {
  const plain = address.toLowerCase().startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return plain === '::1' || (isIP(plain) === 4 && plain.startsWith('127.'));
}

/** The URL's hostname without IPv6 brackets or a trailing dot, lower-cased. */
export function bareHostname(url: URL): string {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return host.replace(/\.$/, '').toLowerCase();
}

/**
 * The addresses dial() may connect to, in the resolver's order: every address
 * `hostname` resolves to must be allowed (one bad answer refuses the name). dial()
 * connects to these very addresses, whatever DNS answers next (no rebinding).
 */
export async function vetDialTargets(
  hostname: string,
  options: { resolve: Resolver; blockList: BlockList | undefined },
): Promise<ResolvedAddress[]> {
  const refuse = (why: string): CrmsyncError => new CrmsyncError('ERR_VALIDATION', `refusing to dial ${why}`, {
    details: [{ field: 'url', message: `${why} (set allowLinkLocal to allow it)` }],
  });
  const family = isIP(hostname);
  if (family === 0 && options.blockList && METADATA_HOSTNAMES.includes(hostname)) throw refuse('a cloud metadata hostname');
  const addresses = family === 0 ? await options.resolve(hostname) : [{ address: hostname, family: family as 4 | 6 }];
  if (addresses.length === 0) throw Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
  for (const { address, family: f } of addresses) {
    if (options.blockList?.check(address, f === 6 ? 'ipv6' : 'ipv4')) throw refuse('a link-local or metadata address');
  }
  return addresses;
}

/**
 * Refuses (ERR_VALIDATION, as dial() would) a peer URL naming a link-local or metadata
 * address, so an operator adding a peer hears of it at once instead of in a retry loop.
 * A name that does not resolve is not refused here: dial() retries it.
 */
export async function checkPeerAddress(url: string, resolve: Resolver = systemResolver): Promise<void> {
  let host: string;
  try {
    host = bareHostname(new URL(url));
  } catch (cause) {
    throw new CrmsyncError('ERR_VALIDATION', `invalid peer URL ${JSON.stringify(url.slice(0, 200))}`, { cause, details: [{ field: 'url', message: 'not a URL' }] });
  }
  try {
    await vetDialTargets(host, { resolve, blockList: linkLocalBlockList() });
  } catch (err) {
    if (err instanceof CrmsyncError) throw err;
  }
}
