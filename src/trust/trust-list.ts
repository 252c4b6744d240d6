/**
 * A cluster's trust list: who may sync, under which node id, in which role and scope.
 * It is the deterministic evaluation of a set of signed statements, so every member
 * holding the same statements computes the same list, whatever order they arrived in.
 *
 * Rules (evaluated in statement order: Lamport number, then hash):
 *  1. The founder (whose key defines the cluster id) is an administrator from the start.
 *  2. A statement counts only if its issuer is an active administrator at that point.
 *  3. A grant binds a key to a node id. A node id is bound to the first key ever granted
 *     it and a key to one node id: a node's change history is signed by its key, so a
 *     new key is a new node. A later grant for the same pair updates role and scope.
 *  4. A revocation is permanent: the key never becomes a member again.
 *  5. An erasure counts if its issuer is an administrator when it is added, and is kept
 *     for good: the data it removed is gone, so a later revocation of its issuer cannot
 *     undo it. Erasures do not take part in the evaluation (no sort per statement), so a
 *     cluster can hold many more of them than grants (`maxErasures`).
 *
 * Invariants: `#members` and `#revoked` are always the evaluation of `#statements`;
 * `version` increases whenever that evaluation changes.
 */
import { createHash } from 'node:crypto';
import { CrmsyncError } from '../errors.js';
import type { NodeId } from '../types.js';
import { isSigningKey } from './ed25519.js';
import { fingerprintOf, parseFingerprint, SignatureVerifier, type NodeKeys } from './keys.js';
import {
  clusterIdOf, parseStatement, signStatement, statementHash,
  type Role, type Scope, type TrustStatement,
} from './statements.js';

/** An active member of the cluster. */
export interface Member {
  node: NodeId;
  /** Fingerprint of the member's key. */
  key: string;
  publicKey: Uint8Array;
  role: Role;
  admin: boolean;
  /** Absent: the member may hold every record. */
  scope?: Scope;
  /** Fingerprint of the administrator whose statement made this entry. */
  grantedBy: string;
  grantedAt: number;
}

/** A revoked node: its key, and how far its history stays valid (entries up to `upTo`, chaining to `upToChain`). */
export interface Retired {
  publicKey: Uint8Array;
  upTo: number;
  upToChain?: string;
}

/** What the trust list says about a key. */
export type KeyStanding = 'member' | 'revoked' | 'unknown';

/** Result of adding statements. */
export interface AddResult {
  /** Statements new to this list. */
  added: TrustStatement[];
  /** True when the evaluation (members, roles, revocations) changed. */
  changed: boolean;
}

/** See the file comment. */
export class TrustList {
  readonly cluster: string;
  readonly founder: string;
  version = 0;
  readonly #founderKey: Uint8Array;
  readonly #verifier: SignatureVerifier;
  readonly #maxStatements: number;
  readonly #statements = new Map<string, TrustStatement>();
  #members = new Map<string, Member>();
  #byNode = new Map<string, Member>();
  #revoked = new Set<string>();
  /** Revoked node ids: their key and how far their history stays valid. */
  #retired = new Map<string, Retired>();
  #everBound = new Set<string>();
  #maxN = 0;
  /** Erasure statements by hash, and the first of them per subject (rule 5). */
  readonly #erasures = new Map<string, TrustStatement>();
  readonly #erased = new Map<string, TrustStatement>();
  readonly #maxErasures: number;

  constructor(options: { founderKey: Uint8Array; verifier?: SignatureVerifier; maxStatements: number; maxErasures?: number }) {
    this.#maxErasures = options.maxErasures ?? options.maxStatements;
    this.#founderKey = options.founderKey;
    this.founder = fingerprintOf(options.founderKey);
    this.cluster = clusterIdOf(options.founderKey);
    this.#verifier = options.verifier ?? new SignatureVerifier();
    this.#maxStatements = options.maxStatements;
  }

