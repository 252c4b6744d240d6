/**
 * Strict decoder of one Automerge change chunk. It accepts exactly the chunks Automerge 3
 * writes (the canonical encoding `encodeChange` reproduces byte for byte) and throws
 * `ERR_PROTOCOL` for everything else, so a receiver can check a peer's change before
 * storing it without running Automerge.
 *
 * Body layout: deps (count, 32-byte hashes), actor (length-prefixed bytes), seq,
 * startOp, time (signed), message (length-prefixed UTF-8), other actors (count,
 * length-prefixed bytes each), column table (count, then spec and length per column),
 * then the column data, which must end exactly at the end of the body.
 */
import { CrmsyncError } from '../../errors.js';
import { openChunk } from './chunk.js';
import { decodeOps } from './decode-ops.js';
import { COLUMN_COUNT, COLUMN_NAMES, slotOfSpec } from './layout.js';
import { bad, ByteReader, type SliceBuffer } from './reader.js';
import { MAX_CHANGE_OPS, MAX_INFLATED_CHANGE_BYTES, type DecodeOptions, type DecodedChange } from './types.js';

const HASH_BYTES = 32;
const DEFLATE_BIT = 8;
/** Automerge refuses a start op beyond u32 (its op counters are 32-bit). */
const MAX_START_OP = 0xffff_ffff;

/** The header fields of a change body and where its columns are. */
export interface ChangeHeader {
  deps: string[];
  actor: string;
  seq: number;
  startOp: number;
  time: number;
  message: string | null;
  otherActors: string[];
  /** Start offset of each column slot's data in the body, or -1 when absent. */
  colStart: number[];
  /** End offset of each column slot's data in the body. */
  colEnd: number[];
}

/**
 * Decodes and fully verifies one change chunk (type 1, or deflate-compressed type 2).
 * Throws CrmsyncError('ERR_PROTOCOL') for any malformed or non-canonical input.
 */
export function decodeChange(bytes: Uint8Array, options: DecodeOptions = {}): DecodedChange {
  try {
    const maxOps = options.maxOps ?? MAX_CHANGE_OPS;
    const { body, hash, chunkType } = openChunk(bytes, options.maxInflatedBytes ?? MAX_INFLATED_CHANGE_BYTES);
    const header = readHeader(body);
    const ops = decodeOps(body, header, maxOps, options.textRuns === true);
    return {
      hash,
      deps: header.deps,
      actor: header.actor,
      seq: header.seq,
      startOp: header.startOp,
      time: header.time,
      message: header.message,
      otherActors: header.otherActors,
      ops,
      chunkType,
    };
  } catch (err) {
    if (err instanceof CrmsyncError) throw err;
    // Every check above throws ERR_PROTOCOL itself; anything else is a decoder bug, and
    // must still reach the caller as a protocol error, never as a crash of the node.
    throw new CrmsyncError('ERR_PROTOCOL', 'malformed Automerge change: internal decoder error', { cause: err });
  }
}

/** Reads the header fields and the column table of a change body. */
export function readHeader(body: SliceBuffer): ChangeHeader {
  const r = new ByteReader(body, 0, body.length);
  const depCount = r.uleb('dependency count');
  // Bound the count by the bytes present before allocating anything for it.
  if (depCount * HASH_BYTES > r.end - r.pos) throw bad('dependency list is truncated');
  const deps: string[] = new Array(depCount);
  for (let i = 0; i < depCount; i++) {
    const dep = r.hex(HASH_BYTES, 'dependency');
    // Automerge sorts dependencies; a duplicate or unsorted list is a second encoding.
    if (i > 0 && dep <= deps[i - 1]!) throw bad('dependencies are not sorted and unique');
    deps[i] = dep;
  }
  const actor = readActor(r, 'actor');
  const seq = r.uleb('seq');
  if (seq < 1) throw bad('seq must be at least 1');
  const startOp = r.uleb('startOp');
  if (startOp < 1 || startOp > MAX_START_OP) throw bad('startOp out of range');
  const time = r.sleb('time');
  const message = r.str('message');
  const otherCount = r.uleb('other actor count');
  // Each actor takes at least 2 bytes (length and one byte of id).
  if (otherCount * 2 > r.end - r.pos) throw bad('other actor list is truncated');
  const otherActors: string[] = new Array(otherCount);
  for (let i = 0; i < otherCount; i++) {
    const other = readActor(r, 'other actor');
    // Automerge lists the other actors sorted, once each, without the author.
    if (other === actor) throw bad('the author is listed among the other actors');
    if (i > 0 && other <= otherActors[i - 1]!) throw bad('other actors are not sorted and unique');
    otherActors[i] = other;
  }
  const { colStart, colEnd } = readColumnTable(r);
  return { deps, actor, seq, startOp, time, message: message === '' ? null : message, otherActors, colStart, colEnd };
}

function readActor(r: ByteReader, what: string): string {
  const length = r.uleb(what);
  if (length === 0) throw bad(`${what}: empty actor id`);
  return r.hex(length, what);
}

/** Reads the column table; the columns must be known, ascending, non-empty and fill the body. */
function readColumnTable(r: ByteReader): { colStart: number[]; colEnd: number[] } {
  const count = r.uleb('column count');
  if (count > COLUMN_COUNT) throw bad(`${count} columns; a change has at most ${COLUMN_COUNT}`);
  // Array literals: cheaper to make than typed arrays for this hot, tiny table.
  const colStart = [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1];
  const colEnd = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const slots: number[] = [];
  const lengths: number[] = [];
  let lastSlot = -1;
  for (let i = 0; i < count; i++) {
    const spec = r.uleb('column spec');
    const length = r.uleb('column length');
    const slot = slotOfSpec(spec);
    // The format allows deflated columns only in documents (Automerge refuses them in changes).
    if (slot < 0 && spec & DEFLATE_BIT && slotOfSpec(spec & ~DEFLATE_BIT) >= 0) throw bad('a deflated column in a change');
    // Unknown columns are refused: ops with parts we cannot read cannot be checked or re-encoded.
    if (slot < 0) throw bad(`unknown column spec ${spec}`);
    if (slot <= lastSlot) throw bad('columns are not in ascending order or repeat');
    if (length === 0) throw bad(`${COLUMN_NAMES[slot]} is present but empty`);
    lastSlot = slot;
    slots.push(slot);
    lengths.push(length);
  }
  let at = r.pos;
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i]!;
    if (lengths[i]! > r.end - at) throw bad(`${COLUMN_NAMES[slot]} runs past the end of the change`);
    colStart[slot] = at;
    at += lengths[i]!;
    colEnd[slot] = at;
  }
  // Automerge keeps bytes after the columns as opaque "extra bytes"; they cannot be
  // checked, and no Automerge 3 writer produces them, so they are refused.
  if (at !== r.end) throw bad(`${r.end - at} bytes after the last column`);
  return { colStart, colEnd };
}
