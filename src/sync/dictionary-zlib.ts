/**
 * Raw deflate and inflate of small frames from one preset dictionary, on zlib handles kept
 * for the life of a session (frame-deflate.ts, frame-dictionary.ts).
 *
 * Why not `deflateRawSync`: it builds a new stream and zlib state for every call. In one
 * process that is about 22 µs for an edit's frame, against 14 µs on a reused handle. In a
 * node writing with a connected peer the difference was far larger: one `deflateRawSync`
 * per write cost the writer about 250 µs more CPU per write (median of 8 alternating
 * runs), the reused handles about half of that for a deflate and an inflate per write. I
 * did not find why the one-shot calls cost so much more there. `reset()` restores the
 * dictionary, so nothing carries over from one frame to the next and every frame decodes
 * on its own.
 *
 * It drives the handle as node:zlib's own synchronous path does (`_handle.writeSync`, the
 * `_writeState` pair of counters), which Node has not changed since version 10; where they
 * are missing it uses the one-shot functions instead. A handle that failed (a peer's bad
 * data) is dropped and the next frame gets a new one.
 *
 * In `stream` mode (both hellos name 'deflate-raw-dict-stream-1') the handles are never
 * reset: each frame is deflated with Z_SYNC_FLUSH on one stream per direction, as
 * permessage-deflate does with context takeover. A frame may then repeat the frames before
 * it, and the dictionary is hashed once per session instead of once per frame. The price:
 * every frame deflated must be inflated, in order. A session sends each frame it deflates
 * and closes on any frame that fails; a failed codec refuses everything after.
 */
import { constants, createDeflateRaw, createInflateRaw, deflateRawSync, inflateRawSync, type DeflateRaw, type InflateRaw } from 'node:zlib';

/** What the reused stream objects expose (node:zlib internals, checked before use). */
interface ZlibInternals {
  _handle: { writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void } | null;
  _writeState: Uint32Array;
  destroyed: boolean;
  reset(): void;
  destroy(): void;
}

/** How the dictionary frames are deflated (frame-deflate.ts names the values). */
export interface DictionaryZlibOptions {
  windowBits: number;
  memLevel: number;
  /** One stream per direction for the whole session (context takeover); default: each frame on its own. */
  stream?: boolean;
}

/** The end of every Z_SYNC_FLUSH: an empty stored block. Stream frames go without it; the receiver puts it back. */
const SYNC_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Whether `stream` exposes the internals these handles drive. */
function hasInternals(stream: DeflateRaw | InflateRaw): stream is (DeflateRaw | InflateRaw) & ZlibInternals {
  const internals = stream as unknown as Partial<ZlibInternals>;
  return typeof internals._handle?.writeSync === 'function' && internals._writeState instanceof Uint32Array && typeof internals.reset === 'function';
}

/** A deflated piece without its sync tail; zlib ends every Z_SYNC_FLUSH with it, and a piece without it would desynchronise the peer. */
function withoutSyncTail(out: Buffer): Buffer {
  if (out.length < SYNC_TAIL.length || !SYNC_TAIL.equals(out.subarray(out.length - SYNC_TAIL.length))) throw new TypeError('zlib ended a sync flush without its tail');
  return out.subarray(0, out.length - SYNC_TAIL.length);
}

let streamModeProbe: boolean | undefined;
/**
 * Whether this Node's zlib streams have the internals `stream` mode needs (it has no
 * one-shot fallback). Probed on first use, not at start-up: node:zlib's first stream takes
 * about 2 ms.
 */
export function streamModeSupported(): boolean {
  if (streamModeProbe === undefined) {
    const probe = createDeflateRaw();
    streamModeProbe = hasInternals(probe);
    probe.destroy();
  }
  return streamModeProbe;
}

/** A failed inflate: `tooLarge` when the output passed the limit, else the data is not deflate. */
export class InflateFailure extends Error {
  constructor(readonly tooLarge: boolean, message: string) {
    super(message);
  }
}

/** Output space per writeSync; a larger frame takes more calls. */
const OUT_CHUNK = 16 * 1024;

export class DictionaryZlib {
  readonly #deflateOptions: { windowBits: number; memLevel: number; dictionary: Uint8Array };
  readonly #inflateOptions: { windowBits: number; dictionary: Uint8Array };
  readonly #stream: boolean;
  readonly #out = Buffer.allocUnsafe(OUT_CHUNK);
  #deflater: (DeflateRaw & ZlibInternals) | undefined;
  #inflater: (InflateRaw & ZlibInternals) | undefined;
  /**
   * Closed, or this Node's zlib streams lack the internals: one-shot calls only. In stream
   * mode also after a frame failed (the codec closes itself): nothing goes through after.
   */
  #oneShot = false;

