/**
 * Node keys: every node holds an Ed25519 key pair. The private key signs the node's
 * own change entries, trust statements and handshake transcripts; the public key,
 * written as a fingerprint, is how the trust list names a node. Keys are made and parsed
 * with node:crypto; signatures are made and checked with libsodium (ed25519.ts says why).
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { CrmsyncError } from '../errors.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, signerFromSeed, verifyEd25519 } from './ed25519.js';

export { PUBLIC_KEY_BYTES, SIGNATURE_BYTES };
/** Fingerprints start with this, so a pasted value says what it is. */
export const FINGERPRINT_PREFIX = 'ed25519:';

/** A node's key pair, ready to sign. */
export interface NodeKeys {
  /** Raw 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** `ed25519:` + base64url of the public key. */
  readonly fingerprint: string;
  /** PKCS#8 PEM of the private key (written to `node.key`, mode 0600). */
  readonly privateKeyPem: string;
  /** Signs `data`. */
  sign(data: Uint8Array): Uint8Array;
}

/** Generates a new key pair. */
export function generateNodeKeys(): NodeKeys {
  const { privateKey } = generateKeyPairSync('ed25519');
  return keysFrom(privateKey);
}

/** Loads a key pair from its PKCS#8 PEM; ERR_VALIDATION if it is not an Ed25519 private key. */
export function loadNodeKeys(privateKeyPem: string): NodeKeys {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (cause) {
    throw new CrmsyncError('ERR_VALIDATION', 'the node key is not a PEM private key (expected the node.key written by crmsync init)', { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new CrmsyncError('ERR_VALIDATION', `the node key is a ${key.asymmetricKeyType ?? 'unknown'} key; crmsync node keys are Ed25519`);
  }
  return keysFrom(key);
}

function keysFrom(privateKey: KeyObject): NodeKeys {
  // The JWK form's `d` is the key's 32-byte seed; libsodium derives the same pair from it.
  const signer = signerFromSeed(Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url'));
  return {
    publicKey: signer.publicKey,
    fingerprint: fingerprintOf(signer.publicKey),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    sign: signer.sign,
  };
}

/** The fingerprint of a raw public key. */
export function fingerprintOf(publicKey: Uint8Array): string {
  return FINGERPRINT_PREFIX + Buffer.from(publicKey).toString('base64url');
}

/** The raw public key of a fingerprint; ERR_VALIDATION for anything else. */
export function parseFingerprint(value: unknown): Uint8Array {
  if (typeof value === 'string' && value.startsWith(FINGERPRINT_PREFIX)) {
    const raw = Buffer.from(value.slice(FINGERPRINT_PREFIX.length), 'base64url');
    if (raw.length === PUBLIC_KEY_BYTES && fingerprintOf(raw) === value) return new Uint8Array(raw);
  }
  throw new CrmsyncError('ERR_VALIDATION', `invalid key fingerprint ${JSON.stringify(String(value)).slice(0, 80)}: expected ${FINGERPRINT_PREFIX} followed by 43 base64url characters (crmsync init prints it)`);
}

/**
 * Verifies Ed25519 signatures (libsodium, ed25519.ts): the trust list, entry checks and
 * handshakes share one. A raw public key is all libsodium needs, so nothing is cached.
 */
export class SignatureVerifier {
  /** True when `signature` is `publicKey`'s signature of `data`. Never throws for bad input. */
  verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
    return verifyEd25519(publicKey, data, signature);
  }
}
