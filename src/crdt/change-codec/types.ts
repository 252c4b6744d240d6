/**
 * The decoded form of one Automerge change chunk, as `decodeChange` returns it and
 * `encodeChange` takes it. It carries everything the chunk encodes (nothing is lost:
 * `encodeChange(decodeChange(b))` is `b` byte for byte), in plain JS values:
 *
 * - ids are strings in Automerge's own notation: an op id is `"<counter>@<actor hex>"`,
 *   the root object is `"_root"`, the list head is `"_head"`;
 * - header numbers and op counters are JS numbers (the codec refuses values beyond
 *   2^53 − 1 there); a scalar integer value (int, uint, counter, timestamp, inc amount)
 *   is a number when exact, else a bigint: Automerge 3 stores a JS number ≥ 2^53 written
 *   through its proxy API as a 64-bit int, which `A.decodeChange` cannot return (it
 *   throws a RangeError) but this codec decodes and re-encodes exactly;
 * - a value always comes with its datatype, so `1` (int), `1` (uint), `1` (counter) and
 *   `1.0` (f64) stay distinct.
 */

/** The operation kinds of the change format (action column values 0–7). */
export type OpAction =
  | 'makeMap' // 0
  | 'set' // 1
  | 'makeList' // 2
  | 'del' // 3
  | 'makeText' // 4
  | 'inc' // 5
  | 'makeTable' // 6
  | 'markBegin' // 7 with a mark name
  | 'markEnd'; // 7 without a mark name

/**
 * The type of an op's scalar value (value metadata type codes 0–9). Automerge 3 writes
 * an `ImmutableString` as `str`; collaborative text is a `makeText` object holding one
 * `set` op (a one-character `str`) per character.
 */
export type Datatype = 'null' | 'boolean' | 'uint' | 'int' | 'f64' | 'str' | 'bytes' | 'counter' | 'timestamp';

/** A scalar value; its meaning depends on the op's `datatype` (bigint only for integers beyond ±2^53). */
export type ScalarValue = null | boolean | number | bigint | string | Uint8Array;

/** One operation of a change. */
export interface ChangeOp {
  action: OpAction;
  /** The object the op acts on: `"_root"` or the op id of the op that made the object. */
  obj: string;
  /** Map key (any string, possibly empty); null for list/text ops, which use `elemId`. */
  key: string | null;
  /** List/text element: `"_head"` or an op id; null for map ops. */
  elemId: string | null;
  /** True when the op inserts a new element after `elemId`. */
  insert: boolean;
  /** The type of `value`. Always `'null'` for make*, del and markEnd; `'int'` for inc. */
  datatype: Datatype;
  /** set: the value; inc: the (signed) amount; markBegin: the mark's value; else null. */
  value: ScalarValue;
  /** The op ids this op overwrites, sorted by (counter, actor). */
  pred: string[];
  /** markBegin: the mark's name; null for every other action. */
  markName: string | null;
  /** markBegin/markEnd: whether the mark expands at this end; false for other actions. */
  expand: boolean;
  /**
   * Only when decoded with `textRuns`: how many ops this one stands for (1 for most). A run
   * of n > 1 is n inserts of strings into the same object by the change's author, each
   * after the one before (counters startOp + offset ... + n - 1); `value` is their
   * strings joined, `elemId` the first one's.
   */
  run?: number;
}

/** What `encodeChange` needs to build a change chunk. */
export interface ChangeInput {
  /** The author's actor id (hex). */
  actor: string;
  /** The author's sequence number for this change, from 1. */
  seq: number;
  /** Counter of the first op; op i has counter `startOp + i`. */
  startOp: number;
  /** Seconds since the epoch, as Automerge records it (may be 0 or negative). */
  time: number;
  /** Commit message; null when absent (an empty message is stored as absent). */
  message: string | null;
  /** Hashes (hex) of the changes this one depends on. */
  deps: readonly string[];
  ops: readonly ChangeOp[];
}

/** One decoded change chunk. */
export interface DecodedChange extends ChangeInput {
  /** SHA-256 (hex) of the uncompressed chunk: the change's identity. */
  hash: string;
  /** Sorted, unique dependency hashes (hex). */
  deps: string[];
  ops: ChangeOp[];
  /** The other actors the ops reference (hex, sorted): the chunk's actor table after the author. */
  otherActors: string[];
  /** 1 for a plain change chunk, 2 for a deflate-compressed one. */
  chunkType: 1 | 2;
}

/** Options of `decodeChange`. */
export interface DecodeOptions {
  /** Most ops (and most preds) one change may hold; see MAX_CHANGE_OPS. */
  maxOps?: number;
  /** Most bytes a compressed chunk may inflate to; see MAX_INFLATED_CHANGE_BYTES. */
  maxInflatedBytes?: number;
  /**
   * Joins runs of text inserts into one op each (ChangeOp.run): collaborative text is one
   * op per character, so a note is most of a record's ops, and a receiver needs only the
   * text. Every op is still checked as without it.
   */
  textRuns?: boolean;
}

/**
 * Default cap on ops (and on preds) per change. Run-length encoding lets a few bytes
 * claim millions of ops, so without a cap a 30-byte frame could make the decoder
 * allocate gigabytes. A record edit has tens of ops; pasting a long note a few thousand.
 */
export const MAX_CHANGE_OPS = 100_000;

/** The preds of every op without any (most ops): one shared array, so frozen (nothing mutates an op's preds). */
export const NO_PREDS = Object.freeze([]) as unknown as string[];

/** Default cap on the inflated size of a compressed (type 2) chunk: a deflate bomb guard. */
export const MAX_INFLATED_CHANGE_BYTES = 8 * 1024 * 1024;
