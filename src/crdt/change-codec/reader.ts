/**
 * Reading LEB128 integers, raw bytes and UTF-8 strings from a byte range: the primitives
 * every part of a change chunk is made of. The reader is strict: it refuses truncated
 * input, over-long encodings (a second spelling of the same number would give the same
 * change two hashes) and integers beyond 2^53 − 1 wherever a JS number is returned.
 */
import { isUtf8 } from 'node:buffer';
import { CrmsyncError } from '../../errors.js';

/** The error for every malformed input: the peer sent bytes that are not a valid change. */
export function bad(reason: string): CrmsyncError {
  return new CrmsyncError('ERR_PROTOCOL', `malformed Automerge change: ${reason}`);
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_SAFE_BIG = BigInt(MAX_SAFE);

/**
 * Buffer's per-encoding slice methods: what `buf.toString(encoding, start, end)` calls
 * after checking its arguments. Undeclared in @types/node, but on Buffer.prototype in
 * every Node version; calling them directly saves that overhead for each key and value.
 */
export interface SliceBuffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
  hexSlice(start: number, end: number): string;
}

/** A Buffer view of bytes (no copy): Buffer's native slicing to strings is the fast path. */
export function bufferOf(bytes: Uint8Array): SliceBuffer {
  return (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)) as SliceBuffer;
}

/** Reads from `bytes[pos, end)`; every read checks `end` first. */
export class ByteReader {
  pos: number;
  /** The range as one latin1 string, made on the first ASCII string read (see utf8()). */
  #text: string | null = null;
  #textBase = 0;
  constructor(
    readonly bytes: SliceBuffer,
    start: number,
    public end: number,
  ) {
    this.pos = start;
  }

  /** Points the reader at another range of the same bytes. */
  range(start: number, end: number): void {
    this.pos = start;
    this.end = end;
    this.#text = null;
  }

  /** True when every byte of the range has been read. */
  done(): boolean {
    return this.pos >= this.end;
  }

