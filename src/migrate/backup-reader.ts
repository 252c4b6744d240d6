/**
 * Reading a backup file: decompresses it as a stream and yields its frames one at a
 * time, checking every hash, count and order rule on the way. Any problem, including
 * a truncated file or a gzip error, is an ERR_CORRUPT naming where it was found.
 */
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { CrmsyncError } from '../index.js';
import { decodeEntries, type BackupEntry } from './backup-entry.js';
import {
  BLOCK_KIND, ChainDigest, END_MAGIC, FORMAT_VERSION, HASH_BYTES, MAGIC, MAX_BLOCK_BYTES, MAX_HEADER_BYTES, MAX_UNBOUNDED_BYTES,
  TRAILER_KIND, UNSIGNED_FORMAT_VERSION, parseHeader, sha256, type BackupHeader,
} from './backup-format.js';

/** The compressed bytes of a backup: a file stream, or chunks in memory. */
export type BackupBytes = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Readable;

/** One parsed, checked frame of a backup. */
export type BackupFrame =
  | { kind: 'header'; header: BackupHeader }
  | { kind: 'block'; index: number; entries: BackupEntry[] }
  | { kind: 'trailer'; entries: number; blocks: number };

/** The first 8 bytes of every gzip stream crmsync writes. */
const GZIP_FIXED = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00]);

const corrupt = (message: string, cause?: unknown) => new CrmsyncError('ERR_CORRUPT', `backup file is corrupt: ${message}`, cause === undefined ? {} : { cause });

/** Exact-length reads over a stream of chunks. */
class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  /** Decompressed bytes consumed so far (for error messages). */
  offset = 0;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  /** Exactly `n` bytes, or undefined when the stream ends first. */
  async read(n: number): Promise<Buffer | undefined> {
    while (this.buffered < n && !this.ended) await this.pull();
    if (this.buffered < n) return undefined;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    this.offset += n;
    return out;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    while (this.buffered === 0 && !this.ended) await this.pull();
    return this.buffered === 0;
  }

  private async pull(): Promise<void> {
    let next: IteratorResult<Buffer>;
    try {
      next = await this.source.next();
    } catch (err) {
      // zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR for a truncated stream) mean a damaged
      // file; anything else (a read error of the file itself) is passed on as it is.
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'string' || !code.startsWith('Z_')) throw err;
      throw corrupt(`cannot decompress it (${(err as Error).message}); the file is truncated or damaged`, err);
    }
    if (next.done) this.ended = true;
    else if (next.value.length > 0) {
      this.chunks.push(next.value);
      this.buffered += next.value.length;
    }
  }
}

/**
 * Parses a backup from its compressed bytes, yielding frames as they are checked:
 * the header (every origin of its clock named by its trust statements), each block
 * (hash verified, entries decoded and validated, origin sequences contiguous from 1,
 * source log order increasing, boundaries close enough), then the trailer (counts and
 * chain digest verified, end of stream reached, final clock equal to the header's, the
 * last entry a boundary). Signatures are the node's to check, as for a peer's entries.
 */
