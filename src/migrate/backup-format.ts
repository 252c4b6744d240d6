/**
 * The backup file format, versions 2 and 3 (byte by byte in docs/backup-format.md).
 * The whole file is one gzip stream; inside it: a header frame (with the cluster's
 * founder and trust statements), block frames of signed change-log entries, and a
 * trailer frame. Version 3 is the backup of a truncated log: between the header and the
 * entry blocks it holds document blocks (every record's whole document) and one floors
 * frame (where each origin's entries in the file start), and its trailer also counts the
 * documents. Every length is big-endian. This module only builds frames;
 * backup-reader.ts parses and checks them.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CrmsyncError } from '../index.js';
import { decodeValue, encodeValue } from './backup-entry.js';

/** First 8 bytes of the decompressed stream. */
export const MAGIC = Buffer.from('CRMSYNCB', 'latin1');
/** Last 8 bytes of the decompressed stream. */
export const END_MAGIC = Buffer.from('CRMSYNCE', 'latin1');
/** The format of a backup of a log that was never truncated (entries from every origin's seq 1). */
export const FORMAT_VERSION = 2;
/** The format of a backup of a truncated log: record documents and floors before the entries. */
export const DOCUMENTS_FORMAT_VERSION = 3;
/** The format versions this code writes and reads. */
export type FormatVersion = typeof FORMAT_VERSION | typeof DOCUMENTS_FORMAT_VERSION;
/** The format of protocol-1 nodes (unsigned logs): recognised only to refuse it with a way out. */
export const UNSIGNED_FORMAT_VERSION = 1;
/** Frame kinds. */
export const BLOCK_KIND = 0x42; // 'B'
export const TRAILER_KIND = 0x54; // 'T'
/** Version 3 only: a block of record documents, and the floors frame. */
export const DOCUMENTS_KIND = 0x44; // 'D'
export const FLOORS_KIND = 0x46; // 'F'
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
/**
 * Most floors a floors frame may carry: one per origin, and every origin needs a grant
 * among the header's statements. Bounds reader memory (a floor is about 200 bytes).
 */
export const MAX_FLOORS = MAX_HEADER_STATEMENTS;

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
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

/** Magic, version, header length, header (MessagePack), SHA-256 of the header bytes. */
export function headerFrame(header: BackupHeader, version: FormatVersion = FORMAT_VERSION): { bytes: Buffer; hash: Buffer } {
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
  return { bytes: Buffer.concat([MAGIC, u16(version), u32(body.length), body, hash]), hash };
}

/**
 * A frame of `kind`: payload length, item count, SHA-256 of the payload, payload (the
 * items concatenated). Entry blocks ('B'), document blocks ('D') and the floors frame
 * ('F', one item) share this layout.
 */
export function payloadFrame(kind: number, items: Uint8Array[]): { bytes: Buffer; hash: Buffer } {
  const payload = Buffer.concat(items);
  const hash = sha256(payload);
  return { bytes: Buffer.concat([Buffer.of(kind), u32(payload.length), u32(items.length), hash, payload]), hash };
}

/** 'B', payload length, entry count, SHA-256 of the payload, payload (concatenated entries). */
export function blockFrame(entries: Uint8Array[]): { bytes: Buffer; hash: Buffer } {
  return payloadFrame(BLOCK_KIND, entries);
}

/** What a trailer counts. Version 3 adds the documents and their blocks. */
export interface TrailerCounts {
  entries: number;
  blocks: number;
  documents?: number;
  documentBlocks?: number;
}

/**
 * 'T', entry count (u64), block count (u32), in version 3 document count (u64) and
 * document block count (u32), digest over the header and frame hashes, end magic.
 */
export function trailerFrame(counts: TrailerCounts, digest: Buffer, version: FormatVersion = FORMAT_VERSION): Buffer {
  const parts = [Buffer.of(TRAILER_KIND), u64(counts.entries), u32(counts.blocks)];
  if (version === DOCUMENTS_FORMAT_VERSION) parts.push(u64(counts.documents ?? 0), u32(counts.documentBlocks ?? 0));
  return Buffer.concat([...parts, digest, END_MAGIC]);
}

/** Bytes of a trailer after its kind byte. */
export function trailerLength(version: FormatVersion): number {
  return 8 + 4 + (version === DOCUMENTS_FORMAT_VERSION ? 8 + 4 : 0) + HASH_BYTES + END_MAGIC.length;
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
 * block hash (document blocks and the floors frame too, in version 3) in file order, so
 * dropping, repeating or reordering a frame is detected.
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
