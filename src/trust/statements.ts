/**
 * Trust statements: the signed facts a cluster's trust list is made of. An
 * administrator grants a key a node id, a role and (optionally) a scope, or revokes a
 * key. Every statement is signed by its issuer and names its cluster, so it can be
 * relayed by anyone and checked by everyone, like a change entry.
 */
import { createHash } from 'node:crypto';
import { pack } from 'msgpackr';
import { z } from 'zod';
import { CrmsyncError } from '../errors.js';
import { NODE_ID_PATTERN, parseNodeId, type NodeId } from '../types.js';
import { fingerprintOf, parseFingerprint, SignatureVerifier, SIGNATURE_BYTES, type NodeKeys } from './keys.js';

/** What a member does in the cluster. */
export const ROLES = ['region', 'laptop', 'read-only'] as const;
/** One role: regions hold everything and may decide owner-region fields; read-only members never write. */
export type Role = (typeof ROLES)[number];

/** What a member may hold: all records (absent), or records in these territories / of these owners. */
export interface Scope {
  territories?: string[];
  owners?: string[];
}

/** One signed trust statement. */
export interface TrustStatement {
  cluster: string;
  /** Lamport number: greater than every statement its issuer knew (orders evaluation). */
  n: number;
  /** Fingerprint of the issuing administrator. */
  issuer: string;
  /** Wall-clock time of issue (ms since epoch), for display only. */
  at: number;
  /** `erase`: the record whose salted id hash is `subject` is erased everywhere, for good. */
  op: 'grant' | 'revoke' | 'erase';
  /** The node id the key is (or was) bound to; for an erasure, the issuing node (the audit's "who"). */
  node: NodeId;
  /** Fingerprint of the subject key; for an erasure, the issuer's. */
  key: string;
  role?: Role;
  admin?: boolean;
  scope?: Scope;
  /**
   * For a revocation: the origin's entries up to this sequence number stay valid (the
   * issuer held them when it revoked); later ones are refused everywhere. Every node
   * therefore keeps the same history of a revoked node.
   */
  upTo?: number;
  /** The chain hash (hex) at `upTo`, so no other history up to there is ever accepted. */
  upToChain?: string;
  /** For an erasure: erasureSubject(cluster, record id), never the id itself (hex). */
  subject?: string;
  /** Ed25519 signature by `issuer` over the canonical encoding of every other field. */
  sig: Uint8Array;
}

/** A statement before it is signed. */
export type UnsignedStatement = Omit<TrustStatement, 'sig'>;

const fingerprint = z.string().max(60).refine((v) => {
  try {
    parseFingerprint(v);
    return true;
  } catch {
    return false;
  }
}, 'invalid key fingerprint');
const scopeList = z.array(z.string().min(1).max(100)).max(100);

/** Wire and storage schema of a statement (validated before anything else reads it). */
export const statementSchema = z.object({
  cluster: z.string().min(1).max(64),
  n: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  issuer: fingerprint,
  at: z.number().int().min(0),
  op: z.enum(['grant', 'revoke', 'erase']),
  node: z.string().regex(NODE_ID_PATTERN),
  key: fingerprint,
  role: z.enum(ROLES).optional(),
  admin: z.boolean().optional(),
  scope: z.object({ territories: scopeList.optional(), owners: scopeList.optional() }).strict().optional(),
  upTo: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  upToChain: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  subject: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  sig: z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.length === SIGNATURE_BYTES, 'expected a 64-byte signature'),
}).strict();

const sorted = (list: string[] | undefined) => (list === undefined ? null : [...new Set(list)].sort());

/** The bytes a statement's signature covers: a fixed-order array, so every node encodes it alike. */
export function canonicalStatement(s: UnsignedStatement): Uint8Array {
  return pack([
    'crmsync/trust/1', s.cluster, s.n, s.issuer, s.at, s.op, s.node, s.key,
    s.role ?? null, s.admin ?? false, s.scope ? [sorted(s.scope.territories), sorted(s.scope.owners)] : null, s.upTo ?? 0, s.upToChain ?? null,
    // Only erasures have a subject: grants and revocations keep the encoding (and hashes) they always had.
    ...(s.subject === undefined ? [] : [s.subject]),
  ]);
}

/** The statement's identity: SHA-256 of its canonical encoding (hex). */
export function statementHash(s: UnsignedStatement): string {
  return createHash('sha256').update(canonicalStatement(s)).digest('hex');
}

/** Signs a statement with the issuer's keys (whose fingerprint must be `issuer`). */
export function signStatement(unsigned: Omit<UnsignedStatement, 'issuer'>, issuer: NodeKeys): TrustStatement {
  const body: UnsignedStatement = { ...unsigned, issuer: issuer.fingerprint };
  return { ...body, sig: issuer.sign(canonicalStatement(body)) };
}

/** Parses an untrusted value as a statement and checks its signature; ERR_VALIDATION naming the problem. */
export function parseStatement(value: unknown, verifier: SignatureVerifier): TrustStatement {
  const parsed = statementSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CrmsyncError('ERR_VALIDATION', `invalid trust statement: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
  }
  const statement = { ...parsed.data, node: parseNodeId(parsed.data.node) } as TrustStatement;
  if (statement.op === 'grant' && statement.role === undefined) throw new CrmsyncError('ERR_VALIDATION', 'invalid trust statement: a grant needs a role');
  if ((statement.op === 'erase') !== (statement.subject !== undefined)) throw new CrmsyncError('ERR_VALIDATION', 'invalid trust statement: an erasure, and only an erasure, names a subject');
  if (statement.op === 'erase' && (statement.key !== statement.issuer || statement.role !== undefined || statement.scope !== undefined || statement.upTo !== undefined)) {
    throw new CrmsyncError('ERR_VALIDATION', 'invalid trust statement: an erasure names its issuer\'s key and nothing but its subject');
  }
  const { sig, ...body } = statement;
  if (!verifier.verify(parseFingerprint(statement.issuer), canonicalStatement(body), sig)) {
    throw new CrmsyncError('ERR_VALIDATION', 'invalid trust statement: the signature does not match its issuer');
  }
  return statement;
}

/**
 * What an erasure names instead of the record id: SHA-256 over a domain tag, the cluster
 * id (the salt: the same id hashes differently in another cluster, so no table of
 * precomputed hashes applies) and the id. Record ids are not personal data, but an
 * erasure is kept forever, so it keeps not even the id.
 */
export function erasureSubject(cluster: string, recordId: string): string {
  return createHash('sha256').update('crmsync/erase/1\0').update(cluster).update('\0').update(recordId).digest('hex');
}

/** The cluster id a founder key defines: anyone holding the key can check it. */
export function clusterIdOf(founderKey: Uint8Array): string {
  return createHash('sha256').update('crmsync/cluster/1').update(founderKey).digest('base64url').slice(0, 22);
}

/** A statement as a plain value for MessagePack (its own shape; Uint8Array stays binary). */
export function statementValue(s: TrustStatement): Record<string, unknown> {
  return { ...s };
}

export { fingerprintOf };
