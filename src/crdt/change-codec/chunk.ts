/**
 * The chunk envelope: magic bytes, checksum, chunk type, body length. A change's hash is
 * SHA-256 over `type ‖ uleb(length) ‖ body` of its uncompressed (type 1) form, and the
 * checksum is that hash's first 4 bytes. A compressed change (type 2, which Automerge 3
 * writes for changes over 256 bytes in `getCommits`/`bundleFragmentMetadata`) carries
 * the raw-deflated body and the checksum of its uncompressed form.
 */
import { hash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { bad, ByteReader, ByteWriter } from './leb.js';

/** The 4 magic bytes that start every Automerge chunk. */
export const MAGIC = Uint8Array.of(0x85, 0x6f, 0x4a, 0x83);
/** Chunk type of a plain change. */
export const CHANGE_CHUNK = 1;
/** Chunk type of a deflate-compressed change. */
export const COMPRESSED_CHUNK = 2;
const CHECKSUM_AT = 4;
const TYPE_AT = 8;

/** A verified change body and its identity. */
export interface ChangeBody {
  /** The (uncompressed) body bytes. */
  body: Uint8Array;
  /** Hex SHA-256 of the uncompressed chunk. */
  hash: string;
  chunkType: 1 | 2;
}

/** Checks the envelope (magic, type, length, checksum) and returns the body; inflates type 2. */
export function openChunk(bytes: Uint8Array, maxInflatedBytes: number): ChangeBody {
  if (!(bytes instanceof Uint8Array)) throw bad('not a byte array');
  if (bytes.length < TYPE_AT + 2) throw bad('shorter than a chunk header');
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) throw bad('bad magic bytes');
  const type = bytes[TYPE_AT]!;
  if (type !== CHANGE_CHUNK && type !== COMPRESSED_CHUNK) throw bad(`chunk type ${type} is not a change`);
  const r = new ByteReader(bytes, TYPE_AT + 1, bytes.length);
  const length = r.uleb('chunk length');
  // The length must describe exactly the bytes present: no truncation, no trailing data.
  if (length !== bytes.length - r.pos) throw bad(`chunk length ${length} does not match the ${bytes.length - r.pos} body bytes`);
  if (type === CHANGE_CHUNK) {
    const digest = sha256Hex(bytes.subarray(TYPE_AT));
    checkChecksum(bytes, digest);
    return { body: bytes.subarray(r.pos), hash: digest, chunkType: 1 };
  }
  const body = inflate(bytes.subarray(r.pos), maxInflatedBytes);
  const prefix = lengthPrefix(body.length);
  const whole = new Uint8Array(prefix.length + body.length);
  whole.set(prefix);
  whole.set(body, prefix.length);
  const digest = sha256Hex(whole);
  checkChecksum(bytes, digest);
  return { body: whole.subarray(prefix.length), hash: digest, chunkType: 2 };
}

/** Hex SHA-256 (the one-shot `crypto.hash` is several times faster than createHash for small inputs). */
function sha256Hex(data: Uint8Array): string {
  return hash('sha256', data, 'hex');
}

/** The checksum is the first 4 bytes of the hash, i.e. its first 8 hex digits. */
function checkChecksum(bytes: Uint8Array, digest: string): void {
  const expected = ((bytes[CHECKSUM_AT]! << 24) | (bytes[CHECKSUM_AT + 1]! << 16) | (bytes[CHECKSUM_AT + 2]! << 8) | bytes[CHECKSUM_AT + 3]!) >>> 0;
  if (parseInt(digest.slice(0, 8), 16) !== expected) throw bad('checksum mismatch');
}

function inflate(deflated: Uint8Array, maxInflatedBytes: number): Uint8Array {
  let result: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    // maxOutputLength stops a deflate bomb before it allocates.
    result = inflateRawSync(deflated, { info: true, maxOutputLength: maxInflatedBytes }) as unknown as typeof result;
  } catch (err) {
    throw bad(`compressed body does not inflate: ${(err as { code?: string }).code ?? 'error'}`);
  }
  // Data after the end of the deflate stream would be ignored by zlib; refuse it instead.
  if (result.engine.bytesWritten !== deflated.length) throw bad('data after the compressed body');
  return new Uint8Array(result.buffer.buffer, result.buffer.byteOffset, result.buffer.length);
}

/** `type 1 ‖ uleb(length)`: what precedes a change body in its hash input. */
function lengthPrefix(length: number): Uint8Array {
  const w = new ByteWriter(10);
  w.byte(CHANGE_CHUNK);
  w.uleb(length);
  return w.view();
}

/** Wraps body parts into a type-1 chunk, computing its checksum. */
export function sealChunk(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const prefix = lengthPrefix(length);
  const out = new Uint8Array(8 + prefix.length + length);
  out.set(MAGIC, 0);
  out.set(prefix, TYPE_AT);
  let at = TYPE_AT + prefix.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  const digest = hash('sha256', out.subarray(TYPE_AT), 'buffer');
  out.set(digest.subarray(0, 4), CHECKSUM_AT);
  return out;
}
