/**
 * Scalar values: a value metadata entry (`length << 4 | type code`) plus, for most
 * types, bytes in the raw value column. The reader requires the metadata length to match
 * the value's bytes exactly, and the writer produces that form.
 */
import { bad, type ByteReader } from './reader.js';
import { type ByteWriter, utf8Length } from './writer.js';
import { VALUE_TYPE } from './layout.js';
import type { Datatype, ScalarValue } from './types.js';

/** Where `readValue` puts its result (reused across ops to avoid an allocation each). */
export interface ValueCell {
  datatype: Datatype;
  value: ScalarValue;
}

// The NaN JS engines produce (0x7ff8000000000000). Other NaN bit patterns would not
// survive a decode/encode round trip, since JS does not preserve NaN payloads.
const CANONICAL_NAN_HI = 0x7ff80000;

/** The datatypes stored as LEB128, by type code. */
const LEB_DATATYPES: Partial<Record<number, Datatype>> = {
  [VALUE_TYPE.uint]: 'uint',
  [VALUE_TYPE.int]: 'int',
  [VALUE_TYPE.counter]: 'counter',
  [VALUE_TYPE.timestamp]: 'timestamp',
};

/** Reads the value described by `meta` from the raw column into `cell`. */
export function readValue(raw: ByteReader, meta: number, cell: ValueCell): void {
  const type = meta % 16;
  const length = Math.floor(meta / 16);
  switch (type) {
    case VALUE_TYPE.null:
    case VALUE_TYPE.false:
    case VALUE_TYPE.true:
      if (length !== 0) throw bad('value: null or boolean with a length');
      cell.datatype = type === VALUE_TYPE.null ? 'null' : 'boolean';
      cell.value = type === VALUE_TYPE.null ? null : type === VALUE_TYPE.true;
      return;
    case VALUE_TYPE.uint:
    case VALUE_TYPE.int:
    case VALUE_TYPE.counter:
    case VALUE_TYPE.timestamp:
      cell.datatype = LEB_DATATYPES[type]!;
      cell.value = readLeb(raw, length, type !== VALUE_TYPE.uint);
      return;
    case VALUE_TYPE.f64: {
      if (length !== 8) throw bad('value: a float must have 8 bytes');
      const at = raw.pos;
      raw.take(8, 'value');
      const v = raw.bytes.readDoubleLE(at);
      if (Number.isNaN(v) && (raw.bytes.readUInt32LE(at + 4) !== CANONICAL_NAN_HI || raw.bytes.readUInt32LE(at) !== 0)) {
        throw bad('value: non-canonical NaN');
      }
      cell.datatype = 'f64';
      cell.value = v;
      return;
    }
    case VALUE_TYPE.str:
      cell.datatype = 'str';
      cell.value = raw.utf8(length, 'string value');
      return;
    case VALUE_TYPE.bytes:
      cell.datatype = 'bytes';
      // A copy (a plain Uint8Array), so the decoded change never aliases (or pins) the
      // caller's buffer. Not Buffer#slice: that one returns a view.
      cell.value = new Uint8Array(raw.take(length, 'value'));
      return;
    default:
      // Codes 10–15 are reserved for future types; their meaning cannot be checked.
      throw bad(`value: unknown type code ${type}`);
  }
}

function readLeb(raw: ByteReader, length: number, signed: boolean): number | bigint {
  if (length > raw.end - raw.pos) throw bad('value: length exceeds the value column');
  const end = raw.end;
  raw.end = raw.pos + length;
  const v = raw.leb64(signed, 'value');
  // The metadata length must cover exactly the integer's bytes.
  if (raw.pos !== raw.end) throw bad('value: length does not match the integer');
  raw.end = end;
  return v;
}

/** The metadata entry (`byte length << 4 | type code`) of a value. */
export function valueMeta(datatype: Datatype, value: ScalarValue): number {
  switch (datatype) {
    case 'null':
      return VALUE_TYPE.null;
    case 'boolean':
      return value ? VALUE_TYPE.true : VALUE_TYPE.false;
    case 'uint':
      return lebSize(value as number | bigint, false) * 16 + VALUE_TYPE.uint;
    case 'int':
      return lebSize(value as number | bigint, true) * 16 + VALUE_TYPE.int;
    case 'counter':
      return lebSize(value as number | bigint, true) * 16 + VALUE_TYPE.counter;
    case 'timestamp':
      return lebSize(value as number | bigint, true) * 16 + VALUE_TYPE.timestamp;
    case 'f64':
      return 8 * 16 + VALUE_TYPE.f64;
    case 'str':
      return utf8Length(value as string) * 16 + VALUE_TYPE.str;
    case 'bytes':
      return (value as Uint8Array).length * 16 + VALUE_TYPE.bytes;
  }
}

/** Bytes of the shortest LEB128 encoding of a value. */
function lebSize(value: number | bigint, signed: boolean): number {
  let size = 1;
  if (typeof value === 'number') {
    let n = value;
    if (signed) {
      for (; n >= 64 || n < -64; size++) n = Math.floor(n / 128);
    } else {
      for (; n >= 128; size++) n = Math.floor(n / 128);
    }
    return size;
  }
  let v = value;
  // Signed: 7 bits per byte, the top one of the last byte being the sign.
  if (signed) {
    while (v >= 64n || v < -64n) {
      v >>= 7n;
      size++;
    }
  } else {
    while (v >= 128n) {
      v >>= 7n;
      size++;
    }
  }
  return size;
}

/** Writes the raw bytes of a value whose metadata entry is `meta` (see valueMeta). */
export function writeValue(raw: ByteWriter, datatype: Datatype, value: ScalarValue, meta: number): void {
  switch (datatype) {
    case 'null':
    case 'boolean':
      return;
    case 'uint':
      if (typeof value === 'bigint') raw.leb64(value, false);
      else raw.uleb(value as number);
      return;
    case 'int':
    case 'counter':
    case 'timestamp':
      if (typeof value === 'bigint') raw.leb64(value, true);
      else raw.sleb(value as number);
      return;
    case 'f64':
      raw.reserve(8);
      if (Number.isNaN(value)) {
        // Hardware and engines differ in which NaN bits they keep; write the canonical one.
        raw.buf.writeUInt32LE(0, raw.pos);
        raw.buf.writeUInt32LE(CANONICAL_NAN_HI, raw.pos + 4);
      } else {
        raw.buf.writeDoubleLE(value as number, raw.pos);
      }
      raw.pos += 8;
      return;
    case 'str':
      raw.utf8(value as string, Math.floor(meta / 16));
      return;
    case 'bytes':
      raw.bytes(value as Uint8Array);
      return;
  }
}
