/**
 * Scalar values: a value metadata entry (`length << 4 | type code`) plus, for most
 * types, bytes in the raw value column. The reader requires the metadata length to match
 * the value's bytes exactly, and the writer produces that form.
 */
import { bad, type ByteReader, type ByteWriter, utf8 } from './leb.js';
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
      cell.datatype = 'uint';
      cell.value = readLeb(raw, length, false);
      return;
    case VALUE_TYPE.int:
      cell.datatype = 'int';
      cell.value = readLeb(raw, length, true);
      return;
    case VALUE_TYPE.counter:
      cell.datatype = 'counter';
      cell.value = readLeb(raw, length, true);
      return;
    case VALUE_TYPE.timestamp:
      cell.datatype = 'timestamp';
      cell.value = readLeb(raw, length, true);
      return;
    case VALUE_TYPE.f64: {
      if (length !== 8) throw bad('value: a float must have 8 bytes');
      const b = raw.take(8, 'value');
      const view = new DataView(b.buffer, b.byteOffset, 8);
      const v = view.getFloat64(0, true);
      if (Number.isNaN(v) && (view.getUint32(4, true) !== CANONICAL_NAN_HI || view.getUint32(0, true) !== 0)) {
        throw bad('value: non-canonical NaN');
      }
      cell.datatype = 'f64';
      cell.value = v;
      return;
    }
    case VALUE_TYPE.str:
      cell.datatype = 'str';
      cell.value = utf8(raw.take(length, 'value'), 'string value');
      return;
    case VALUE_TYPE.bytes:
      cell.datatype = 'bytes';
      // A copy, so the decoded change never aliases (or pins) the caller's buffer.
      cell.value = raw.take(length, 'value').slice();
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

/** Writes `value` of `datatype` into the raw column; returns its metadata entry. */
export function writeValue(raw: ByteWriter, datatype: Datatype, value: ScalarValue): number {
  const start = raw.pos;
  let type: number;
  switch (datatype) {
    case 'null':
      return VALUE_TYPE.null;
    case 'boolean':
      return value ? VALUE_TYPE.true : VALUE_TYPE.false;
    case 'uint':
      if (typeof value === 'bigint') raw.leb64(value, false);
      else raw.uleb(value as number);
      type = VALUE_TYPE.uint;
      break;
    case 'int':
    case 'counter':
    case 'timestamp':
      if (typeof value === 'bigint') raw.leb64(value, true);
      else raw.sleb(value as number);
      type = datatype === 'int' ? VALUE_TYPE.int : datatype === 'counter' ? VALUE_TYPE.counter : VALUE_TYPE.timestamp;
      break;
    case 'f64': {
      raw.reserve(8);
      const view = new DataView(raw.buf.buffer, raw.buf.byteOffset + raw.pos, 8);
      if (Number.isNaN(value)) {
        // Hardware and engines differ in which NaN bits they keep; write the canonical one.
        view.setUint32(0, 0, true);
        view.setUint32(4, CANONICAL_NAN_HI, true);
      } else {
        view.setFloat64(0, value as number, true);
      }
      raw.pos += 8;
      type = VALUE_TYPE.f64;
      break;
    }
    case 'str':
      raw.utf8(value as string);
      type = VALUE_TYPE.str;
      break;
    case 'bytes':
      raw.bytes(value as Uint8Array);
      type = VALUE_TYPE.bytes;
      break;
  }
  return (raw.pos - start) * 16 + type;
}
