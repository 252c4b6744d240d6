/**
 * Compressed frames. A catch-up batch is mostly change bodies whose actor ids, dependency
 * hashes, column layouts and field values repeat from one record to the next: raw
 * deflate at level 1 makes the 10,000-record initial sync of `npm run bench` 3.3 times
 * smaller (6.0 to 1.8 MiB in batches of 64 KiB, 0.44 × the records' MessagePack; 1.7 MiB
 * in batches of 256 KiB) for about 9 ms of CPU per MiB to deflate and 3 to 9 ms to
 * inflate (measured in one process). A node sends one only to a peer whose hello says it
 * accepts them (`compress`), wrapped as a `deflated` message; older nodes never see one.
 *
 * Small frames (an edit pushed live, an ack) go another way to a peer that accepts
 * 'deflate-raw-dict-1': deflated from a preset dictionary of example frames and both node
 * ids (frame-dictionary.ts), behind one marker byte instead of a `deflated` message. The
 * marker, 0xC1, is the one byte MessagePack never uses, so no plain frame starts with it.
 * A one-field edit's frame takes about 200 bytes instead of 300, an ack 50 instead of 70.
 * Each session keeps a zlib handle per direction for them (dictionary-zlib.ts says why).
 *
 * The receiver inflates at most `maxFrameBytes` (zlib stops there: a small frame cannot
 * make it allocate more than an uncompressed frame could), refuses data after the end of
 * the stream, and decodes the inner frame with every check a plain frame gets, except
 * that it may not be compressed again.
 */
import { deflateRawSync } from 'node:zlib';
import { CrmsyncError } from '../errors.js';
import { DictionaryZlib, InflateFailure, inflateOnce, streamModeSupported } from './dictionary-zlib.js';

/** The frame encoding named in a hello's `compress`. */
export const DEFLATE_RAW = 'deflate-raw';
/** zlib level of sent frames: level 1 gives most of the gain (level 6: 1.5 instead of 1.7 MiB, measured in batches of 256 KiB) at half the CPU. */
const DEFLATE_LEVEL = 1;

/** The frame encoding named in a hello's `compress` for small frames deflated from the session's dictionary. */
export const DEFLATE_RAW_DICT = 'deflate-raw-dict-1';
/**
 * The same small frames on one deflate stream per direction for the whole session (context
 * takeover, dictionary-zlib.ts): used when both hellos name it. An edit's push takes about
 * 177 bytes instead of 229 and an ack about 46 instead of 53 (npm run bench: 189 instead
 * of 237 bytes an edit, both ways); the sender no longer hashes the dictionary per frame.
 */
export const DEFLATE_RAW_DICT_STREAM = 'deflate-raw-dict-stream-1';
/** The encodings this node names in its hello; stream mode only where this Node's zlib allows it. */
export function acceptedEncodings(): string[] {
  return [DEFLATE_RAW, DEFLATE_RAW_DICT, ...(streamModeSupported() ? [DEFLATE_RAW_DICT_STREAM] : [])];
}
/** First byte of a frame deflated from the dictionary: never the first byte of MessagePack (0xC1 is never used). */
export const DICTIONARY_FRAME_MARK = 0xc1;
/** Smallest frame worth deflating from the dictionary (a `mark` or `marked` of 15 bytes saves nothing). */
export const MIN_DICTIONARY_FRAME_BYTES = 32;
/**
 * Largest frame deflated from the dictionary: one as large as the dictionary's window has
 * enough inside it to repeat, and goes on its own (`minDeflateFrameBytes`) or plain.
 */
export const MAX_DICTIONARY_FRAME_BYTES = 4096;
/**
 * The window of dictionary frames: 4 KiB holds the dictionary (3.5 KiB and the node ids)
 * and a small frame; a larger one compresses these no better (measured) and takes more
 * memory per handle.
 */
const DICTIONARY_WINDOW_BITS = 12;
const DICTIONARY_MEM_LEVEL = 4;
/** The deflated body of `frame` when it is worth sending instead (at least `minBytes`, and at least an eighth smaller), else undefined. */
export function deflateFrame(frame: Uint8Array, minBytes: number): Uint8Array | undefined {
  if (frame.length < minBytes) return undefined;
  const deflated = deflateRawSync(frame, { level: DEFLATE_LEVEL });
  return deflated.length <= frame.length - (frame.length >> 3) ? deflated : undefined;
}

/** The zlib handles of one session's dictionary frames, both ways (dictionary-zlib.ts); `stream` when both hellos name DEFLATE_RAW_DICT_STREAM. */
export function dictionaryCodec(dictionary: Uint8Array, stream = false): DictionaryZlib {
  return new DictionaryZlib(dictionary, { windowBits: DICTIONARY_WINDOW_BITS, memLevel: DICTIONARY_MEM_LEVEL, stream });
}

/** `frame` deflated from the session's dictionary behind the marker byte, when that is smaller; else undefined. */
export function deflateWithDictionary(frame: Uint8Array, codec: DictionaryZlib): Uint8Array | undefined {
  if (frame.length < MIN_DICTIONARY_FRAME_BYTES || frame.length > MAX_DICTIONARY_FRAME_BYTES) return undefined;
  const deflated = codec.deflate(frame);
  // On a stream every frame deflated must go deflated: the peer's inflater has to see it.
  if (!codec.streaming && deflated.length + 1 >= frame.length) return undefined;
  const out = Buffer.allocUnsafe(deflated.length + 1);
  out[0] = DICTIONARY_FRAME_MARK;
  deflated.copy(out, 1);
  return out;
}

/** The frame behind a dictionary frame's marker, checked as inflateFrame checks a `deflated` message's. */
export function inflateWithDictionary(frame: Uint8Array, codec: DictionaryZlib, maxFrameBytes: number): Uint8Array {
  return inflated('a dictionary frame', maxFrameBytes, () => codec.inflate(frame.subarray(1), maxFrameBytes));
}

/** The frame a `deflated` message carries: ERR_FRAME_TOO_LARGE past `maxFrameBytes`, ERR_PROTOCOL when it does not inflate. */
export function inflateFrame(data: Uint8Array, maxFrameBytes: number): Uint8Array {
  return inflated('a deflated frame', maxFrameBytes, () => inflateOnce(data, maxFrameBytes));
}

/** Runs an inflate, turning its InflateFailure into the error a peer's bad frame gets. */
function inflated(what: string, maxFrameBytes: number, inflate: () => Uint8Array): Uint8Array {
  try {
    return inflate();
  } catch (err) {
    if (!(err instanceof InflateFailure)) throw err;
    if (err.tooLarge) throw new CrmsyncError('ERR_FRAME_TOO_LARGE', `${what} inflates past the ${maxFrameBytes}-byte limit`);
    throw new CrmsyncError('ERR_PROTOCOL', `invalid message: ${what} ${err.message}`);
  }
}
