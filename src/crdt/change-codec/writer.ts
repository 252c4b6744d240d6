/**
 * Writing LEB128 integers, raw bytes and UTF-8 strings, always in their shortest (the
 * canonical) form.
 */

/** Bytes of `s` in UTF-8 (its length when ASCII, the common case, without a native call). */
export function utf8Length(s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return n;
}

interface WriteBuffer extends Buffer {
  utf8Write(s: string, offset: number): number;
  hexWrite(s: string, offset: number, length: number): number;
}

/** Appends to a growing buffer (a Buffer, so strings are written natively). */
export class ByteWriter {
  buf: WriteBuffer;
  pos = 0;
  readonly #capacity: number;
  constructor(capacity = 256) {
    // allocUnsafe: small sizes come from Node's pool; every byte is written before it is read.
    this.#capacity = capacity;
    this.buf = Buffer.allocUnsafe(capacity) as WriteBuffer;
  }

  /**
   * Empties the writer for reuse, keeping its buffer unless it grew past `keep` bytes (then
   * it starts again at its first capacity). Views taken before are overwritten: copy them out first.
   */
  reset(keep: number): void {
    if (this.buf.length > keep) this.buf = Buffer.allocUnsafe(this.#capacity) as WriteBuffer;
    this.pos = 0;
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n)) as WriteBuffer;
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** One byte. */
  byte(b: number): void {
    if (this.pos >= this.buf.length) this.reserve(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned LEB128 (shortest form) of a safe non-negative integer. */
  uleb(value: number): void {
    if (this.pos + 8 > this.buf.length) this.reserve(8);
    const buf = this.buf;
    if (value < 0x80) {
      buf[this.pos++] = value;
      return;
    }
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
    if (this.pos + 8 > this.buf.length) this.reserve(8);
    const buf = this.buf;
    if (value >= -64 && value < 64) {
      buf[this.pos++] = value & 0x7f;
      return;
    }
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

  /** Bytes given as (valid, even-length) hex. */
  hex(h: string): void {
    this.reserve(h.length / 2);
    this.pos += this.buf.hexWrite(h, this.pos, h.length / 2);
  }

  /** UTF-8 of a string of `length` UTF-8 bytes (see utf8Length), without a length prefix. */
  utf8(s: string, length: number): void {
    this.reserve(length);
    const n = s.length;
    if (length === n && n <= 32) {
      // Short ASCII: a plain loop beats the native call.
      const buf = this.buf;
      const pos = this.pos;
      for (let i = 0; i < n; i++) buf[pos + i] = s.charCodeAt(i);
    } else {
      this.buf.utf8Write(s, this.pos);
    }
    this.pos += length;
  }

  /** A length-prefixed UTF-8 string. */
  str(s: string): void {
    const length = utf8Length(s);
    this.uleb(length);
    this.utf8(s, length);
  }

  /** The bytes written so far (a view). */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
