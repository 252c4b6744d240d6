/**
 * Reads the hash and dependencies of an Automerge change chunk without decoding it.
 * A change's hash is SHA-256 over its chunk (type, length, body); the body starts with
 * the dependency hashes. This lets a receiver verify what a peer claims about a
 * change (hash, deps) for ~2 µs instead of a ~70 µs decodeChange.
 */
import { createHash } from 'node:crypto';
import { CrmsyncError } from '../errors.js';

const MAGIC = [0x85, 0x6f, 0x4a, 0x83];
const CHANGE_CHUNK = 1;
const HEADER_BYTES = 8; // magic (4) + checksum (4)
const HASH_BYTES = 32;

/** Hash and dependency hashes (hex) of one change. */
export interface ChangeHeader {
  hash: string;
  deps: string[];
}

function bad(reason: string): CrmsyncError {
  return new CrmsyncError('ERR_PROTOCOL', `malformed Automerge change: ${reason}`);
}

function readUleb(bytes: Uint8Array, offset: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  for (let i = offset; i < bytes.length && shift < 35; i++) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [value, i + 1];
  }
  throw bad('truncated length');
}

/** Parses and verifies a change chunk's header; throws ERR_PROTOCOL if it is not one. */
export function readChangeHeader(bytes: Uint8Array): ChangeHeader {
  if (bytes.length < HEADER_BYTES + 2) throw bad('too short');
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) throw bad('bad magic bytes');
  if (bytes[HEADER_BYTES] !== CHANGE_CHUNK) throw bad('not an uncompressed change chunk');
  const [bodyLength, bodyStart] = readUleb(bytes, HEADER_BYTES + 1);
  if (bodyStart + bodyLength !== bytes.length) throw bad('length does not match');
  const digest = createHash('sha256').update(bytes.subarray(HEADER_BYTES)).digest();
  for (let i = 0; i < 4; i++) if (digest[i] !== bytes[4 + i]) throw bad('checksum mismatch');
  const [depCount, depsStart] = readUleb(bytes, bodyStart);
  if (depsStart + depCount * HASH_BYTES > bytes.length) throw bad('truncated dependencies');
  const deps: string[] = [];
  for (let i = 0; i < depCount; i++) {
    const at = depsStart + i * HASH_BYTES;
    deps.push(Buffer.from(bytes.buffer, bytes.byteOffset + at, HASH_BYTES).toString('hex'));
  }
  return { hash: digest.toString('hex'), deps };
}
