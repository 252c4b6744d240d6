/**
 * Invitations: how a new node joins without copying keys around. An administrator
 * issues a code naming the node id, role and scope the newcomer will get, the cluster
 * (its founder's key), where to reach the administrator, an expiry and a one-time
 * secret. The newcomer generates its key and dials the administrator with the code's id
 * and a MAC (keyed with the secret) over its key and its handshake nonce; the
 * administrator checks the invitation is known, unexpired and unused, grants the key
 * (durably) and marks the invitation used, then the handshake goes on as for any member.
 * The secret never travels after the code itself.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { pack, unpack } from 'msgpackr';
import { CrmsyncError } from '../errors.js';
import { parseNodeId, type NodeId } from '../types.js';
import { parseFingerprint } from './keys.js';
import { ROLES, type Role, type Scope } from './statements.js';

/** Prefix of an invitation code, so a pasted value says what it is. */
export const INVITATION_PREFIX = 'crmsync-invite:';

/** What an invitation grants, and how to use it. */
export interface Invitation {
  /** The cluster's founder key fingerprint (defines the cluster). */
  founder: string;
  /** The issuing administrator's node id and key fingerprint (the newcomer checks it in the handshake). */
  issuer: NodeId;
  issuerKey: string;
  /** Peer URLs of the issuer. */
  urls: string[];
  node: NodeId;
  role: Role;
  scope?: Scope;
  /** Expiry (ms since epoch). */
  expires: number;
  /** The one-time secret (16 bytes). */
  secret: Uint8Array;
}

/** What the issuer keeps (in its store) to check a redemption. */
export interface InvitationRecord {
  node: NodeId;
  role: Role;
  scope?: Scope;
  expires: number;
  secret: Uint8Array;
  /** Set once redeemed: by which key, when. */
  redeemedBy?: string;
  redeemedAt?: number;
}

/** What a joining node puts in its hello. */
export interface Redemption {
  /** The invitation's id: SHA-256 of its secret (hex). */
  id: string;
  /** HMAC-SHA256(secret, "crmsync/join/1" || node || key || nonce). */
  mac: Uint8Array;
}

/** The id of an invitation (what its issuer files it under). */
export function invitationId(secret: Uint8Array): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Creates an invitation with a fresh secret. */
export function createInvitation(body: Omit<Invitation, 'secret'>): Invitation {
  return { ...body, secret: new Uint8Array(randomBytes(16)) };
}

/** The code to hand to the new node's operator. */
export function encodeInvitation(invitation: Invitation): string {
  const { founder, issuer, issuerKey, urls, node, role, scope, expires, secret } = invitation;
  return INVITATION_PREFIX + Buffer.from(pack([1, founder, issuer, issuerKey, urls, node, role, scope ?? null, expires, secret])).toString('base64url');
}

/** Parses a code; ERR_VALIDATION saying what is wrong with it. */
export function decodeInvitation(code: string): Invitation {
  const bad = (why: string) => new CrmsyncError('ERR_VALIDATION', `invalid invitation code: ${why} (ask the administrator for a new one: crmsync trust invite)`);
  if (!code.startsWith(INVITATION_PREFIX)) throw bad(`it must start with ${INVITATION_PREFIX}`);
  let fields: unknown;
  try {
    fields = unpack(Buffer.from(code.slice(INVITATION_PREFIX.length), 'base64url'));
  } catch {
    throw bad('it is damaged (was it copied completely?)');
  }
  if (!Array.isArray(fields) || fields[0] !== 1 || fields.length !== 10) throw bad('unknown format');
  const [, founder, issuer, issuerKey, urls, node, role, scope, expires, secret] = fields as unknown[];
  try {
    parseFingerprint(founder);
    parseFingerprint(issuerKey);
  } catch {
    throw bad('its keys are damaged');
  }
  if (!Array.isArray(urls) || !urls.every((u) => typeof u === 'string')) throw bad('its addresses are damaged');
  if (!(ROLES as readonly unknown[]).includes(role)) throw bad('unknown role');
  if (typeof expires !== 'number' || !(secret instanceof Uint8Array) || secret.length !== 16) throw bad('it is damaged');
  return {
    founder: founder as string, issuer: parseNodeId(issuer), issuerKey: issuerKey as string, urls: urls as string[], node: parseNodeId(node),
    role: role as Role, ...(scope ? { scope: scope as Scope } : {}), expires, secret: new Uint8Array(secret),
  };
}

function mac(secret: Uint8Array, claim: { node: string; key: Uint8Array; nonce: Uint8Array }): Uint8Array {
  return new Uint8Array(createHmac('sha256', secret).update('crmsync/join/1\0').update(claim.node).update('\0').update(claim.key).update(claim.nonce).digest());
}

/** What a joining node sends: the invitation's id and a MAC binding it to this key and this handshake. */
export function redeem(invitation: Invitation, claim: { node: string; key: Uint8Array; nonce: Uint8Array }): Redemption {
  return { id: invitationId(invitation.secret), mac: mac(invitation.secret, claim) };
}

/** Why a redemption is refused, or undefined when it is good. */
export function checkRedemption(record: InvitationRecord | undefined, redemption: Redemption, claim: { node: string; key: Uint8Array; nonce: Uint8Array }, now: number): 'unknown' | 'expired' | 'used' | 'mismatch' | undefined {
  if (!record) return 'unknown';
  const expected = mac(record.secret, claim);
  if (expected.length !== redemption.mac.length || !timingSafeEqual(expected, redemption.mac)) return 'mismatch';
  if (claim.node !== record.node) return 'mismatch';
  if (record.redeemedBy !== undefined) return 'used';
  if (now > record.expires) return 'expired';
  return undefined;
}
