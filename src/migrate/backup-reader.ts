/**
 * Reading a backup file: decompresses it as a stream and yields its frames one at a
 * time, checking every hash, count and order rule on the way. Any problem, including
 * a truncated file or a gzip error, is an ERR_CORRUPT naming where it was found.
 * Reads format versions 2 and 3 (3: record documents and floors before the entries).
 */
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { CrmsyncError } from '../index.js';
import { ByteReader, checkGzipHeader, corrupt, need, type BackupBytes } from './backup-bytes.js';
import { decodeDocuments, decodeFloors, type BackupDocument, type BackupFloors } from './backup-document.js';
import { decodeEntries, type BackupEntry } from './backup-entry.js';
import {
  BLOCK_KIND, ChainDigest, DOCUMENTS_FORMAT_VERSION, DOCUMENTS_KIND, END_MAGIC, FLOORS_KIND, FORMAT_VERSION, HASH_BYTES, MAGIC, MAX_BLOCK_BYTES,
  MAX_HEADER_BYTES, MAX_UNBOUNDED_BYTES, TRAILER_KIND, UNSIGNED_FORMAT_VERSION, parseHeader, sha256, trailerLength, type BackupHeader, type FormatVersion,
} from './backup-format.js';

export type { BackupBytes };

/** One parsed, checked frame of a backup. */
export type BackupFrame =
  | { kind: 'header'; header: BackupHeader; version: FormatVersion }
  /** Version 3: a block of whole record documents, in record id order. */
  | { kind: 'documents'; index: number; documents: BackupDocument[] }
  /** Version 3: where each origin's entries in the file start (after the documents, before the entries). */
  | { kind: 'floors'; floors: BackupFloors }
  | { kind: 'block'; index: number; entries: BackupEntry[] }
  | { kind: 'trailer'; entries: number; blocks: number; documents: number; documentBlocks: number };

/**
 * Parses a backup from its compressed bytes, yielding frames as they are checked:
 * the header (every origin of its clock named by its trust statements); in version 3
 * the document blocks (hash verified, documents well-formed, ids increasing) and the
 * floors frame (each at most the header's clock); each block (hash verified, entries
 * decoded and validated, origin sequences contiguous from the floor or 1, source log
 * order increasing, boundaries close enough), then the trailer (counts and chain digest
 * verified, end of stream reached, final clock equal to the header's, the last entry a
 * boundary). Signatures are the node's to check, as for a peer's entries.
 */
export async function* readBackup(compressed: BackupBytes): AsyncGenerator<BackupFrame> {
  const gunzip = createGunzip();
  const input = Readable.from(checkGzipHeader(compressed));
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  const reader = new ByteReader(gunzip[Symbol.asyncIterator]());
  try {
    const { header, hash, version } = await readHeader(reader);
    yield { kind: 'header', header, version };
    const state: ReadState = {
      header, chain: new ChainDigest(), seen: new Map(), lastLocalSeq: 0, entries: 0, blocks: 0, unbounded: 0, endsAtBoundary: true,
      phase: version === DOCUMENTS_FORMAT_VERSION ? 'documents' : 'entries', documents: 0, documentBlocks: 0, lastDocument: undefined,
    };
    state.chain.add(hash);
    for (;;) {
      const kind = (await need(reader, 1, 'a block or the trailer'))[0]!;
      const at = reader.offset - 1;
      if (kind === TRAILER_KIND) {
        if (state.phase === 'documents') throw corrupt(`the trailer at byte ${at} comes before the floors frame (a backup of format version 3 has one)`);
        break;
      }
      if (version === DOCUMENTS_FORMAT_VERSION && kind === DOCUMENTS_KIND) {
        if (state.phase !== 'documents') throw corrupt(`a document block at byte ${at} follows the floors frame (documents come first)`);
        const documents = await readDocuments(reader, state);
        yield { kind: 'documents', index: state.documentBlocks - 1, documents };
      } else if (version === DOCUMENTS_FORMAT_VERSION && kind === FLOORS_KIND) {
        if (state.phase !== 'documents') throw corrupt(`a second floors frame at byte ${at}`);
        yield { kind: 'floors', floors: await readFloors(reader, state) };
      } else if (kind === BLOCK_KIND) {
        if (state.phase !== 'entries') throw corrupt(`an entry block at byte ${at} comes before the floors frame`);
        const entries = await readBlock(reader, state);
        yield { kind: 'block', index: state.blocks - 1, entries };
      } else {
        throw corrupt(`unexpected frame kind 0x${kind.toString(16)} at byte ${at}`);
      }
    }
    await checkTrailer(reader, state, version);
    yield { kind: 'trailer', entries: state.entries, blocks: state.blocks, documents: state.documents, documentBlocks: state.documentBlocks };
  } finally {
    input.unpipe(gunzip);
    gunzip.destroy();
    if (compressed instanceof Readable) compressed.destroy();
  }
}

