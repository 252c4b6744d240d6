import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fingerprintOf, generateNodeKeys, type NodeKeys } from '../../src/trust/keys.js';
import { signStatement, type TrustStatement } from '../../src/trust/statements.js';
import { TrustList } from '../../src/trust/trust-list.js';
import type { NodeId } from '../../src/types.js';

const MAX = 1000;
const founder = generateNodeKeys();
const keys = Array.from({ length: 5 }, () => generateNodeKeys());
const listOf = () => new TrustList({ founderKey: founder.publicKey, maxStatements: MAX });
const node = (n: string) => n as NodeId;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe('trust list', () => {
  it('the founder is an administrator; grants bind keys to node ids and roles', () => {
    const list = listOf();
    list.issue(founder, { op: 'grant', node: node('berlin'), key: founder.fingerprint, role: 'region', admin: true }, 1);
    list.issue(founder, { op: 'grant', node: node('laptop-anna'), key: keys[0]!.fingerprint, role: 'laptop', scope: { territories: ['DACH'] } }, 2);
    expect(list.members().map((m) => [m.node, m.role, m.admin])).toEqual([['berlin', 'region', true], ['laptop-anna', 'laptop', false]]);
    expect(list.memberByNode('laptop-anna')?.scope).toEqual({ territories: ['DACH'] });
    expect(list.standing(keys[0]!.publicKey)).toBe('member');
    expect(list.standing(keys[1]!.fingerprint)).toBe('unknown');
  });

  it('only administrators change it; a non-admin statement is ignored, and issue() refuses', () => {
    const list = listOf();
    list.issue(founder, { op: 'grant', node: node('laptop-anna'), key: keys[0]!.fingerprint, role: 'laptop' }, 1);
    const forged = signStatement({ cluster: list.cluster, n: 5, at: 2, op: 'grant', node: node('evil'), key: keys[1]!.fingerprint, role: 'region', admin: true }, keys[0]!);
    expect(list.add([forged]).changed).toBe(false);
    expect(list.memberByNode('evil')).toBeUndefined();
    expect(codeOf(() => list.issue(keys[0]!, { op: 'revoke', node: node('x'), key: founder.fingerprint }, 3))).toBe('ERR_UNAUTHORIZED');
  });

  it('refuses to grant a key that cannot sign (small order), and the list stays as it was', () => {
    const list = listOf();
    const neutral = new Uint8Array(32);
    neutral[0] = 1;
    let error: unknown;
    try {
      list.issue(founder, { op: 'grant', node: node('weak'), key: fingerprintOf(neutral), role: 'region' }, 1);
    } catch (err) {
      error = err;
    }
    expect((error as { code?: string }).code).toBe('ERR_VALIDATION');
    expect((error as Error).message).toMatch(/cannot sign anything.*crmsync init/);
    expect(list.memberByNode('weak')).toBeUndefined();
    expect(list.statements()).toEqual([]);
  });

  it('refuses tampered statements, foreign clusters and garbage, with ERR_VALIDATION', () => {
    const list = listOf();
    const good = signStatement({ cluster: list.cluster, n: 1, at: 1, op: 'grant', node: node('a'), key: keys[0]!.fingerprint, role: 'laptop' }, founder);
    expect(codeOf(() => list.add([{ ...good, role: 'region' }]))).toBe('ERR_VALIDATION');
    expect(codeOf(() => list.add([{ ...good, cluster: 'other' }]))).toBe('ERR_VALIDATION');
    expect(codeOf(() => list.add([{ ...good, sig: new Uint8Array(64) }]))).toBe('ERR_VALIDATION');
    expect(codeOf(() => list.add([{ hello: 1 }]))).toBe('ERR_VALIDATION');
    expect(codeOf(() => list.add([null]))).toBe('ERR_VALIDATION');
    expect(list.members()).toEqual([]);
  });

  it('revocation is permanent, and a node id stays bound to its first key', () => {
    const list = listOf();
    list.issue(founder, { op: 'grant', node: node('laptop-anna'), key: keys[0]!.fingerprint, role: 'laptop' }, 1);
    list.issue(founder, { op: 'revoke', node: node('laptop-anna'), key: keys[0]!.fingerprint }, 2);
    list.issue(founder, { op: 'grant', node: node('laptop-anna'), key: keys[0]!.fingerprint, role: 'laptop' }, 3);
    expect(list.standing(keys[0]!.fingerprint)).toBe('revoked');
    // The revoked key's node id is not handed to another key: that would be a second history under one origin.
    list.issue(founder, { op: 'grant', node: node('laptop-anna'), key: keys[1]!.fingerprint, role: 'laptop' }, 4);
    expect(list.memberByNode('laptop-anna')).toBeUndefined();
    // ...and one key holds one node id.
    list.issue(founder, { op: 'grant', node: node('laptop-ben'), key: keys[2]!.fingerprint, role: 'laptop' }, 5);
    list.issue(founder, { op: 'grant', node: node('laptop-cat'), key: keys[2]!.fingerprint, role: 'laptop' }, 6);
    expect(list.memberByKey(keys[2]!.fingerprint)?.node).toBe('laptop-ben');
  });

  it('statements of a revoked administrator made after the revocation do not count', () => {
    const list = listOf();
    list.issue(founder, { op: 'grant', node: node('admin2'), key: keys[0]!.fingerprint, role: 'region', admin: true }, 1);
    list.issue(keys[0]!, { op: 'grant', node: node('laptop-x'), key: keys[1]!.fingerprint, role: 'laptop' }, 2);
    list.issue(founder, { op: 'revoke', node: node('admin2'), key: keys[0]!.fingerprint }, 3);
    const late = signStatement({ cluster: list.cluster, n: 10, at: 4, op: 'grant', node: node('laptop-y'), key: keys[2]!.fingerprint, role: 'laptop' }, keys[0]!);
    list.add([late]);
    expect(list.members().map((m) => m.node)).toEqual(['laptop-x']);
  });

  it('every node computes the same list once it holds the same statements, whatever order and grouping they arrived in', () => {
    const all = [founder, ...keys];
    fc.assert(fc.property(
      fc.array(fc.record({ op: fc.constantFrom('grant', 'grant', 'revoke'), by: fc.nat(5), who: fc.nat(5), admin: fc.boolean(), role: fc.constantFrom('region', 'laptop', 'read-only') }), { minLength: 5, maxLength: 25 }),
      fc.infiniteStream(fc.nat()),
      (steps, shuffle) => {
        const origin = listOf();
        const issued: TrustStatement[] = [];
        for (const [i, step] of steps.entries()) {
          const issuer = all[step.by]!;
          if (!origin.isAdmin(issuer.fingerprint)) continue;
          const who = all[step.who]!;
          issued.push(origin.issue(issuer, { op: step.op as 'grant' | 'revoke', node: node(`n${step.who}`), key: who.fingerprint, role: step.role as 'laptop', admin: step.admin }, i));
        }
        const order = [...issued];
        const it = shuffle[Symbol.iterator]();
        for (let i = order.length - 1; i > 0; i--) {
          const j = it.next().value % (i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const replica = listOf();
        for (let i = 0; i < order.length; i += 3) replica.add(order.slice(i, i + 3));
        // A statement that arrived before its issuer's grant was dropped; the next
        // session's exchange (the whole set, in evaluation order) brings it back.
        replica.add(origin.statements());
        expect(replica.members()).toEqual(origin.members());
        expect(replica.revoked()).toEqual(origin.revoked());
        expect(replica.digest()).toBe(origin.digest());
      },
    ), { numRuns: 60 });
  });

  it('does not keep statements signed by strangers (no one can fill the list)', () => {
    const list = listOf();
    const junk = Array.from({ length: 20 }, (_, i) => signStatement({ cluster: list.cluster, n: i + 1, at: 0, op: 'grant', node: node(`x${i}`), key: keys[i % 5]!.fingerprint, role: 'region', admin: true }, keys[0]!));
    expect(list.add(junk).added).toEqual([]);
    expect(list.statements()).toEqual([]);
  });

  it('checks a hello proof without adding it, and builds one for a member', () => {
    const source = listOf();
    source.issue(founder, { op: 'grant', node: node('admin2'), key: keys[0]!.fingerprint, role: 'region', admin: true }, 1);
    source.issue(keys[0]!, { op: 'grant', node: node('laptop-z'), key: keys[1]!.fingerprint, role: 'laptop' }, 2);
    const proof = source.proofFor(keys[1]!.fingerprint, 16);
    expect(proof.map((p) => p.node)).toEqual(['laptop-z', 'admin2']);
    const fresh = listOf();
    expect(fresh.memberWithProof(keys[1]!.publicKey, proof)?.node).toBe('laptop-z');
    expect(fresh.memberByKey(keys[1]!.fingerprint)).toBeUndefined();
    expect(fresh.memberWithProof(keys[2]!.publicKey, proof)).toBeUndefined();
  });

  it('refuses statements beyond its maximum', () => {
    const list = new TrustList({ founderKey: founder.publicKey, maxStatements: 2 });
    list.issue(founder, { op: 'grant', node: node('a'), key: keys[0]!.fingerprint, role: 'laptop' }, 1);
    list.issue(founder, { op: 'grant', node: node('b'), key: keys[1]!.fingerprint, role: 'laptop' }, 2);
    expect(codeOf(() => list.issue(founder, { op: 'grant', node: node('c'), key: keys[2]!.fingerprint, role: 'laptop' }, 3))).toBe('ERR_VALIDATION');
  });
});

describe('erasure statements', () => {
  const subject = 'ab'.repeat(32);
  const admin = () => {
    const list = listOf();
    list.issue(founder, { op: 'grant', node: node('laptop-anna'), key: keys[0]!.fingerprint, role: 'laptop' }, 1);
    return list;
  };

  it('an administrator erases; the erasure is kept, sent after the grants and part of the digest', () => {
    const list = admin();
    const before = list.digest();
    const erasure = list.erase(founder, node('berlin'), subject, 7);
    expect(list.erasureOf(subject)).toEqual(erasure);
    expect(list.erasures()).toEqual([erasure]);
    expect(list.statements().at(-1)).toEqual(erasure);
    expect(list.digest()).not.toBe(before);
    const other = listOf();
    expect(other.add(list.statements()).added).toHaveLength(2);
    expect(other.erasureOf(subject)).toBeDefined();
    expect(other.digest()).toBe(list.digest());
  });

  it('refuses erasures by members who are not administrators, tampered or malformed ones (what a peer may send)', () => {
    const list = admin();
    const forged = signStatement({ cluster: list.cluster, n: 9, at: 1, op: 'erase', node: node('laptop-anna'), key: keys[0]!.fingerprint, subject }, keys[0]!);
    expect(list.add([forged]).added).toEqual([]);
    expect(list.erasureOf(subject)).toBeUndefined();
    expect(codeOf(() => list.erase(keys[0]!, node('laptop-anna'), subject, 1))).toBe('ERR_UNAUTHORIZED');
    const good = list.erase(founder, node('berlin'), subject, 2);
    const fresh = admin();
    const bad: [string, unknown][] = [
      ['another subject under the same signature', { ...good, subject: 'cd'.repeat(32) }],
      ['no subject', { ...good, subject: undefined }],
      ['a subject that is not a hash', { ...good, subject: 'c-ada' }],
      ['a role besides the subject', { ...good, role: 'region' }],
      ['a key other than the issuer', { ...good, key: keys[1]!.fingerprint }],
      ['a grant with a subject', { ...good, op: 'grant', role: 'region' }],
      ['a number instead of a map', 42],
    ];
    for (const [what, value] of bad) expect(codeOf(() => fresh.add([value])), what).toBe('ERR_VALIDATION');
    expect(fresh.erasures()).toEqual([]);
  });

  it('holds at most maxErasures', () => {
    const list = new TrustList({ founderKey: founder.publicKey, maxStatements: MAX, maxErasures: 2 });
    list.erase(founder, node('berlin'), 'a'.repeat(64), 1);
    list.erase(founder, node('berlin'), 'b'.repeat(64), 2);
    expect(codeOf(() => list.erase(founder, node('berlin'), 'c'.repeat(64), 3))).toBe('ERR_VALIDATION');
    expect(list.erasureCount).toBe(2);
  });
});
