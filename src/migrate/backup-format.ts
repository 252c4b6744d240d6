/**
 * The backup file format, version 1 (byte by byte in docs/backup-format.md). The
 * whole file is one gzip stream; inside it: a header frame, block frames of
 * change-log entries, and a trailer frame. Every length is big-endian. This module
 * only builds frames; backup-reader.ts parses and checks them.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CrmsyncError } from '../index.js';
import { decodeValue, encodeValue } from './backup-entry.js';

/** First 8 bytes of the decompressed stream. */
export const MAGIC = Buffer.from('CRMSYNCB', 'latin1');
/** Last 8 bytes of the decompressed stream. */
export const END_MAGIC = Buffer.from('CRMSYNCE', 'latin1');
/** The format version this code writes and reads. */
export const FORMAT_VERSION = 1;
/** Frame kinds. */
export const BLOCK_KIND = 0x42; // 'B'
export const TRAILER_KIND = 0x54; // 'T'
/** Length of a SHA-256 digest. */
export const HASH_BYTES = 32;

/** Target payload size of one block (bytes); an entry larger than this gets a block of its own. Bounds writer memory. */
export const BLOCK_TARGET_BYTES = 1024 * 1024;
/** Largest block payload a reader accepts (bytes). Protects reader memory from a corrupt length. */
export const MAX_BLOCK_BYTES = 64 * 1024 * 1024;
/** Largest header a reader accepts (bytes). */
export const MAX_HEADER_BYTES = 1024 * 1024;

/** What the header says about the backup. */
export interface BackupHeader {
  /** Node the backup was taken from. */
  nodeId: string;
  /** When the backup started (ms since epoch). */
  createdAt: number;
  /** The node's clock (last seq per origin) at the start: exactly what the file holds. */
  clock: Record<string, number>;
  /** localSeq of the newest entry included: the node's lastLocalSeq at the start. */
  lastLocalSeq: number;
}

const headerSchema = z.object({
  nodeId: z.string().min(1).max(63),
  createdAt: z.number().int().min(0),
  clock: z.record(z.string().min(1).max(63), z.number().int().min(1)),
  lastLocalSeq: z.number().int().min(0),
});

/** SHA-256 of some bytes. */
export function sha256(...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** Magic, version, header length, header (MessagePack), SHA-256 of the header bytes. */
export function headerFrame(header: BackupHeader): { bytes: Buffer; hash: Buffer } {
  const body = Buffer.from(encodeValue(header));
  const hash = sha256(body);
  return { bytes: Buffer.concat([MAGIC, u16(FORMAT_VERSION), u32(body.length), body, hash]), hash };
}

/** 'B', payload length, entry count, SHA-256 of the payload, payload (concatenated entries). */
export function blockFrame(entries: Uint8Array[]): { bytes: Buffer; hash: Buffer } {
  const payload = Buffer.concat(entries);
  const hash = sha256(payload);
  return { bytes: Buffer.concat([Buffer.of(BLOCK_KIND), u32(payload.length), u32(entries.length), hash, payload]), hash };
}

/** 'T', entry count (u64), block count (u32), digest over the header and block hashes, end magic. */
export function trailerFrame(entries: number, blocks: number, digest: Buffer): Buffer {
  const count = Buffer.alloc(8);
  count.writeBigUInt64BE(BigInt(entries));
  return Buffer.concat([Buffer.of(TRAILER_KIND), count, u32(blocks), digest, END_MAGIC]);
}

/** Parses and validates a header body. */
export function parseHeader(body: Uint8Array): BackupHeader {
  let value: unknown;
  try {
    value = decodeValue(body);
  } catch (cause) {
    throw new CrmsyncError('ERR_CORRUPT', 'backup header is not valid MessagePack', { cause });
  }
  const parsed = headerSchema.safeParse(value);
  if (!parsed.success) throw new CrmsyncError('ERR_CORRUPT', `backup header is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/**
 * The running digest of the trailer: SHA-256 over the header hash followed by every
 * block hash in file order, so dropping, repeating or reordering a block is detected.
 */
export class ChainDigest {
  private readonly hash = createHash('sha256');

  add(frameHash: Uint8Array): void {
    this.hash.update(frameHash);
  }

  digest(): Buffer {
    return this.hash.digest();
  }
}
