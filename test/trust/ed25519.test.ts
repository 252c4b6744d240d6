/**
 * Ed25519 through libsodium (src/trust/ed25519.ts): the same signatures as node:crypto
 * for the same keys (so nodes on either build verify each other), and strict where
 * OpenSSL is lax. The attack cases are the inputs a peer controls: a signature, a signed
 * message, and (through a grant) a public key.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as opensslSign, verify as opensslVerify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import sodium from 'sodium-native';
import { isSigningKey, signerFromSeed, verifyEd25519 } from '../../src/trust/ed25519.js';
import { generateNodeKeys, loadNodeKeys, SignatureVerifier } from '../../src/trust/keys.js';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const opensslPublic = (raw: Uint8Array) => createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
const opensslPrivate = (seed: Uint8Array) => createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
/** The eight points of small order (orders 1, 2, 4 and 8), as public keys. */
const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000', '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
].map((hex) => Buffer.from(hex, 'hex'));
/** The group order L, little-endian (RFC 8032): S must be below it. */
const L = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');

describe('Ed25519 through libsodium', () => {
  it('makes the signatures node:crypto makes from the same seed, and each verifies the other', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), (seed, message) => {
        const signer = signerFromSeed(seed);
        const openssl = opensslPrivate(seed);
        const ours = signer.sign(message);
        expect(Buffer.from(ours).equals(opensslSign(null, message, openssl))).toBe(true);
        expect(opensslVerify(null, message, opensslPublic(signer.publicKey), ours)).toBe(true);
        expect(verifyEd25519(signer.publicKey, message, opensslSign(null, message, openssl))).toBe(true);
      }),
      { numRuns: 200, seed: 9 },
    );
  });

  it('node keys loaded from their PEM sign as the PEM key does', () => {
    const keys = generateNodeKeys();
    const again = loadNodeKeys(keys.privateKeyPem);
    const message = Buffer.from('entry chain head');
    expect(again.fingerprint).toBe(keys.fingerprint);
    expect(Buffer.from(again.sign(message)).equals(opensslSign(null, message, createPrivateKey(keys.privateKeyPem)))).toBe(true);
    expect(new SignatureVerifier().verify(keys.publicKey, message, again.sign(message))).toBe(true);
  });

  it('refuses any changed bit of signature, message or key, and input of the wrong length, without throwing', () => {
    const signer = signerFromSeed(new Uint8Array(32).fill(7));
    const message = Buffer.from('a change entry');
    const signature = signer.sign(message);
    fc.assert(
      fc.property(fc.constantFrom('signature', 'message', 'key'), fc.nat(), fc.integer({ min: 0, max: 7 }), (part, at, bit) => {
        const sig = Buffer.from(signature);
        const msg = Buffer.from(message);
        const key = Buffer.from(signer.publicKey);
        const target = part === 'signature' ? sig : part === 'message' ? msg : key;
        target[at % target.length]! ^= 1 << bit;
        expect(verifyEd25519(key, msg, sig)).toBe(false);
      }),
      { numRuns: 300, seed: 4 },
    );
    expect(verifyEd25519(signer.publicKey, message, signature.subarray(0, 63))).toBe(false);
    expect(verifyEd25519(signer.publicKey, message, Buffer.concat([signature, Buffer.alloc(1)]))).toBe(false);
    expect(verifyEd25519(signer.publicKey.subarray(0, 31), message, signature)).toBe(false);
    expect(verifyEd25519(new Uint8Array(0), message, new Uint8Array(0))).toBe(false);
  });

  it('refuses a small-order public key, whose "signature" OpenSSL accepts on any message', () => {
    // The neutral point as a public key, and R = the neutral point, S = 0 as the signature:
    // [S]B = R + [k]A holds for every message. A member granted this key could be forged by anyone.
    const neutral = Buffer.alloc(32);
    neutral[0] = 1;
    const forged = Buffer.alloc(64);
    forged[0] = 1;
    for (const message of ['grant me admin', 'delete every record'].map((m) => Buffer.from(m))) {
      expect(opensslVerify(null, message, opensslPublic(neutral), forged)).toBe(true);
      expect(verifyEd25519(neutral, message, forged)).toBe(false);
    }
  });

  it('refuses a malleated signature (S + L), which verifies the same equation', () => {
    const signer = signerFromSeed(new Uint8Array(32).fill(3));
    const message = Buffer.from('an entry');
    const signature = Buffer.from(signer.sign(message));
    // S + L as a 256-bit little-endian sum: the same point equation, a different signature.
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const sum = signature[32 + i]! + L[i]! + carry;
      signature[32 + i] = sum & 0xff;
      carry = sum >> 8;
    }
    expect(carry).toBe(0);
    expect(verifyEd25519(signer.publicKey, message, signature)).toBe(false);
  });

  it('tells keys that can sign from keys of small or mixed order', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => isSigningKey(signerFromSeed(seed).publicKey)), { numRuns: 100, seed: 5 });
    for (const point of SMALL_ORDER) expect(isSigningKey(point)).toBe(false);
    // A real key plus a point of order 8: on the curve, but outside the prime-order group.
    const mixed = Buffer.alloc(32);
    sodium.crypto_core_ed25519_add(mixed, signerFromSeed(new Uint8Array(32).fill(9)).publicKey, SMALL_ORDER[4]!);
    expect(isSigningKey(mixed)).toBe(false);
    expect(isSigningKey(new Uint8Array(31))).toBe(false);
  });

  it('refuses a seed of the wrong length with a clear error', () => {
    expect(() => signerFromSeed(new Uint8Array(31))).toThrow(/32 bytes, not 31/);
  });
});
