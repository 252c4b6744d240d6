/**
 * The backup file format, version 2 (byte by byte in docs/backup-format.md). The
 * whole file is one gzip stream; inside it: a header frame (with the cluster's founder
 * and trust statements), block frames of signed change-log entries, and a trailer
 * frame. Every length is big-endian. This module only builds frames; backup-reader.ts
 * parses and checks them.
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
export const FORMAT_VERSION = 2;
/** The format of protocol-1 nodes (unsigned logs): recognised only to refuse it with a way out. */
export const UNSIGNED_FORMAT_VERSION = 1;
/** Frame kinds. */
export const BLOCK_KIND = 0x42; // 'B'
export const TRAILER_KIND = 0x54; // 'T'
/** Length of a SHA-256 digest. */
export const HASH_BYTES = 32;

/** Target payload size of one block (bytes); an entry larger than this gets a block of its own. Bounds writer memory. */
export const BLOCK_TARGET_BYTES = 1024 * 1024;
/** Largest block payload a reader accepts (bytes). Protects reader memory from a corrupt length. */
export const MAX_BLOCK_BYTES = 64 * 1024 * 1024;
/** Largest header a reader accepts (bytes): room for a full trust list (10,000 statements). Protects reader memory. */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;
/**
 * Most change bytes between two boundaries (entries after which a batch may end). A
 * restore batch ends only at a boundary, so this bounds restore memory; a node's log
 * has one at least every signEveryEntries (64) of its own entries and after every frame.
 */
export const MAX_UNBOUNDED_BYTES = 256 * 1024 * 1024;
/** Most trust statements a header may carry: a trust list's default maximum. */
export const MAX_HEADER_STATEMENTS = 10_000;

/** What the header says about the backup. */
export interface BackupHeader {
  /** Node the backup was taken from. */
  nodeId: string;
  /** When the backup started (ms since epoch). */
  createdAt: number;
  /** Fingerprint of the cluster founder's key: the cluster the entries belong to. */
  founder: string;
  /** The node's signed trust statements at the start (they name every origin of the file). */
  trust: unknown[];
  /** The node's clock (last seq per origin) at the start: exactly what the file holds. */
  clock: Record<string, number>;
  /** localSeq of the newest entry included: the node's lastLocalSeq at the start. */
  lastLocalSeq: number;
}

/** A statement as the header holds it: a map naming its operation and node (the node verifies the rest). */
const statementShape = z.looseObject({ op: z.string(), node: z.string() });

const headerSchema = z.object({
  nodeId: z.string().min(1).max(63),
  createdAt: z.number().int().min(0),
  founder: z.string().regex(/^ed25519:[A-Za-z0-9_-]{43}$/, 'not a key fingerprint'),
  trust: z.array(statementShape).max(MAX_HEADER_STATEMENTS),
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
  // Never write a file no reader takes (a node's trust list may be configured larger
  // than a header holds): say so before the first byte.
  if (header.trust.length > MAX_HEADER_STATEMENTS) {
    throw new CrmsyncError('ERR_VALIDATION', `the node holds ${header.trust.length} trust statements, more than the ${MAX_HEADER_STATEMENTS} a backup header holds`);
  }
  const body = Buffer.from(encodeValue(header));
  if (body.length > MAX_HEADER_BYTES) {
    throw new CrmsyncError('ERR_VALIDATION', `the backup header (${header.trust.length} trust statements) takes ${body.length} bytes, more than the ${MAX_HEADER_BYTES} a reader accepts`);
  }
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
