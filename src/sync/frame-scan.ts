/**
 * A walk over a frame's MessagePack structure that allocates nothing, run before the
 * frame is decoded. Decoding builds every value the frame holds (a 4 MiB frame of empty
 * maps is four million objects: seconds of a blocked event loop and hundreds of MB), so
 * how many values, how many of them maps or arrays, and how deep they nest is bounded
 * first, by counting. Extension types (which msgpackr would turn into dates, sets,
 * errors, typed arrays...) never occur in this protocol and are refused here.
 */
import { CrmsyncError } from '../errors.js';

/** What one frame may hold. */
export interface FrameBudget {
  /** Values of any kind (every map key counts as one). */
  items: number;
  /** Maps and arrays. */
  containers: number;
  /** Nesting depth. */
  depth: number;
}

function refuse(why: string): CrmsyncError {
  return new CrmsyncError('ERR_PROTOCOL', `invalid message: ${why} (refused before decoding)`);
}

/** Bytes a length field of `size` bytes at `at` says follow it. */
function lengthAt(frame: Uint8Array, at: number, size: 1 | 2 | 4): number {
  if (at + size > frame.length) throw refuse('the frame ends inside a length');
  if (size === 1) return frame[at]!;
  if (size === 2) return (frame[at]! << 8) | frame[at + 1]!;
  return ((frame[at]! << 24) >>> 0) + ((frame[at + 1]! << 16) | (frame[at + 2]! << 8) | frame[at + 3]!);
}

/**
 * Throws ERR_PROTOCOL unless `frame` is exactly one MessagePack value within `budget`
 * (no extension types, no trailing bytes). Linear in the frame's length.
 */
export function scanFrame(frame: Uint8Array, budget: FrameBudget): void {
  let pos = 0;
  let items = 0;
  let containers = 0;
  let pending = 1; // values still to read in the innermost open container
  const open: number[] = []; // `pending` of each enclosing container
  while (pending > 0 || open.length > 0) {
    if (pending === 0) {
      pending = open.pop()!;
      continue;
    }
    if (pos >= frame.length) throw refuse('the frame ends inside a value');
    pending--;
    if (++items > budget.items) throw refuse(`the frame holds more than ${budget.items} values`);
    const b = frame[pos++]!;
    let skip = 0;
    let children = 0;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3)) {
      if (b === 0xc1) throw refuse('the frame holds the reserved byte 0xc1');
    } else if (b <= 0x8f) children = 2 * (b & 0x0f);
    else if (b <= 0x9f) children = b & 0x0f;
    else if (b <= 0xbf) skip = b & 0x1f;
    else {
      switch (b) {
        case 0xc4: case 0xd9: skip = lengthAt(frame, pos, 1); pos += 1; break;
        case 0xc5: case 0xda: skip = lengthAt(frame, pos, 2); pos += 2; break;
        case 0xc6: case 0xdb: skip = lengthAt(frame, pos, 4); pos += 4; break;
        case 0xca: skip = 4; break;
        case 0xcb: skip = 8; break;
        case 0xcc: case 0xd0: skip = 1; break;
        case 0xcd: case 0xd1: skip = 2; break;
        case 0xce: case 0xd2: skip = 4; break;
        case 0xcf: case 0xd3: skip = 8; break;
        case 0xdc: children = lengthAt(frame, pos, 2); pos += 2; break;
        case 0xdd: children = lengthAt(frame, pos, 4); pos += 4; break;
        case 0xde: children = 2 * lengthAt(frame, pos, 2); pos += 2; break;
        case 0xdf: children = 2 * lengthAt(frame, pos, 4); pos += 4; break;
        default: throw refuse('the frame holds a MessagePack extension type');
      }
    }
    pos += skip;
    if (pos > frame.length) throw refuse('the frame ends inside a value');
    if ((b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf)) {
      if (++containers > budget.containers) throw refuse(`the frame holds more than ${budget.containers} maps and arrays`);
      // A count beyond what the frame or the budget can hold is refused before it is walked.
      if (children > budget.items - items || children > frame.length - pos) throw refuse('a map or array claims more values than the frame holds');
      if (children > 0) {
        if (open.length >= budget.depth) throw refuse(`the frame nests deeper than ${budget.depth}`);
        open.push(pending);
        pending = children;
      }
    }
  }
  if (pos !== frame.length) throw refuse('the frame holds bytes after its value');
}
