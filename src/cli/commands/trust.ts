/**
 * `crmsync trust list|add|remove|invite`: the cluster's trust list, on the running node
 * or a stopped one (trust-target.ts). Changes need an administrator node (exit 7 on
 * another); the list is data on stdout, what happened and what to do next on stderr.
 */
import { MAX_INVITATION_TTL_S, MIN_INVITATION_TTL_S } from '../../api/trust-routes.js';
import { INVITATION_PREFIX, parseFingerprint, ROLES, type Role, type Scope, type TrustMember, type TrustView } from '../../index.js';
import { isLoopbackHost } from '../../config/tls.js';
import type { ClientFlags } from '../connect.js';
import { CliError, EXIT, flagError } from '../errors.js';
import { json, keyValues, table, time } from '../format.js';
import { say, shellWord, suggest } from '../hints.js';
import type { Io } from '../io.js';
import { trustRedeem, type KeptInvitation } from './trust-redeem.js';
import { openTrustPort, type IssuedInvitation, type TrustPort } from './trust-target.js';
import { NODE_ID_PATTERN, NODE_ID_RULE } from '../../types.js';

/** Flags of `trust add` and `trust invite`. */
export type TrustChangeFlags = ClientFlags & {
  node?: string;
  role?: string;
  admin?: boolean;
  territory?: string[];
  owner?: string[];
  expires?: string;
  url?: string[];
};

/** Invitation lifetime without --expires. */
const DEFAULT_EXPIRES = '24h';
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `--expires 30m|1h|7d` in seconds; exit 2 naming the flag for anything else. */
export function parseExpires(value: string): number {
  const match = /^(\d{1,7})([smhd])$/.exec(value.trim());
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[match[2]!]! : NaN;
  if (!(seconds >= MIN_INVITATION_TTL_S && seconds <= MAX_INVITATION_TTL_S)) {
    throw flagError('--expires', value, 'must be a duration such as 30m, 1h or 7d, from 1 minute to 30 days');
  }
  return seconds;
}

function roleOf(value: string | undefined): Role {
  if (value === undefined) throw flagError('--role', '', `required: one of ${ROLES.join(', ')}`);
  if (!(ROLES as readonly string[]).includes(value)) throw flagError('--role', value, `must be one of ${ROLES.join(', ')}`);
  return value as Role;
}

function nodeOf(value: string | undefined): string {
  if (value === undefined) throw flagError('--node', '', 'required: the node id the key gets (lower-case letters, digits, -)');
  if (!NODE_ID_PATTERN.test(value)) throw flagError('--node', value, `must be ${NODE_ID_RULE}`);
  return value;
}

function scopeOf(flags: TrustChangeFlags): Scope | undefined {
  const territories = flags.territory ?? [];
  const owners = flags.owner ?? [];
  if (territories.length + owners.length === 0) return undefined;
  return { ...(territories.length > 0 ? { territories } : {}), ...(owners.length > 0 ? { owners } : {}) };
}

/** Runs `body` with the port open; a change refused for want of administrator rights exits 7 with where to run it. */
async function withPort<T>(flags: ClientFlags, io: Io, change: boolean, body: (port: TrustPort) => Promise<T>): Promise<T> {
  const port = await openTrustPort(flags, io);
  try {
    if (change && !(await port.view()).self.admin) {
      throw new CliError(`this node is not an administrator of its cluster, so it cannot change the trust list`, EXIT.notPermitted,
        `run it on an administrator node (\`${suggest('trust list', flags)}\` marks them)`, { code: 'ERR_UNAUTHORIZED' });
    }
    return await body(port);
  } finally {
    await port.close();
  }
}

const scopeText = (scope: Scope | undefined) => (scope ? [...(scope.territories ?? []).map((t) => `territory ${t}`), ...(scope.owners ?? []).map((o) => `owner ${o}`)].join(', ') : 'all records');

/** Prints the trust list. */
export async function trustList(flags: ClientFlags, io: Io): Promise<TrustView> {
  const view = await withPort(flags, io, false, (port) => port.view());
  if (flags.json) {
    io.out(json(view));
    return view;
  }
  const admin = (key: string) => key === view.self.key && view.self.admin;
  io.out(keyValues([
    ['cluster', `${view.cluster} (founded by ${view.founder})`],
    ['this node', `${view.self.node} ${view.self.key} ${view.self.role === null ? '(not yet a member)' : `${view.self.role}${admin(view.self.key) ? ', administrator' : ''}`}`],
  ]));
  io.out(`\n${table(['node', 'role', 'admin', 'scope', 'key', 'granted'], view.members.map((m) => [m.node, m.role, m.admin ? 'yes' : 'no', scopeText(m.scope), m.key, time(m.grantedAt)]))}`);
  if (view.revoked.length > 0) io.out(`\nrevoked:\n${table(['node', 'key', 'history kept up to'], view.revoked.map((r) => [r.node, r.key, r.upTo]))}`);
  if (view.self.role === null) say(io, flags, 'note: this node is not on its trust list yet: it waits for an administrator to grant its key (or to redeem its invitation at start)');
  return view;
}

