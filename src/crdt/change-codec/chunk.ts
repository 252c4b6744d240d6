/**
 * The chunk envelope: magic bytes, checksum, chunk type, body length. A change's hash is
 * SHA-256 over `type ‖ uleb(length) ‖ body` of its uncompressed (type 1) form, and the
 * checksum is that hash's first 4 bytes. A compressed change (type 2, which Automerge 3
 * writes for changes over 256 bytes in `getCommits`/`bundleFragmentMetadata`) carries
 * the raw-deflated body and the checksum of its uncompressed form.
 */
import { hash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { bad, bufferOf, ByteReader, type SliceBuffer } from './reader.js';
import { ByteWriter } from './writer.js';

/** The 4 magic bytes that start every Automerge chunk. */
const MAGIC = Uint8Array.of(0x85, 0x6f, 0x4a, 0x83);
/** Chunk type of a plain change. */
const CHANGE_CHUNK = 1;
/** Chunk type of a deflate-compressed change. */
const COMPRESSED_CHUNK = 2;
const CHECKSUM_AT = 4;
const TYPE_AT = 8;

/** A verified change body and its identity. */
export interface ChangeBody {
  /** The (uncompressed) body bytes. */
  body: SliceBuffer;
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
  const buf = bufferOf(bytes);
  const r = new ByteReader(buf, TYPE_AT + 1, bytes.length);
  const length = r.uleb('chunk length');
  // The length must describe exactly the bytes present: no truncation, no trailing data.
  if (length !== bytes.length - r.pos) throw bad(`chunk length ${length} does not match the ${bytes.length - r.pos} body bytes`);
  if (type === CHANGE_CHUNK) {
    const digest = sha256Hex(buf.subarray(TYPE_AT));
    checkChecksum(bytes, digest);
    return { body: buf.subarray(r.pos) as SliceBuffer, hash: digest, chunkType: 1 };
  }
  const body = inflate(bytes.subarray(r.pos), maxInflatedBytes);
  const prefix = lengthPrefix(body.length);
  const whole = Buffer.allocUnsafe(prefix.length + body.length);
  whole.set(prefix);
  whole.set(body, prefix.length);
  const digest = sha256Hex(whole);
  checkChecksum(bytes, digest);
  return { body: whole.subarray(prefix.length) as SliceBuffer, hash: digest, chunkType: 2 };
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

/**
 * Wraps a body (header fields, then column data) into a type-1 chunk, computing its
 * checksum; with the change's hash, of which the checksum is the first 4 bytes.
 */
export function sealChunk(head: Uint8Array, data: Uint8Array): { chunk: Uint8Array; hash: string } {
  const length = head.length + data.length;
  const prefix = lengthPrefix(length);
  const out = new Uint8Array(8 + prefix.length + length);
  out.set(MAGIC, 0);
  out.set(prefix, TYPE_AT);
  out.set(head, TYPE_AT + prefix.length);
  out.set(data, TYPE_AT + prefix.length + head.length);
  // The checksum is the hash's first 4 bytes ('hex' output: 'buffer' costs an encoding lookup).
  const hash = sha256Hex(out.subarray(TYPE_AT));
  const checksum = parseInt(hash.slice(0, 8), 16);
  out[CHECKSUM_AT] = checksum >>> 24;
  out[CHECKSUM_AT + 1] = (checksum >>> 16) & 0xff;
  out[CHECKSUM_AT + 2] = (checksum >>> 8) & 0xff;
  out[CHECKSUM_AT + 3] = checksum & 0xff;
  return { chunk: out, hash };
}
