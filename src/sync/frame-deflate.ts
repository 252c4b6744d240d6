/**
 * Compressed frames. A catch-up batch is mostly change bodies whose actor ids, dependency
 * hashes, column layouts and field values repeat from one record to the next: raw
 * deflate at level 1 makes the 10,000-record initial sync of `npm run bench` 3.3 times
 * smaller (6.0 to 1.8 MiB in batches of 64 KiB, 0.44 × the records' MessagePack; 1.7 MiB
 * in batches of 256 KiB) for about 9 ms of CPU per MiB to deflate and 3 to 9 ms to
 * inflate (measured in one process). A node sends one only to a peer whose hello says it
 * accepts them (`compress`), wrapped as a `deflated` message; older nodes never see one.
 *
 * The receiver inflates at most `maxFrameBytes` (zlib stops there: a small frame cannot
 * make it allocate more than an uncompressed frame could), refuses data after the end of
 * the stream, and decodes the inner frame with every check a plain frame gets, except
 * that it may not be `deflated` again.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { CrmsyncError } from '../errors.js';

/** The frame encoding named in a hello's `compress`. */
export const DEFLATE_RAW = 'deflate-raw';
/** zlib level of sent frames: level 1 gives most of the gain (level 6: 1.5 instead of 1.7 MiB, measured in batches of 256 KiB) at half the CPU. */
const DEFLATE_LEVEL = 1;

/** The deflated body of `frame` when it is worth sending instead (at least `minBytes`, and at least an eighth smaller), else undefined. */
export function deflateFrame(frame: Uint8Array, minBytes: number): Uint8Array | undefined {
  if (frame.length < minBytes) return undefined;
  const deflated = deflateRawSync(frame, { level: DEFLATE_LEVEL });
  return deflated.length <= frame.length - (frame.length >> 3) ? deflated : undefined;
}

/** The frame a `deflated` message carries: ERR_FRAME_TOO_LARGE past `maxFrameBytes`, ERR_PROTOCOL when it does not inflate. */
export function inflateFrame(data: Uint8Array, maxFrameBytes: number): Uint8Array {
  let result: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    result = inflateRawSync(data, { info: true, maxOutputLength: maxFrameBytes }) as unknown as typeof result;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw new CrmsyncError('ERR_FRAME_TOO_LARGE', `a deflated frame inflates past the ${maxFrameBytes}-byte limit`);
    }
    throw new CrmsyncError('ERR_PROTOCOL', `invalid message: a deflated frame does not inflate (${code ?? 'error'})`);
  }
  // zlib ignores what follows the end of the stream: refused, so one frame has one encoding.
  if (result.engine.bytesWritten !== data.length) throw new CrmsyncError('ERR_PROTOCOL', 'invalid message: data after the end of a deflated frame');
  return result.buffer;
}