/** What the checks carry from frame to frame. */
interface ReadState {
  header: BackupHeader;
  chain: ChainDigest;
  /** Last seq seen per origin (its floor before its first entry). */
  seen: Map<string, number>;
  lastLocalSeq: number;
  entries: number;
  blocks: number;
  /** Change bytes since the last boundary. */
  unbounded: number;
  /** The last entry read is a boundary (true before any entry). */
  endsAtBoundary: boolean;
  /** Version 3 reads documents until its floors frame; version 2 starts with entries. */
  phase: 'documents' | 'entries';
  documents: number;
  documentBlocks: number;
  /** Id of the last document read: ids strictly increase. */
  lastDocument: string | undefined;
}

/** Reads the length, count and hash of a frame after its kind byte, then its payload; checks the hash and adds it to the digest. */
async function readPayload(reader: ByteReader, state: ReadState, what: string): Promise<{ payload: Buffer; count: number }> {
  const meta = await need(reader, 8 + HASH_BYTES, what);
  const length = meta.readUInt32BE(0);
  const count = meta.readUInt32BE(4);
  if (length > MAX_BLOCK_BYTES) throw corrupt(`${what} claims ${length} bytes (more than ${MAX_BLOCK_BYTES})`);
  const payload = await need(reader, length, what);
  const hash = meta.subarray(8);
  if (!sha256(payload).equals(hash)) throw corrupt(`${what} fails its SHA-256 check`);
  state.chain.add(hash);
  return { payload, count };
}

/** Reads one entry block frame after its kind byte; checks its hash, entries and their order. */
async function readBlock(reader: ByteReader, state: ReadState): Promise<BackupEntry[]> {
  const index = state.blocks;
  const { payload, count } = await readPayload(reader, state, `block ${index}`);
  const decoded = decodeEntries(payload, index);
  if (decoded.length !== count) throw corrupt(`block ${index} holds ${decoded.length} entries, its header says ${count}`);
  for (const { entry, localSeq, boundary } of decoded) {
    const held = state.seen.get(entry.origin) ?? 0;
    if (entry.seq !== held + 1) throw corrupt(`entry ${state.entries} of origin ${entry.origin} has seq ${entry.seq}, expected ${held + 1}`);
    if (localSeq <= state.lastLocalSeq || localSeq > state.header.lastLocalSeq) throw corrupt(`entry ${state.entries} is out of log order`);
    state.unbounded = boundary ? 0 : state.unbounded + entry.change.length;
    if (state.unbounded > MAX_UNBOUNDED_BYTES) throw corrupt(`entries up to entry ${state.entries} run more than ${MAX_UNBOUNDED_BYTES} bytes without a boundary`);
    state.seen.set(entry.origin, entry.seq);
    state.lastLocalSeq = localSeq;
    state.endsAtBoundary = boundary;
    state.entries++;
  }
  state.blocks++;
  return decoded;
}