/** `trust add ARG`: an invitation code is kept for this node to redeem (trust-redeem.ts), a key fingerprint is granted. */
export function trustAddArgument(arg: string, flags: TrustChangeFlags, io: Io): Promise<TrustMember | KeptInvitation> {
  return arg.trim().startsWith(INVITATION_PREFIX) ? trustRedeem(arg, flags, io) : trustAdd(arg, flags, io);
}

/** Grants a key a node id and role. */
export async function trustAdd(fingerprint: string, flags: TrustChangeFlags, io: Io): Promise<TrustMember> {
  try {
    parseFingerprint(fingerprint);
  } catch (err) {
    throw flagError('<fingerprint or invitation>', fingerprint,
      `${(err as Error).message.replace(/^invalid key fingerprint "[^"]*": /, '')} (a key as crmsync init prints it, ed25519:…, or an invitation code, ${INVITATION_PREFIX}…)`);
  }
  const body = { key: fingerprint, node: nodeOf(flags.node), role: roleOf(flags.role), ...(flags.admin ? { admin: true } : {}), ...(scopeOf(flags) ? { scope: scopeOf(flags)! } : {}) };
  const member = await withPort(flags, io, true, (port) => port.grant(body));
  if (flags.json) io.out(json({ member }));
  else {
    io.out(keyValues([['node', member.node], ['key', member.key], ['role', member.role], ['admin', member.admin ? 'yes' : 'no'], ['scope', scopeText(member.scope)]]));
    io.err(`Granted. ${member.node} proves this key when it connects; other members learn of the grant as they sync.`);
  }
  return member;
}

/** Revokes a member (by node id or key). */
export async function trustRemove(member: string, flags: ClientFlags, io: Io): Promise<{ node: string; key: string; upTo: number }> {
  if (!NODE_ID_PATTERN.test(member)) {
    try {
      parseFingerprint(member);
    } catch {
      throw flagError('<node or fingerprint>', member, 'must be a node id or a key fingerprint (ed25519:…) from crmsync trust list');
    }
  }
  const revoked = await withPort(flags, io, true, (port) => port.revoke(member));
  if (flags.json) io.out(json({ revoked }));
  else {
    io.out(keyValues([['node', revoked.node], ['key', revoked.key], ['history kept up to', revoked.upTo]]));
    io.err(`Revoked ${revoked.node} for good: its sessions close, and its entries after seq ${revoked.upTo} are refused by every member. A new key is a new node: invite it again under another node id.`);
  }
  return revoked;
}

/** Issues an invitation code and prints the line to run on the new machine. */
export async function trustInvite(flags: TrustChangeFlags, io: Io): Promise<IssuedInvitation & { command: string }> {
  const ttlSeconds = parseExpires(flags.expires ?? DEFAULT_EXPIRES);
  const node = nodeOf(flags.node);
  const role = roleOf(flags.role);
  const urls = flags.url ?? [];
  for (const url of urls) if (!/^wss?:\/\/[^/\s]+/.test(url)) throw flagError('--url', url, 'must be a ws:// or wss:// URL other machines reach this node at');
  const scope = scopeOf(flags);
  const issued = await withPort(flags, io, true, (port) => port.invite({ node, role, ttlSeconds, ...(scope ? { scope } : {}), ...(urls.length > 0 ? { urls } : {}) }));
  const command = `crmsync init --join ${issued.code} -d ${shellWord(`./${issued.node}`)}`;
  if (flags.json) {
    io.out(json({ ...issued, command }));
    return { ...issued, command };
  }
  io.out(issued.code);
  io.err([
    `Invitation for ${issued.node} (${issued.role}, ${scopeText(scope)}), valid once until ${time(issued.expires)}.`,
    'On the new machine run:',
    `  ${command}`,
    `  crmsync start -d ${shellWord(`./${issued.node}`)}`,
    `It dials ${issued.urls.join(', ')} to redeem the code, so this node must be running and reachable there then.`,
  ].join('\n'));
  if (issued.urls.some((u) => isLoopbackHost(new URL(u).hostname))) {
    say(io, flags, `note: ${issued.urls.join(', ')} is on loopback: only a node on this machine can redeem the code. For another machine pass --url wss://HOST:PORT, or set advertise (crmsync init --advertise … --force)`);
  }
  return { ...issued, command };
}
