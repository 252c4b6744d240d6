/**
 * The byte layer of reading a backup: exact-length reads over the decompressed stream
 * and the check of the gzip header's fixed bytes. Any problem here, including a
 * truncated file or a gzip error, is an ERR_CORRUPT naming where it was found.
 */
import type { Readable } from 'node:stream';
import { CrmsyncError } from '../index.js';

/** The compressed bytes of a backup: a file stream, or chunks in memory. */
export type BackupBytes = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Readable;

/** The first 8 bytes of every gzip stream crmsync writes. */
const GZIP_FIXED = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00]);

/** An ERR_CORRUPT naming what is wrong with the file. */
export const corrupt = (message: string, cause?: unknown) => new CrmsyncError('ERR_CORRUPT', `backup file is corrupt: ${message}`, cause === undefined ? {} : { cause });

/** Exact-length reads over a stream of chunks. */
export class ByteReader {
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
 * gzip's CRC covers the content but not its own header: the fixed bytes this writer
 * produces (magic, deflate, no flags, mtime 0) are checked here so no flipped byte
 * there goes unnoticed. Bytes 8-9 (compression hint, OS) do not affect the content.
 */
export async function* checkGzipHeader(compressed: BackupBytes): AsyncGenerator<Buffer> {
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

/** Exactly `n` bytes of `what`, or ERR_CORRUPT naming where the file ends. */
export async function need(reader: ByteReader, n: number, what: string): Promise<Buffer> {
  const bytes = await reader.read(n);
  if (!bytes) throw corrupt(`it ends inside ${what} (truncated at byte ${reader.offset} of the decompressed stream)`);
  return bytes;
}