export async function* readBackup(compressed: BackupBytes): AsyncGenerator<BackupFrame> {
  const gunzip = createGunzip();
  const input = Readable.from(checkGzipHeader(compressed));
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  const reader = new ByteReader(gunzip[Symbol.asyncIterator]());
  try {
    const { header, hash } = await readHeader(reader);
    yield { kind: 'header', header };
    const state: ReadState = { header, chain: new ChainDigest(), seen: new Map(), lastLocalSeq: 0, entries: 0, blocks: 0, unbounded: 0, endsAtBoundary: true };
    state.chain.add(hash);
    for (;;) {
      const kind = await need(reader, 1, 'a block or the trailer');
      if (kind[0] === TRAILER_KIND) break;
      if (kind[0] !== BLOCK_KIND) throw corrupt(`unexpected frame kind 0x${kind[0]!.toString(16)} at byte ${reader.offset - 1}`);
      const entries = await readBlock(reader, state);
      yield { kind: 'block', index: state.blocks - 1, entries };
    }
    await checkTrailer(reader, state);
    yield { kind: 'trailer', entries: state.entries, blocks: state.blocks };
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
  /** Last seq seen per origin. */
  seen: Map<string, number>;
  lastLocalSeq: number;
  entries: number;
  blocks: number;
  /** Change bytes since the last boundary. */
  unbounded: number;
  /** The last entry read is a boundary (true before any entry). */
  endsAtBoundary: boolean;
}

/** Reads one block frame after its kind byte; checks its hash, entries and their order. */
async function readBlock(reader: ByteReader, state: ReadState): Promise<BackupEntry[]> {
  const index = state.blocks;
  const meta = await need(reader, 8 + HASH_BYTES, `block ${index}`);
  const length = meta.readUInt32BE(0);
  const count = meta.readUInt32BE(4);
  if (length > MAX_BLOCK_BYTES) throw corrupt(`block ${index} claims ${length} bytes (more than ${MAX_BLOCK_BYTES})`);
  const payload = await need(reader, length, `block ${index}`);
  const hash = meta.subarray(8);
  if (!sha256(payload).equals(hash)) throw corrupt(`block ${index} fails its SHA-256 check`);
  state.chain.add(hash);
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

/** Reads the trailer after its kind byte and checks it against everything read. */
async function checkTrailer(reader: ByteReader, state: ReadState): Promise<void> {
  const trailer = await need(reader, 8 + 4 + HASH_BYTES + END_MAGIC.length, 'the trailer');
  const claimedEntries = Number(trailer.readBigUInt64BE(0));
  const claimedBlocks = trailer.readUInt32BE(8);
  if (claimedEntries !== state.entries || claimedBlocks !== state.blocks) {
    throw corrupt(`the trailer counts ${claimedEntries} entries in ${claimedBlocks} blocks, the file holds ${state.entries} in ${state.blocks}`);
  }
  if (!state.chain.digest().equals(trailer.subarray(12, 12 + HASH_BYTES))) throw corrupt('the trailer digest over the block hashes does not match');
  if (!trailer.subarray(12 + HASH_BYTES).equals(END_MAGIC)) throw corrupt('the end marker is missing');
  if (!(await reader.atEnd())) throw corrupt('bytes follow the trailer');
  checkClock(state.header, state.seen);
  // Every commit of a node ends at a boundary, so its log always does: a restore's last batch ends there.
  if (!state.endsAtBoundary) throw corrupt('the last entry is not a boundary (a log always ends at one)');
}

/**
 * gzip's CRC covers the content but not its own header: the fixed bytes this writer
 * produces (magic, deflate, no flags, mtime 0) are checked here so no flipped byte
 * there goes unnoticed. Bytes 8-9 (compression hint, OS) do not affect the content.
 */
async function* checkGzipHeader(compressed: BackupBytes): AsyncGenerator<Buffer> {
  let head = Buffer.alloc(0);
  for await (const chunk of compressed) {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (head.length < GZIP_FIXED.length) {
      head = Buffer.concat([head, bytes.subarray(0, GZIP_FIXED.length - head.length)]);
      if (!GZIP_FIXED.subarray(0, head.length).equals(head)) throw corrupt('it is not a crmsync backup (not a gzip stream as crmsync writes it)');
    }
    yield bytes;
  }
  if (head.length < GZIP_FIXED.length) throw corrupt('it is empty or truncated inside the gzip header');
}

async function readHeader(reader: ByteReader): Promise<{ header: BackupHeader; hash: Buffer }> {
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
  if (version !== FORMAT_VERSION) {
    throw corrupt(`format version ${version} is not supported (this crmsync reads version ${FORMAT_VERSION}): the file is damaged, or a newer crmsync wrote it`);
  }
  const length = start.readUInt32BE(MAGIC.length + 2);
  if (length > MAX_HEADER_BYTES) throw corrupt(`the header claims ${length} bytes`);
  const body = await need(reader, length + HASH_BYTES, 'the header');
  const hash = body.subarray(length);
  if (!sha256(body.subarray(0, length)).equals(hash)) throw corrupt('the header fails its SHA-256 check');
  const header = parseHeader(body.subarray(0, length));
  checkOrigins(header);
  return { header, hash };
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

async function need(reader: ByteReader, n: number, what: string): Promise<Buffer> {
  const bytes = await reader.read(n);
  if (!bytes) throw corrupt(`it ends inside ${what} (truncated at byte ${reader.offset} of the decompressed stream)`);
  return bytes;
}

/** The entries must be exactly those the header's clock counts. */
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
  entries: number;
  blocks: number;
}

/** Reads a whole backup, checking everything, without applying it. */
export async function verifyBackup(compressed: BackupBytes): Promise<BackupSummary> {
  let header: BackupHeader | undefined;
  for await (const frame of readBackup(compressed)) {
    if (frame.kind === 'header') header = frame.header;
    if (frame.kind === 'trailer') return { header: header!, entries: frame.entries, blocks: frame.blocks };
  }
  throw corrupt('no trailer');
}