  constructor(dictionary: Uint8Array, options: DictionaryZlibOptions) {
    this.#deflateOptions = { windowBits: options.windowBits, memLevel: options.memLevel, dictionary };
    this.#inflateOptions = { windowBits: options.windowBits, dictionary };
    this.#stream = options.stream === true;
    if (this.#stream && !streamModeSupported()) throw new TypeError('stream mode needs zlib internals this Node does not have (see streamModeSupported)');
  }

  /** Whether frames go on one stream per direction (context takeover). */
  get streaming(): boolean {
    return this.#stream;
  }

  /**
   * Raw deflate of `input` from the dictionary (the same bytes `deflateRawSync` gives). In
   * stream mode: the stream's next piece, without its sync tail.
   */
  deflate(input: Uint8Array): Buffer {
    if (this.#stream) {
      return this.#streamStep(() => (this.#deflater ??= this.#reusable(createDeflateRaw(this.#deflateOptions))), input, Infinity, withoutSyncTail);
    }
    const deflater = this.#oneShot ? undefined : (this.#deflater ??= this.#reusable(createDeflateRaw(this.#deflateOptions)));
    return (deflater && this.#drive(deflater, input, Infinity)) ?? deflateRawSync(input, this.#deflateOptions);
  }

  /** Raw inflate of `data` from the dictionary (stream mode: the stream's next piece), at most `maxOutput` bytes; throws InflateFailure. */
  inflate(data: Uint8Array, maxOutput: number): Buffer {
    if (this.#stream) {
      return this.#streamStep(() => (this.#inflater ??= this.#reusable(createInflateRaw(this.#inflateOptions))), Buffer.concat([data, SYNC_TAIL]), maxOutput);
    }
    const inflater = this.#oneShot ? undefined : (this.#inflater ??= this.#reusable(createInflateRaw(this.#inflateOptions)));
    if (!inflater) return inflateOnce(data, maxOutput, this.#inflateOptions);
    const out = this.#drive(inflater, data, maxOutput);
    if (out === undefined) throw new InflateFailure(false, 'does not inflate (not raw deflate of this session)');
    return out;
  }

  /**
   * True while frames go through reused handles; false once this Node's zlib streams
   * turned out to lack the internals used (or after close): one-shot calls, same bytes,
   * more CPU. Tests assert it, so a Node release that changes the internals shows.
   */
  get reusesHandles(): boolean {
    return !this.#oneShot;
  }

  /**
   * One Z_SYNC_FLUSH step on a session stream, its output passed through `finish`; any
   * failure closes the codec for good (its stream no longer matches the peer's).
   */
  #streamStep(handle: () => ZlibInternals | undefined, input: Uint8Array, maxOutput: number, finish: (out: Buffer) => Buffer = (out) => out): Buffer {
    if (this.#oneShot) throw new InflateFailure(false, 'comes after the session\'s compression stream failed or closed');
    try {
      const stream = handle();
      const out = stream && this.#drive(stream, input, maxOutput, constants.Z_SYNC_FLUSH);
      if (out === undefined) throw new InflateFailure(false, 'does not inflate (not the next piece of this session\'s stream)');
      return finish(out);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Frees both handles; later calls use the one-shot functions (stream mode: refuse). */
  close(): void {
    this.#oneShot = true;
    this.#deflater?.destroy();
    this.#inflater?.destroy();
    this.#deflater = this.#inflater = undefined;
  }

  /**
   * Feeds all of `input` with `flush` and collects the output. Z_FINISH: then resets the
   * handle for the next frame; Z_SYNC_FLUSH (stream mode): the stream goes on. Undefined
   * when zlib failed (the handle is then dropped); InflateFailure past `maxOutput` or when
   * input is left after the end of the stream.
   */
  #drive(stream: ZlibInternals, input: Uint8Array, maxOutput: number, flush: number = constants.Z_FINISH): Buffer | undefined {
    const chunks: Buffer[] = [];
    let total = 0;
    let inOff = 0;
    let availIn = input.length;
    try {
      for (;;) {
        stream._handle!.writeSync(flush, input, inOff, availIn, this.#out, 0, OUT_CHUNK);
        if (stream.destroyed || !stream._handle) return this.#drop(stream);
        const [availOut, inLeft] = stream._writeState as unknown as [number, number];
        const have = OUT_CHUNK - availOut;
        total += have;
        if (total > maxOutput) throw new InflateFailure(true, `inflates past ${maxOutput} bytes`);
        chunks.push(Buffer.from(this.#out.subarray(0, have)));
        inOff += availIn - inLeft;
        availIn = inLeft;
        // Output full: more may come. Otherwise the stream ended (zlib reports a truncated one as an error).
        if (availOut !== 0) break;
      }
      if (availIn !== 0) throw new InflateFailure(false, 'has data after the end of its stream');
      if (flush === constants.Z_FINISH) stream.reset();
      return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
    } catch (err) {
      if (stream.destroyed || !stream._handle) this.#drop(stream);
      else if (flush === constants.Z_FINISH) stream.reset();
      throw err;
    }
  }

  /** The stream, if its internals are as expected; else undefined, and one-shot calls from now on. */
  #reusable<T extends DeflateRaw | InflateRaw>(stream: T): (T & ZlibInternals) | undefined {
    // A failed write reports through an 'error' event on the next tick: heard here, handled synchronously in #drive.
    stream.on('error', () => undefined);
    if (!hasInternals(stream)) {
      stream.destroy();
      this.#oneShot = true;
      return undefined;
    }
    return stream as T & ZlibInternals;
  }

  #drop(stream: ZlibInternals): undefined {
    if (stream === this.#deflater) this.#deflater = undefined;
    if (stream === this.#inflater) this.#inflater = undefined;
    stream.destroy();
    return undefined;
  }
}

/**
 * One-shot raw inflate of `data` (from `options.dictionary`, if any), at most `maxOutput`
 * bytes; throws InflateFailure. Data after the end of the stream is refused (zlib would
 * ignore it), so one frame has one encoding.
 */
export function inflateOnce(data: Uint8Array, maxOutput: number, options: { windowBits?: number; dictionary?: Uint8Array } = {}): Buffer {
  let result: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    result = inflateRawSync(data, { ...options, info: true, maxOutputLength: maxOutput }) as unknown as typeof result;
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new InflateFailure(code === 'ERR_BUFFER_TOO_LARGE', `does not inflate (${code ?? 'error'})`);
  }
  if (result.engine.bytesWritten !== data.length) throw new InflateFailure(false, 'has data after the end of its stream');
  return result.buffer;
}
