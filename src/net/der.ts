/**
 * The few DER (X.690) encodings an X.509 certificate for an Ed25519 key needs. Each
 * function returns one complete TLV; constructed values take their encoded children.
 * Written here instead of depending on an ASN.1 library: certificates are the only
 * DER crmsync writes, and the subset is small and fixed.
 */

/** Universal and context tag bytes used by certificate.ts. */
export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  sequence: 0x30,
  set: 0x31,
  utcTime: 0x17,
  generalizedTime: 0x18,
} as const;

/** One TLV with `tag` around `content` (definite length, DER). */
export function tlv(tag: number, content: Uint8Array): Uint8Array {
  const length = content.length;
  let header: number[];
  if (length < 0x80) {
    header = [tag, length];
  } else {
    const bytes: number[] = [];
    for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
    header = [tag, 0x80 | bytes.length, ...bytes];
  }
  const out = new Uint8Array(header.length + length);
  out.set(header, 0);
  out.set(content, header.length);
  return out;
}

/** A SEQUENCE of already-encoded elements. */
export function sequence(...elements: Uint8Array[]): Uint8Array {
  return tlv(Tag.sequence, Buffer.concat(elements));
}

/** A SET of already-encoded elements (callers pass one element, so no sorting is needed). */
export function set(element: Uint8Array): Uint8Array {
  return tlv(Tag.set, element);
}

/** An explicit context tag [n] around one encoded element. */
export function explicit(n: number, element: Uint8Array): Uint8Array {
  return tlv(0xa0 | n, element);
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const chunk: number[] = [arc & 0x7f];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) chunk.unshift(0x80 | (value & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(Tag.oid, Uint8Array.from(bytes));
}

/** A non-negative INTEGER from its big-endian magnitude (a leading zero is added when needed). */
export function unsignedInteger(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const needsPad = (trimmed[0] ?? 0) >= 0x80;
  return tlv(Tag.integer, needsPad ? Buffer.concat([Uint8Array.of(0), trimmed]) : trimmed);
}

/** A small non-negative INTEGER. */
export function smallInteger(value: number): Uint8Array {
  return unsignedInteger(Uint8Array.of(value & 0xff));
}

/** A BOOLEAN. */
export function boolean(value: boolean): Uint8Array {
  return tlv(Tag.boolean, Uint8Array.of(value ? 0xff : 0));
}

/** A BIT STRING of whole bytes (no unused bits). */
export function bitString(bytes: Uint8Array): Uint8Array {
  return tlv(Tag.bitString, Buffer.concat([Uint8Array.of(0), bytes]));
}

/** An OCTET STRING. */
export function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(Tag.octetString, bytes);
}

/** A UTF8String. */
export function utf8String(text: string): Uint8Array {
  return tlv(Tag.utf8String, Buffer.from(text, 'utf8'));
}

/** An X.509 Time (RFC 5280 4.1.2.5): UTCTime through 2049, GeneralizedTime after. */
export function time(date: Date): Uint8Array {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  const year = date.getUTCFullYear();
  return year < 2050 ? tlv(Tag.utcTime, Buffer.from(digits.slice(2), 'ascii')) : tlv(Tag.generalizedTime, Buffer.from(digits, 'ascii'));
}
