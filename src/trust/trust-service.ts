/**
 * A node's view of trust: its own keys, the cluster's trust list and where that list is
 * kept. The engine asks it which origins may write (OriginAuthority); sessions ask it
 * to judge a peer's hello, to sign, and to take statements peers send; administrators
 * issue statements through it. Every change is made durable before it is announced.
 */
import { EventEmitter } from 'node:events';
import { CrmsyncError } from '../errors.js';
import type { Logger } from '../log.js';
import type { NodeId } from '../types.js';
import { fingerprintOf, SignatureVerifier, type NodeKeys } from './keys.js';
import {
  checkRedemption, createInvitation, invitationId, redeem, type Invitation, type InvitationRecord, type Redemption,
} from './invitation.js';
import { statementHash, statementValue, type Role, type Scope, type TrustStatement } from './statements.js';
import { TrustList, type Member } from './trust-list.js';

/** Where trust statements and invitations are kept (the store). */
export interface TrustPersistence {
  saveTrust(statements: readonly { hash: string; value: unknown }[]): Promise<void>;
  getState<T>(key: string): Promise<T | undefined>;
  putState(entries: readonly [key: string, value: unknown][]): Promise<void>;
}

/** Where an invitation's record is filed. */
const inviteKey = (id: string) => `invite/${id}`;

/** How a hello is judged. */
export type HelloVerdict =
  | { ok: true; member: Member }
  | { ok: false; reason: 'unknown' | 'revoked' | 'node-mismatch' };

/** See the file comment. */
export class TrustService {
  readonly keys: NodeKeys;
  readonly list: TrustList;
  readonly verifier: SignatureVerifier;
  /**
   * 'added': statements new to this node, as soon as they are in the list (synchronously,
   * so a relay passes them on before any entry they authorise); 'changed': after
   * statements that changed the evaluation became durable.
   */
  readonly events = new EventEmitter<{ added: [TrustStatement[]]; changed: [] }>();
  readonly #persistence: TrustPersistence;
  readonly #logger: Logger;
  readonly #maxProof: number;
  /** The invitation this node joins with, until it is a member. */
  readonly #joining: Invitation | undefined;
  /** Redemptions in progress, by invitation id (one at a time each: an invitation is used once). */
  readonly #redeeming = new Set<string>();

  constructor(options: { keys: NodeKeys; list: TrustList; verifier: SignatureVerifier; persistence: TrustPersistence; logger: Logger; maxProof: number; joining?: Invitation | undefined }) {
    this.#joining = options.joining;
    this.keys = options.keys;
    this.list = options.list;
    this.verifier = options.verifier;
    this.#persistence = options.persistence;
    this.#logger = options.logger;
    this.#maxProof = options.maxProof;
  }

  /** The cluster this node belongs to. */
  get cluster(): string {
    return this.list.cluster;
  }

  /**
   * The key an origin's entries are checked with, and up to which sequence number they
   * are accepted (OriginAuthority): a member without limit, a revoked node up to where its
   * revocation said, a read-only member nothing; undefined for an origin we do not know.
   */
  writer(origin: string): { key: Uint8Array; upTo: number; upToChain?: string; scope?: Scope } | undefined {
    const member = this.list.memberByNode(origin);
    if (member) return { key: member.publicKey, upTo: member.role === 'read-only' ? 0 : Number.MAX_SAFE_INTEGER, ...(member.scope ? { scope: member.scope } : {}) };
    const retired = this.list.retired(origin);
    return retired && { key: retired.publicKey, upTo: retired.upTo, ...(retired.upToChain ? { upToChain: retired.upToChain } : {}) };
  }

  /** True when entry `seq` of `origin` may be relayed (see writer). */
  allows(origin: string, seq: number): boolean {
    return seq <= (this.writer(origin)?.upTo ?? 0);
  }

  /** True for node ids the trust list binds (now or before a revocation). */
  knows(node: string): boolean {
    return this.list.knowsNode(node);
  }