/** Reads one document block after its kind byte: hash, count, well-formed documents in increasing id order. */
async function readDocuments(reader: ByteReader, state: ReadState): Promise<BackupDocument[]> {
  const index = state.documentBlocks;
  const { payload, count } = await readPayload(reader, state, `document block ${index}`);
  const documents = decodeDocuments(payload, index);
  if (documents.length !== count) throw corrupt(`document block ${index} holds ${documents.length} documents, its header says ${count}`);
  for (const { id } of documents) {
    // Ids are ASCII (parseRecordId), so string order is the node's key order.
    if (state.lastDocument !== undefined && id <= state.lastDocument) throw corrupt(`document ${state.documents} (record ${id}) is out of id order`);
    state.lastDocument = id;
    state.documents++;
  }
  state.documentBlocks++;
  return documents;
}

/**
 * Reads the floors frame after its kind byte. Each floor is where its origin's entries
 * in the file start: the last seq the documents stand for, at most the header's clock;
 * entries follow from the log start on.
 */
async function readFloors(reader: ByteReader, state: ReadState): Promise<BackupFloors> {
  const { payload, count } = await readPayload(reader, state, 'the floors frame');
  if (count !== 1) throw corrupt(`the floors frame says it holds ${count} items, it holds one`);
  const floors = decodeFloors(payload);
  const { clock, lastLocalSeq } = state.header;
  for (const floor of floors.floors) {
    if (floor.seq > (clock[floor.origin] ?? 0)) throw corrupt(`the floor of origin ${floor.origin} is seq ${floor.seq}, above the header's clock (${clock[floor.origin] ?? 0})`);
    state.seen.set(floor.origin, floor.seq);
  }
  if (floors.logStart > lastLocalSeq + 1) throw corrupt(`the floors frame starts the log at ${floors.logStart}, after the header's lastLocalSeq ${lastLocalSeq}`);
  state.lastLocalSeq = floors.logStart - 1;
  state.phase = 'entries';
  return floors;
}

/** Reads the trailer after its kind byte and checks it against everything read. */
async function checkTrailer(reader: ByteReader, state: ReadState, version: FormatVersion): Promise<void> {
  const trailer = await need(reader, trailerLength(version), 'the trailer');
  const claimedEntries = Number(trailer.readBigUInt64BE(0));
  const claimedBlocks = trailer.readUInt32BE(8);
  if (claimedEntries !== state.entries || claimedBlocks !== state.blocks) {
    throw corrupt(`the trailer counts ${claimedEntries} entries in ${claimedBlocks} blocks, the file holds ${state.entries} in ${state.blocks}`);
  }
  let at = 12;
  if (version === DOCUMENTS_FORMAT_VERSION) {
    const claimedDocuments = Number(trailer.readBigUInt64BE(at));
    const claimedDocumentBlocks = trailer.readUInt32BE(at + 8);
    if (claimedDocuments !== state.documents || claimedDocumentBlocks !== state.documentBlocks) {
      throw corrupt(`the trailer counts ${claimedDocuments} documents in ${claimedDocumentBlocks} blocks, the file holds ${state.documents} in ${state.documentBlocks}`);
    }
    at += 12;
  }
  if (!state.chain.digest().equals(trailer.subarray(at, at + HASH_BYTES))) throw corrupt('the trailer digest over the block hashes does not match');
  if (!trailer.subarray(at + HASH_BYTES).equals(END_MAGIC)) throw corrupt('the end marker is missing');
  if (!(await reader.atEnd())) throw corrupt('bytes follow the trailer');
  checkClock(state.header, state.seen);
  // Every commit of a node ends at a boundary, so its log always does: a restore's last batch ends there.
  if (!state.endsAtBoundary) throw corrupt('the last entry is not a boundary (a log always ends at one)');
}

