/**
 * LEB128 integers, raw bytes and UTF-8 strings over a byte range: the primitives every
 * part of a change chunk is made of. The reader is strict: it refuses truncated input,
 * over-long encodings (a second spelling of the same number would give the same change
 * two hashes) and anything outside JS's exact integer range, which `A.decodeChange`
 * itself refuses with a RangeError.
 */
import { CrmsyncError } from '../../errors.js';

/** The error for every malformed input: the peer sent bytes that are not a valid change. */
export function bad(reason: string): CrmsyncError {
  return new CrmsyncError('ERR_PROTOCOL', `malformed Automerge change: ${reason}`);
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_SAFE_BIG = BigInt(MAX_SAFE);
// fatal: invalid UTF-8 is an error, as Rust's str::from_utf8 makes it for Automerge.
// ignoreBOM: keep a leading U+FEFF as a character instead of silently dropping it.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const UTF8_ENCODER = new TextEncoder();

/** Reads from `bytes[pos, end)`; every read checks `end` first. */
export class ByteReader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    public end: number,
  ) {
    this.pos = start;
  }

  /** True when every byte of the range has been read. */
  done(): boolean {
    return this.pos >= this.end;
  }

  /** An unsigned LEB128 integer ≤ 2^53 − 1 in its shortest encoding. */
  uleb(what: string): number {
    const bytes = this.bytes;
    let pos = this.pos;
    if (pos >= this.end) throw bad(`${what}: truncated integer`);
    let byte = bytes[pos++]!;
    if (byte < 0x80) {
      this.pos = pos;
      return byte;
    }
    let value = byte & 0x7f;
    let scale = 128;
    for (;;) {
      if (pos >= this.end) throw bad(`${what}: truncated integer`);
      byte = bytes[pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
      // 8 bytes carry 56 bits: a 9th byte means the value exceeds 2^53 − 1.
      if (scale > 2 ** 49) throw bad(`${what}: integer too large`);
    }
    if (byte === 0) throw bad(`${what}: over-long integer encoding`);
    if (value > MAX_SAFE) throw bad(`${what}: integer too large`);
    this.pos = pos;
    return value;
  }

  /** A signed LEB128 integer within ±(2^53 − 1) in its shortest encoding. */
  sleb(what: string): number {
    const bytes = this.bytes;
    let pos = this.pos;
    if (pos >= this.end) throw bad(`${what}: truncated integer`);
    let byte = bytes[pos++]!;
    if (byte < 0x80) {
      this.pos = pos;
      return byte & 0x40 ? byte - 0x80 : byte;
    }
    let value = byte & 0x7f;
    let scale = 128;
    let prev = byte;
    for (;;) {
      if (pos >= this.end) throw bad(`${what}: truncated integer`);
      byte = bytes[pos++]!;
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
    this.pos = pos;
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
    return utf8(this.take(length, what), what);
  }
}

/** Decodes strict UTF-8; short ASCII strings skip TextDecoder (most keys and text chars). */
export function utf8(bytes: Uint8Array, what: string): string {
  const n = bytes.length;
  if (n <= 16) {
    let ascii = true;
    for (let i = 0; i < n; i++) if (bytes[i]! >= 0x80) ascii = false;
    if (ascii) return n === 1 ? String.fromCharCode(bytes[0]!) : String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  try {
    return UTF8.decode(bytes);
  } catch {
    throw bad(`${what}: invalid UTF-8`);
  }
}

/** Lowercase hex of bytes (actor ids, hashes). */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Appends to a growing buffer. */
export class ByteWriter {
  buf: Uint8Array;
  pos = 0;
  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** One byte. */
  byte(b: number): void {
    if (this.pos >= this.buf.length) this.reserve(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned LEB128 (shortest form) of a safe non-negative integer. */
  uleb(value: number): void {
    this.reserve(8);
    const buf = this.buf;
    let pos = this.pos;
    while (value >= 0x80) {
      buf[pos++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    buf[pos++] = value;
    this.pos = pos;
  }

  /** Signed LEB128 (shortest form) of a safe integer. */
  sleb(value: number): void {
    this.reserve(8);
    const buf = this.buf;
    let pos = this.pos;
    for (;;) {
      const low = ((value % 128) + 128) % 128;
      value = Math.floor(value / 128);
      if ((value === 0 && (low & 0x40) === 0) || (value === -1 && (low & 0x40) !== 0)) {
        buf[pos++] = low;
        break;
      }
      buf[pos++] = low | 0x80;
    }
    this.pos = pos;
  }

  /** LEB128 of a 64-bit value given as a bigint (unsigned, or signed when `signed`). */
  leb64(value: bigint, signed: boolean): void {
    this.reserve(10);
    for (;;) {
      const low = Number(value & 0x7fn);
      value >>= 7n; // arithmetic shift: keeps the sign of negative values
      const done = signed ? (value === 0n && (low & 0x40) === 0) || (value === -1n && (low & 0x40) !== 0) : value === 0n;
      if (done) {
        this.buf[this.pos++] = low;
        return;
      }
      this.buf[this.pos++] = low | 0x80;
    }
  }

  /** Raw bytes. */
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** UTF-8 of a string, without a length prefix; returns the byte length. */
  utf8(s: string): number {
    const n = s.length;
    this.reserve(n * 3);
    const buf = this.buf;
    const start = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        const { written } = UTF8_ENCODER.encodeInto(s.slice(i), buf.subarray(start + i));
        this.pos = start + i + written;
        return this.pos - start;
      }
      buf[start + i] = c;
    }
    this.pos = start + n;
    return n;
  }

  /** A length-prefixed UTF-8 string. */
  str(s: string): void {
    // Reserve the worst-case prefix (up to 3 bytes covers 2 MiB) only if needed; ASCII-only
    // short strings are the common case, so write the body first, then shift if the prefix is long.
    const prefixAt = this.pos;
    this.pos += 1;
    const length = this.utf8(s);
    if (length < 0x80) {
      this.buf[prefixAt] = length;
      return;
    }
    const body = this.buf.slice(prefixAt + 1, this.pos);
    this.pos = prefixAt;
    this.uleb(length);
    this.bytes(body);
  }

  /** The bytes written so far (a view). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}