  /** The next byte of an integer. */
  #next(what: string): number {
    if (this.pos >= this.end) throw bad(`${what}: truncated integer`);
    return this.bytes[this.pos++]!;
  }

  /** An unsigned LEB128 integer ≤ 2^53 − 1 in its shortest encoding. */
  uleb(what: string): number {
    let byte = this.#next(what);
    if (byte < 0x80) return byte;
    let value = byte & 0x7f;
    let scale = 128;
    for (;;) {
      byte = this.#next(what);
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
      // 8 bytes carry 56 bits: a 9th byte means the value exceeds 2^53 − 1.
      if (scale > 2 ** 49) throw bad(`${what}: integer too large`);
    }
    if (byte === 0) throw bad(`${what}: over-long integer encoding`);
    if (value > MAX_SAFE) throw bad(`${what}: integer too large`);
    return value;
  }

  /** A signed LEB128 integer within ±(2^53 − 1) in its shortest encoding. */
  sleb(what: string): number {
    let byte = this.#next(what);
    if (byte < 0x80) return byte & 0x40 ? byte - 0x80 : byte;
    let value = byte & 0x7f;
    let scale = 128;
    let prev = byte;
    for (;;) {
      byte = this.#next(what);
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) break;
      if (scale > 2 ** 49) throw bad(`${what}: integer too large`);
      prev = byte;
    }
    // Over-long: the last byte only repeats the sign already carried by the previous one.
    if ((byte === 0 && (prev & 0x40) === 0) || (byte === 0x7f && (prev & 0x40) !== 0)) {
      throw bad(`${what}: over-long integer encoding`);
    }
    if (byte & 0x40) value -= scale;
    if (value > MAX_SAFE || value < -MAX_SAFE) throw bad(`${what}: integer too large`);
    return value;
  }

  /**
   * A LEB128 value of up to 64 bits (u64, or i64 when `signed`), as Automerge stores
   * scalar values: a number when it is exact in JS, otherwise a bigint. Shortest form only.
   */
  leb64(signed: boolean, what: string): number | bigint {
    const bytes = this.bytes;
    let last = this.pos;
    while (last < this.end && bytes[last]! >= 0x80 && last - this.pos < 10) last++;
    // Up to 7 bytes (49 bits) always fit a JS number: take the fast path.
    if (last - this.pos < 7) return signed ? this.sleb(what) : this.uleb(what);
    if (last >= this.end) throw bad(`${what}: truncated integer`);
    const count = last - this.pos + 1;
    if (count > 10) throw bad(`${what}: integer too large`);
    let value = 0n;
    for (let i = count - 1; i >= 0; i--) value = (value << 7n) | BigInt(bytes[this.pos + i]! & 0x7f);
    const top = bytes[last]!;
    const prev = bytes[last - 1]!;
    if (signed) {
      if (count === 10 && top !== 0 && top !== 0x7f) throw bad(`${what}: integer too large`);
      if ((top === 0 && (prev & 0x40) === 0) || (top === 0x7f && (prev & 0x40) !== 0)) throw bad(`${what}: over-long integer encoding`);
      value = BigInt.asIntN(64, top & 0x40 && count < 10 ? value - (1n << BigInt(7 * count)) : value);
    } else {
      if (count === 10 && top > 1) throw bad(`${what}: integer too large`);
      if (top === 0) throw bad(`${what}: over-long integer encoding`);
    }
    this.pos = last + 1;
    return value >= -MAX_SAFE_BIG && value <= MAX_SAFE_BIG ? Number(value) : value;
  }

  /** `length` raw bytes (a view, not a copy). The length is checked against what is left. */
  take(length: number, what: string): Uint8Array {
    if (length > this.end - this.pos) throw bad(`${what}: length ${length} exceeds the ${this.end - this.pos} bytes left`);
    const out = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  /** A length-prefixed UTF-8 string. */
  str(what: string): string {
    const length = this.uleb(what);
    return this.utf8(length, what);
  }

  /**
   * `length` bytes of strict UTF-8 as a string. Invalid UTF-8 is an error (as Rust's
   * str::from_utf8 makes it for Automerge), and a leading U+FEFF stays a character.
   */
  utf8(length: number, what: string): string {
    const start = this.pos;
    const end = start + length;
    if (!this.skipUtf8(length, what)) return this.bytes.utf8Slice(start, end);
    // ASCII (map keys, most values, most text characters): one native slice of the whole
    // range, then a cheap substring per string, beats a native call per string.
    if (length === 1) return String.fromCharCode(this.bytes[start]!);
    if (this.#text === null) {
      this.#text = this.bytes.latin1Slice(start, this.end);
      this.#textBase = start;
    }
    return this.#text.substring(start - this.#textBase, end - this.#textBase);
  }

  /**
   * Checks that the next `length` bytes are strict UTF-8 and moves past them; true when
   * they are ASCII. For values read only as part of a longer string (a text run's
   * characters, decode-ops.ts), which would otherwise each become a string to be dropped.
   */
  skipUtf8(length: number, what: string): boolean {
    const start = this.pos;
    const end = start + length;
    if (length > this.end - start) throw bad(`${what}: length ${length} exceeds the ${this.end - start} bytes left`);
    const bytes = this.bytes;
    let i = start;
    while (i < end && bytes[i]! < 0x80) i++;
    if (i < end && !isUtf8(bytes.subarray(start, end))) throw bad(`${what}: invalid UTF-8`);
    this.pos = end;
    return i === end;
  }

  /** The next `length` bytes as lowercase hex (actor ids, hashes). */
  hex(length: number, what: string): string {
    if (length > this.end - this.pos) throw bad(`${what}: length ${length} exceeds the ${this.end - this.pos} bytes left`);
    const out = this.bytes.hexSlice(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }
}