async function readHeader(reader: ByteReader): Promise<{ header: BackupHeader; hash: Buffer; version: FormatVersion }> {
  const start = await reader.read(MAGIC.length + 6);
  if (!start || !start.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt('it is not a crmsync backup (wrong magic bytes)');
  const version = start.readUInt16BE(MAGIC.length);
  if (version === UNSIGNED_FORMAT_VERSION) {
    throw new CrmsyncError('ERR_VALIDATION', 'this is a backup of format version 1, written by a crmsync of protocol 1, whose change logs are unsigned: '
      + 'it cannot be restored into a node of protocol 2. Export its records with the crmsync version that wrote it (restore it there, then crmsync export --format ndjson) '
      + 'and import them into a node of your cluster (crmsync import); see docs/backup-format.md');
  }
  // The version bytes sit outside the header hash: an unknown value is a newer writer or
  // damage, and the reader cannot tell which, so the message names both.
  if (version !== FORMAT_VERSION && version !== DOCUMENTS_FORMAT_VERSION) {
    throw corrupt(`format version ${version} is not supported (this crmsync reads versions ${FORMAT_VERSION} and ${DOCUMENTS_FORMAT_VERSION}): the file is damaged, or a newer crmsync wrote it`);
  }
  const length = start.readUInt32BE(MAGIC.length + 2);
  if (length > MAX_HEADER_BYTES) throw corrupt(`the header claims ${length} bytes`);
  const body = await need(reader, length + HASH_BYTES, 'the header');
  const hash = body.subarray(length);
  if (!sha256(body.subarray(0, length)).equals(hash)) throw corrupt('the header fails its SHA-256 check');
  const header = parseHeader(body.subarray(0, length));
  checkOrigins(header);
  return { header, hash, version };
}

/**
 * A node takes entries only of origins its trust list knows, so a backup's statements
 * grant every origin its clock names. (The node verifies the statements themselves.)
 */
function checkOrigins(header: BackupHeader): void {
  const granted = new Set(header.trust.map((s) => s as { op: string; node: string }).filter((s) => s.op === 'grant').map((s) => s.node));
  const unknown = Object.keys(header.clock).find((origin) => !granted.has(origin));
  if (unknown !== undefined) throw corrupt(`the header's trust statements grant no key to origin ${unknown}, whose entries it holds`);
}

/** The entries (after the floors) must be exactly those the header's clock counts. */
function checkClock(header: BackupHeader, seen: Map<string, number>): void {
  const origins = new Set([...Object.keys(header.clock), ...seen.keys()]);
  for (const origin of origins) {
    if ((header.clock[origin] ?? 0) !== (seen.get(origin) ?? 0)) {
      throw corrupt(`the header clock says origin ${origin} has ${header.clock[origin] ?? 0} entries, the file holds ${seen.get(origin) ?? 0}`);
    }
  }
}

/** Summary of a verified backup. */
export interface BackupSummary {
  header: BackupHeader;
  version: FormatVersion;
  entries: number;
  blocks: number;
  /** Version 3: record documents and their blocks (0 in version 2). */
  documents: number;
  documentBlocks: number;
  /** Version 3: the floors (at most one per origin the header grants; undefined in version 2). */
  floors: BackupFloors | undefined;
}

/** Reads a whole backup, checking everything, without applying it. */
export async function verifyBackup(compressed: BackupBytes): Promise<BackupSummary> {
  let header: BackupHeader | undefined;
  let version: FormatVersion = FORMAT_VERSION;
  let floors: BackupFloors | undefined;
  for await (const frame of readBackup(compressed)) {
    if (frame.kind === 'header') ({ header, version } = frame);
    if (frame.kind === 'floors') floors = frame.floors;
    if (frame.kind === 'trailer') return { header: header!, version, entries: frame.entries, blocks: frame.blocks, documents: frame.documents, documentBlocks: frame.documentBlocks, floors };
  }
  throw corrupt('no trailer');
}