  /** Adds statements (already parsed or raw values from a peer); invalid ones are refused with ERR_VALIDATION. */
  add(values: readonly unknown[]): AddResult {
    const added: TrustStatement[] = [];
    const erasures: TrustStatement[] = [];
    for (const value of values) {
      const statement = parseStatement(value, this.#verifier);
      if (statement.cluster !== this.cluster) {
        throw new CrmsyncError('ERR_VALIDATION', `trust statement for cluster ${statement.cluster}, not this cluster (${this.cluster})`);
      }
      if (statement.op === 'erase') {
        erasures.push(statement); // after the grants beside it, which may make its issuer an administrator
        continue;
      }
      const hash = statementHash(statement);
      if (this.#statements.has(hash)) continue;
      if (this.#statements.size >= this.#maxStatements) {
        throw new CrmsyncError('ERR_VALIDATION', `the trust list holds its maximum of ${this.#maxStatements} statements`);
      }
      this.#statements.set(hash, statement);
      this.#maxN = Math.max(this.#maxN, statement.n);
      added.push(statement);
    }
    const changed = added.length > 0 && this.#evaluate();
    if (changed) this.version++;
    // Statements whose issuer was not an administrator at their place are dropped, so a
    // stranger cannot fill the list: an honest peer sends whole sets in evaluation order,
    // and a statement dropped for arriving before its issuer's grant comes again with it.
    const kept = added.filter((s) => this.#statements.has(statementHash(s)));
    return { added: [...kept, ...erasures.filter((s) => this.#addErasure(s))], changed };
  }

  /** Rule 5; true when the erasure is new and counts. */
  #addErasure(statement: TrustStatement): boolean {
    const hash = statementHash(statement);
    if (this.#erasures.has(hash) || !this.isAdmin(statement.issuer)) return false;
    if (this.#erasures.size >= this.#maxErasures) {
      throw new CrmsyncError('ERR_VALIDATION', `the trust list holds its maximum of ${this.#maxErasures} erasures`);
    }
    this.#erasures.set(hash, statement);
    if (!this.#erased.has(statement.subject!)) this.#erased.set(statement.subject!, statement);
    this.#maxN = Math.max(this.#maxN, statement.n);
    return true;
  }

  /** Signs and adds an erasure of `subject` (erasureSubject of a record id) as `issuer`, an administrator on node `node`. */
  erase(issuer: NodeKeys, node: NodeId, subject: string, now: number): TrustStatement {
    if (!this.isAdmin(issuer.fingerprint)) {
      throw new CrmsyncError('ERR_UNAUTHORIZED', 'only an administrator of the cluster can erase a record; run this on an administrator node');
    }
    const statement = signStatement({ cluster: this.cluster, n: this.#maxN + 1, at: now, op: 'erase', node, key: issuer.fingerprint, subject }, issuer);
    this.add([statement]);
    return statement;
  }

  /** The erasure of `subject`, if the record it names was erased. */
  erasureOf(subject: string): TrustStatement | undefined {
    return this.#erased.get(subject);
  }

  /** How many records were erased (the erasures held, one per subject). */
  get erasureCount(): number {
    return this.#erased.size;
  }

  /** Every erasure, oldest first (the audit: who, when; never the record). */
  erasures(): TrustStatement[] {
    return [...this.#erased.values()].sort((a, b) => a.n - b.n);
  }

  /** Signs and adds a statement as `issuer` (who must be an active administrator). */
  issue(issuer: NodeKeys, body: { op: 'grant' | 'revoke'; node: NodeId; key: string; role?: Role; admin?: boolean; scope?: Scope; upTo?: number; upToChain?: string }, now: number): TrustStatement {
    if (!this.isAdmin(issuer.fingerprint)) {
      throw new CrmsyncError('ERR_UNAUTHORIZED', 'only an administrator of the cluster can change its trust list; run this on an administrator node');
    }
    const publicKey = parseFingerprint(body.key);
    if (body.op === 'grant' && !isSigningKey(publicKey)) {
      throw new CrmsyncError('ERR_VALIDATION', `key ${body.key} cannot sign anything (a point of small order, or outside Ed25519's prime-order group): grant the key crmsync init printed on the member's machine`);
    }
    const statement = signStatement({ cluster: this.cluster, n: this.#maxN + 1, at: now, ...body }, issuer);
    this.add([statement]);
    return statement;
  }

  /** The active member holding `key` (a fingerprint or raw key). */
  memberByKey(key: string | Uint8Array): Member | undefined {
    return this.#members.get(typeof key === 'string' ? key : fingerprintOf(key));
  }

  /** The active member with node id `node`. */
  memberByNode(node: string): Member | undefined {
    return this.#byNode.get(node);
  }

  /** Whether `key` is a member, was revoked, or is unknown. */
  standing(key: string | Uint8Array): KeyStanding {
    const fp = typeof key === 'string' ? key : fingerprintOf(key);
    if (this.#revoked.has(fp)) return 'revoked';
    return this.#members.has(fp) ? 'member' : 'unknown';
  }

  /** True for an active administrator (the founder counts until revoked). */
  isAdmin(key: string): boolean {
    return (key === this.founder && !this.#revoked.has(key)) || this.#members.get(key)?.admin === true;
  }

  /** Active members, sorted by node id. */
  members(): Member[] {
    return [...this.#members.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }

  /** True for a node id bound to a key, now or before a revocation (its entries may be held). */
  knowsNode(node: string): boolean {
    return this.#byNode.has(node) || this.#everBound.has(node);
  }

  /** A revoked node: its key and the last sequence number of its history that stays valid. */
  retired(node: string): Retired | undefined {
    return this.#retired.get(node);
  }

  /** Revoked fingerprints. */
  revoked(): string[] {
    return [...this.#revoked].sort();
  }

  /** Every statement held, in evaluation order, erasures last (what a peer is sent: grants before the erasures they authorise). */
  statements(): TrustStatement[] {
    return [...[...this.#statements.entries()].sort(byOrder), ...[...this.#erasures.entries()].sort(byOrder)].map(([, s]) => s);
  }

  /** A digest of the statement set (erasures included): equal digests mean equal trust lists. */
  digest(): string {
    const hash = createHash('sha256');
    for (const key of [...this.#statements.keys(), ...this.#erasures.keys()].sort()) hash.update(key);
    return hash.digest('base64url');
  }

  /**
   * The member holding `key` if the list also held `proof` (statements a peer sent to
   * prove its membership): only the proof's signatures are checked, the list's own
   * statements are not re-verified, and nothing is added.
   */
  memberWithProof(key: Uint8Array, proof: readonly unknown[]): Member | undefined {
    const known = this.memberByKey(key);
    if (known || proof.length === 0) return known;
    const extra = new Map(this.#statements);
    for (const value of proof) {
      let statement: TrustStatement;
      try {
        statement = parseStatement(value, this.#verifier);
      } catch {
        continue;
      }
      if (statement.cluster === this.cluster) extra.set(statementHash(statement), statement);
    }
    return evaluate(extra, this.founder).members.get(fingerprintOf(key));
  }

  /** Grant statements that prove `key`'s membership, back to the founder (for a hello). */
  proofFor(key: string, max: number): TrustStatement[] {
    const proof: TrustStatement[] = [];
    const byKey = new Map<string, TrustStatement>();
    for (const s of this.statements()) if (s.op === 'grant') byKey.set(s.key, s);
    for (let subject: string | undefined = key; subject !== undefined && proof.length < max;) {
      const grant = byKey.get(subject);
      if (!grant || proof.includes(grant)) break;
      proof.push(grant);
      subject = grant.issuer === this.founder && grant.key !== this.founder ? this.founder : grant.issuer === subject ? undefined : grant.issuer;
    }
    return proof;
  }

  /** Evaluates every statement in order (see the rules); true when the result changed. */
  #evaluate(): boolean {
    const { members, revoked, retired, ineffective } = evaluate(this.#statements, this.founder);
    for (const hash of ineffective) this.#statements.delete(hash);
    this.#retired = retired;
    for (const s of this.#statements.values()) if (s.op === 'grant') this.#everBound.add(s.node);
    const before = snapshot(this.#members, this.#revoked);
    this.#members = members;
    this.#byNode = new Map([...members.values()].map((m) => [m.node, m]));
    this.#revoked = revoked;
    return before !== snapshot(members, revoked);
  }

  /** The founder's raw key (the root of trust). */
  get founderKey(): Uint8Array {
    return this.#founderKey;
  }
}

/** The evaluation of a statement set (the rules in the file comment). */
function evaluate(statements: Map<string, TrustStatement>, founder: string): {
  members: Map<string, Member>; revoked: Set<string>; retired: Map<string, Retired>; ineffective: Set<string>;
} {
  const retired = new Map<string, Retired>();
  const members = new Map<string, Member>();
  const boundNode = new Map<string, string>(); // node id -> the first key ever granted it
  const boundKey = new Map<string, string>(); // key -> the node id it was granted
  const revoked = new Set<string>();
  const ineffective = new Set<string>();
  const isAdmin = (key: string) => (key === founder && !revoked.has(key)) || members.get(key)?.admin === true;
  for (const [hash, s] of [...statements.entries()].sort(byOrder)) {
    if (!isAdmin(s.issuer)) {
      ineffective.add(hash);
      continue;
    }
    if (s.op === 'revoke') {
      if (!revoked.has(s.key) && boundKey.get(s.key) !== undefined) {
        retired.set(boundKey.get(s.key)!, { publicKey: parseFingerprint(s.key), upTo: s.upTo ?? 0, ...(s.upToChain ? { upToChain: s.upToChain } : {}) });
      }
      revoked.add(s.key);
      members.delete(s.key);
      continue;
    }
    if (revoked.has(s.key)) continue;
    if ((boundNode.get(s.node) ?? s.key) !== s.key || (boundKey.get(s.key) ?? s.node) !== s.node) continue;
    boundNode.set(s.node, s.key);
    boundKey.set(s.key, s.node);
    members.set(s.key, {
      node: s.node, key: s.key, publicKey: parseFingerprint(s.key), role: s.role!, admin: s.admin === true,
      ...(s.scope ? { scope: s.scope } : {}), grantedBy: s.issuer, grantedAt: s.at,
    });
  }
  return { members, revoked, retired, ineffective };
}

function byOrder([ha, a]: [string, TrustStatement], [hb, b]: [string, TrustStatement]): number {
  return a.n - b.n || (ha < hb ? -1 : ha > hb ? 1 : 0);
}

/** A comparable rendering of an evaluation (order-independent). */
function snapshot(members: Map<string, Member>, revoked: Set<string>): string {
  const rows = [...members.values()].map((m) => [m.key, m.node, m.role, m.admin, m.scope ?? null]).sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1));
  return JSON.stringify([rows, [...revoked].sort()]);
}
