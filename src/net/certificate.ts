/**
 * X.509 certificates for Ed25519 node keys. A node's default TLS certificate is
 * self-signed and carries its Ed25519 public key: the TLS layer only proves possession
 * of that key, and the owner decides whether the key is trusted (see Connection.peerKey).
 * issueCertificate() also signs certificates with a CA key, for operators who run
 * their own PKI (TransportOptions.tls.ca) and for tests of that mode.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import { CrmsyncError } from '../errors.js';
import { FIXED } from '../limits.js';
import {
  bitString, boolean, explicit, octetString, oid, sequence, set, smallInteger, time, tlv, unsignedInteger, utf8String,
} from './der.js';

/** Longest subject or issuer name in UTF-8 bytes (RFC 5280 ub-common-name). */
export const MAX_CERTIFICATE_NAME_BYTES = FIXED.maxCertificateNameBytes;

const ED25519 = '1.3.101.112';
const COMMON_NAME = '2.5.4.3';
const BASIC_CONSTRAINTS = '2.5.29.19';
const KEY_USAGE = '2.5.29.15';
const SUBJECT_KEY_ID = '2.5.29.14';
const AUTHORITY_KEY_ID = '2.5.29.35';
const SUBJECT_ALT_NAME = '2.5.29.17';
// RFC 5280 4.1.2.5: "no well-defined expiration date". Identity is the key, and a
// node's trust list (not a date) decides whether the key is still trusted.
const NO_EXPIRY = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));
// Peers' clocks drift; a certificate made a moment ago must already be valid for them.
const BACKDATE_MS = 60 * 60 * 1000;

const signAsync = promisify(sign);

/** What issueCertificate() needs. */
export interface CertificateRequest {
  /** PEM of the key being certified (public, or private: its public half is used). */
  subjectKeyPem: string;
  /** The subject's common name. */
  subjectName: string;
  /** PEM of the issuer's Ed25519 private key. */
  issuerPrivateKeyPem: string;
  /** The issuer's common name (equal to subjectName for a self-signed certificate). */
  issuerName: string;
  /** Whether the certificate may sign others (a CA). Default false. */
  ca?: boolean;
  /** DNS names and IP addresses the certificate is valid for (hostname verification with a CA). */
  altNames?: readonly string[];
}

/** A self-signed certificate (PEM) for the node's Ed25519 private key, named `subjectName`. */
export function createNodeCertificate(privateKeyPem: string, subjectName: string): Promise<string> {
  return issueCertificate({ subjectKeyPem: privateKeyPem, subjectName, issuerPrivateKeyPem: privateKeyPem, issuerName: subjectName });
}

/** A certificate (PEM) for `subjectKeyPem`, signed with the issuer's Ed25519 key; rejects bad input with ERR_VALIDATION. */
export async function issueCertificate(request: CertificateRequest): Promise<string> {
  const issuerKey = ed25519PrivateKey(request.issuerPrivateKeyPem);
  const subjectKey = publicKeyOf(request.subjectKeyPem);
  const subjectName = checkedName(request.subjectName, 'subjectName');
  const issuerName = checkedName(request.issuerName, 'issuerName');
  const spki = subjectKey.export({ type: 'spki', format: 'der' });
  const issuerSpki = createPublicKey(issuerKey).export({ type: 'spki', format: 'der' });
  const algorithm = sequence(oid(ED25519));
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(serialNumber()),
    algorithm,
    name(issuerName),
    sequence(time(new Date(Date.now() - BACKDATE_MS)), time(NO_EXPIRY)),
    name(subjectName),
    spki,
    explicit(3, sequence(...extensions(request, keyId(spki), keyId(issuerSpki)))),
  );
  const signature = await signAsync(null, tbs, issuerKey);
  const der = sequence(tbs, algorithm, bitString(signature));
  const base64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}

function extensions(request: CertificateRequest, subjectKeyId: Uint8Array, authorityKeyId: Uint8Array): Uint8Array[] {
  const ca = request.ca ?? false;
  // keyUsage is a named BIT STRING; DER drops trailing zero bits, hence the unused-bit counts.
  const keyUsage = ca ? Uint8Array.of(0x01, 0x06) /* keyCertSign, cRLSign */ : Uint8Array.of(0x07, 0x80); /* digitalSignature */
  const list = [
    extension(BASIC_CONSTRAINTS, true, ca ? sequence(boolean(true)) : sequence()),
    extension(KEY_USAGE, true, tlv(0x03, keyUsage)),
    extension(SUBJECT_KEY_ID, false, octetString(subjectKeyId)),
    extension(AUTHORITY_KEY_ID, false, sequence(tlv(0x80, authorityKeyId))),
  ];
  if (request.altNames && request.altNames.length > 0) {
    list.push(extension(SUBJECT_ALT_NAME, false, sequence(...request.altNames.map(generalName))));
  }
  return list;
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

/** dNSName [2] or iPAddress [7], both IMPLICIT. */
function generalName(altName: string): Uint8Array {
  const family = isIP(altName);
  if (family === 4) return tlv(0x87, Uint8Array.from(altName.split('.').map(Number)));
  if (family === 6) return tlv(0x87, ipv6Bytes(altName));
  if (!/^[A-Za-z0-9*]([A-Za-z0-9.-]{0,252})$/.test(altName)) {
    throw new CrmsyncError('ERR_VALIDATION', 'invalid certificate alt name', { details: [{ field: 'altNames', message: 'not a DNS name or IP address' }] });
  }
  return tlv(0x82, Buffer.from(altName, 'ascii'));
}

function ipv6Bytes(address: string): Uint8Array {
  const [head = '', tail] = address.split('::');
  const groups = (part: string | undefined): string[] => (part ? part.split(':') : []);
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => { bytes[i * 2] = parseInt(group, 16) >> 8; bytes[i * 2 + 1] = parseInt(group, 16) & 0xff; });
  return bytes;
}

/** A Name of one RDN holding the common name. */
function name(commonName: string): Uint8Array {
  return sequence(set(sequence(oid(COMMON_NAME), utf8String(commonName))));
}

/** 16 random bytes, positive (RFC 5280: at most 20 octets, unique per issuer). */
function serialNumber(): Uint8Array {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive and never trimmed to fewer bytes
  return serial;
}

/** A key identifier (RFC 5280 4.2.1.2 allows any unique value): SHA-1 of the SPKI; a name, not a security property. */
function keyId(spkiDer: Buffer): Uint8Array {
  return createHash('sha1').update(spkiDer).digest();
}

function ed25519PrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new CrmsyncError('ERR_VALIDATION', 'the signing key is not a valid private key PEM', { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new CrmsyncError('ERR_VALIDATION', `the signing key must be Ed25519, not ${String(key.asymmetricKeyType)}`);
  }
  return key;
}

function publicKeyOf(pem: string): KeyObject {
  try {
    return createPublicKey(pem); // accepts a private key PEM too and derives the public half
  } catch (err) {
    throw new CrmsyncError('ERR_VALIDATION', 'the certified key is not a valid key PEM', { cause: err });
  }
}

function checkedName(value: string, field: string): string {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes === 0 || bytes > MAX_CERTIFICATE_NAME_BYTES || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new CrmsyncError('ERR_VALIDATION', `invalid certificate ${field}`, {
      details: [{ field, message: `1 to ${MAX_CERTIFICATE_NAME_BYTES} bytes of UTF-8 without control characters` }],
    });
  }
  return value;
}