  /** Judges a peer's claimed identity, with the proof its hello carried. */
  judge(claim: { node: string; key: Uint8Array; proof: readonly unknown[] }): HelloVerdict {
    const standing = this.list.standing(claim.key);
    if (standing === 'revoked') return { ok: false, reason: 'revoked' };
    const member = this.list.memberWithProof(claim.key, claim.proof.slice(0, this.#maxProof));
    if (!member) return { ok: false, reason: 'unknown' };
    if (member.node !== claim.node) return { ok: false, reason: 'node-mismatch' };
    return { ok: true, member };
  }

  /** What this node's hello carries to redeem its invitation (nothing once it is a member). */
  invitationFor(nonce: Uint8Array): Redemption | undefined {
    if (!this.#joining || this.list.memberByKey(this.keys.publicKey)) return undefined;
    return redeem(this.#joining, { node: this.#joining.node, key: this.keys.publicKey, nonce });
  }

  /**
   * Honours an invitation a peer's hello carries: checks it (known, matching, unexpired,
   * unused), grants the key as the invitation says and marks it used, all durable before
   * the verdict. Only an administrator holds invitations.
   */
  async redeem(claim: { node: string; key: Uint8Array; nonce: Uint8Array; invite: Redemption }, now: number): Promise<HelloVerdict | { ok: false; reason: 'invitation-unknown' | 'invitation-expired' | 'invitation-used' | 'invitation-mismatch' }> {
    const { id } = claim.invite;
    if (this.#redeeming.has(id)) return { ok: false, reason: 'invitation-used' };
    this.#redeeming.add(id);
    try {
      const record = await this.#persistence.getState<InvitationRecord>(inviteKey(id));
      const refused = checkRedemption(record, claim.invite, claim, now);
      if (refused) return { ok: false, reason: `invitation-${refused}` };
      const fingerprint = fingerprintOf(claim.key);
      await this.issue({ op: 'grant', node: record!.node, key: fingerprint, role: record!.role, ...(record!.scope ? { scope: record!.scope } : {}) }, now);
      await this.#persistence.putState([[inviteKey(id), { ...record!, redeemedBy: fingerprint, redeemedAt: now }]]);
      this.#logger.info({ node: record!.node, role: record!.role }, 'invitation redeemed');
      const member = this.list.memberByKey(claim.key);
      return member ? { ok: true, member } : { ok: false, reason: 'invitation-mismatch' };
    } finally {
      this.#redeeming.delete(id);
    }
  }

  /** Issues an invitation (administrators only): the code to hand over, and its record filed durably. */
  async invite(body: { node: NodeId; role: Role; scope?: Scope; expires: number; urls: string[] }): Promise<Invitation> {
    this.requireAdmin();
    const member = this.list.memberByNode(body.node);
    if (member || this.list.knowsNode(body.node)) {
      throw new CrmsyncError('ERR_EXISTS', `node id "${body.node}" is already taken in this cluster; invite the new node under another id`);
    }
    const self = this.list.memberByKey(this.keys.publicKey);
    const invitation = createInvitation({
      founder: this.list.founder, issuer: self?.node ?? body.node, issuerKey: this.keys.fingerprint, urls: body.urls,
      node: body.node, role: body.role, ...(body.scope ? { scope: body.scope } : {}), expires: body.expires,
    });
    const record: InvitationRecord = { node: body.node, role: body.role, ...(body.scope ? { scope: body.scope } : {}), expires: body.expires, secret: invitation.secret };
    await this.#persistence.putState([[inviteKey(invitationId(invitation.secret)), record]]);
    return invitation;
  }

  /** Statements proving this node's own membership (sent in its hello). */
  ownProof(): TrustStatement[] {
    return this.list.proofFor(this.keys.fingerprint, this.#maxProof);
  }

  /** Every statement, for a peer whose digest differs. */
  statements(): Record<string, unknown>[] {
    return this.list.statements().map(statementValue);
  }

  /** Adds statements a peer sent; invalid ones are logged and skipped. Durable before 'changed'. */
  async receive(values: readonly unknown[], from: NodeId): Promise<number> {
    const added: TrustStatement[] = [];
    let changed = false;
    for (const value of values) {
      try {
        const result = this.list.add([value]);
        added.push(...result.added);
        changed ||= result.changed;
      } catch (err) {
        this.#logger.warn({ peer: from, code: (err as CrmsyncError).code }, 'ignored an invalid trust statement');
      }
    }
    await this.#persist(added, changed);
    return added.length;
  }

  /** Issues a statement as this node (an administrator); durable on return. */
  async issue(body: { op: 'grant' | 'revoke'; node: NodeId; key: string; role?: Role; admin?: boolean; scope?: Scope; upTo?: number; upToChain?: string }, now: number): Promise<TrustStatement> {
    this.requireAdmin();
    const before = this.list.version;
    const statement = this.list.issue(this.keys, body, now);
    await this.#persist([statement], this.list.version !== before);
    return statement;
  }

  /**
   * Erases the record whose salted id hash is `subject`, as this node (an administrator
   * on node `node`): the signed statement is durable and passed to every peer on return.
   * Idempotent: an erased subject answers its first erasure.
   */
  async erase(subject: string, node: NodeId, now: number): Promise<TrustStatement> {
    this.requireAdmin();
    const existing = this.list.erasureOf(subject);
    if (existing) return existing;
    const statement = this.list.erase(this.keys, node, subject, now);
    await this.#persist([statement], false);
    return statement;
  }

  async #persist(added: TrustStatement[], changed: boolean): Promise<void> {
    if (added.length > 0) this.events.emit('added', added);
    if (added.length > 0) await this.#persistence.saveTrust(added.map((s) => ({ hash: statementHash(s), value: statementValue(s) })));
    if (changed) this.events.emit('changed');
  }

  /** Throws unless this node is an administrator (for operations that change the list). */
  requireAdmin(): void {
    if (!this.list.isAdmin(this.keys.fingerprint)) {
      throw new CrmsyncError('ERR_UNAUTHORIZED', 'this node is not an administrator of its cluster; run this on an administrator node');
    }
  }
}
