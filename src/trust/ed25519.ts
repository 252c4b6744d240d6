/**
 * Ed25519 signing and verification through libsodium (sodium-native), the one place
 * crmsync's signatures are made and checked. Keys are still generated, stored and parsed
 * with node:crypto (PKCS#8 PEM in `node.key`); only the seed crosses over.
 *
 * Why not node:crypto: on these machines OpenSSL 3.0 signs in ~63 µs and verifies in
 * ~182 µs; libsodium takes ~22 and ~64 µs (measured here). Every live edit is signed once
 * by its writer and verified once by each node that receives it: in a profile of two
 * nodes exchanging edits, that was 14.6% of the CPU samples with OpenSSL and is 7.4% with
 * libsodium (docs/performance.md, "Signatures through libsodium").
 *
 * Why it matters beyond speed: libsodium's verification is strict. It refuses public keys
 * of small order, which OpenSSL accepts, and for which a "signature" of the neutral point
 * and S = 0 verifies on ANY message (test/trust/ed25519.test.ts). Signatures are the same
 * bytes either way (Ed25519 is deterministic), so nodes running an older build verify
 * what this one signs.
 */
import sodium from 'sodium-native';

/** Length of a raw Ed25519 public key. */
export const PUBLIC_KEY_BYTES = 32;
/** Length of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64;
/** Length of the seed an Ed25519 key pair is derived from (the private key PKCS#8 holds). */
export const SEED_BYTES = 32;

/** A key pair ready to sign (libsodium's 64-byte secret key: the seed and the public key). */
export interface Ed25519Signer {
  readonly publicKey: Uint8Array;
  sign(data: Uint8Array): Uint8Array;
}

/** The signer of the key pair derived from `seed` (32 bytes). */
export function signerFromSeed(seed: Uint8Array): Ed25519Signer {
  if (seed.length !== SEED_BYTES) throw new RangeError(`an Ed25519 seed has ${SEED_BYTES} bytes, not ${seed.length}`);
  const publicKey = new Uint8Array(PUBLIC_KEY_BYTES);
  // Plain memory: the same secret is in the process anyway (NodeKeys.privateKeyPem, the
  // seed it came from), so sodium_malloc's guard pages would protect nothing more.
  const secretKey = new Uint8Array(sodium.crypto_sign_SECRETKEYBYTES);
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed);
  return {
    publicKey,
    sign(data) {
      const signature = new Uint8Array(SIGNATURE_BYTES);
      sodium.crypto_sign_detached(signature, data, secretKey);
      return signature;
    },
  };
}

/** True when `signature` is `publicKey`'s signature of `data`. Never throws for input of any length. */
export function verifyEd25519(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  return sodium.crypto_sign_verify_detached(signature, data, publicKey);
}

/**
 * Whether `publicKey` can sign at all: a canonical encoding of a point in Ed25519's
 * prime-order group. A key of small order (or of mixed order) is none: libsodium refuses
 * every signature under it, so a member granted one could never prove anything, and
 * OpenSSL-based builds would accept forgeries for it. Every key a real key pair has passes.
 */
export function isSigningKey(publicKey: Uint8Array): boolean {
  return publicKey.length === PUBLIC_KEY_BYTES && sodium.crypto_core_ed25519_is_valid_point(publicKey);
}
