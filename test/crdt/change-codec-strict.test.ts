/**
 * The decoder's rules one by one, on hand-made chunks: each bad case differs from a valid
 * base change in one respect, and must be refused with ERR_PROTOCOL. Also the features
 * around them: compressed chunks, 64-bit values, allocation bounds, empty changes.
 */
import * as A from '@automerge/automerge';
import { hash } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeChange, encodeChange, toAutomergeShape, type ChangeOp } from '../../src/crdt/change-codec/index.js';
import { ByteWriter } from '../../src/crdt/change-codec/writer.js';
import { hasCode } from '../../src/errors.js';

const AUTHOR = 'aa';
const OTHER = 'bb';
type Column = [spec: number, bytes: number[]];

interface Parts {
  deps?: string[];
  actor?: string;
  seq?: number;
  startOp?: number;
  time?: number;
  message?: string;
  others?: string[];
  columns?: Column[];
  extra?: number[];
}

/** One op, `set _root "a" = null`, column by column. */
const BASE: Column[] = [
  [0x15, [0x7f, 1, 0x61]], // key string: literal run of one: "a"
  [0x34, [1]], // insert: one false
  [0x42, [0x7f, 1]], // action: literal [1] (set)
  [0x56, [0x7f, 0]], // value metadata: literal [0] (null)
  [0x70, [0x7f, 0]], // pred count: literal [0]
];

/** Two ops, `set _root "a" = null` and `set _root "b" = null`. */
const BASE2: Column[] = [
  [0x15, [0x7e, 1, 0x61, 1, 0x62]], // key string: literal ["a", "b"]
  [0x34, [2]],
  [0x42, [2, 1]], // action: a run of two sets
  [0x56, [2, 0]],
  [0x70, [2, 0]],
];

/** A chunk with these header fields and columns (the checksum always right). */
function chunk(p: Parts = {}, type = 1): Uint8Array {
  const w = new ByteWriter();
  const deps = p.deps ?? [];
  w.uleb(deps.length);
  for (const d of deps) w.hex(d);
  const actor = p.actor ?? AUTHOR;
  w.uleb(actor.length / 2);
  w.hex(actor);
  w.uleb(p.seq ?? 1);
  w.uleb(p.startOp ?? 1);
  w.sleb(p.time ?? 0);
  w.str(p.message ?? '');
  const others = p.others ?? [];
  w.uleb(others.length);
  for (const o of others) {
    w.uleb(o.length / 2);
    w.hex(o);
  }
  const columns = p.columns ?? BASE;
  w.uleb(columns.length);
  for (const [spec, bytes] of columns) {
    w.uleb(spec);
    w.uleb(bytes.length);
  }
  for (const [, bytes] of columns) w.bytes(Uint8Array.from(bytes));
  w.bytes(Uint8Array.from(p.extra ?? []));
  return seal(w.view(), type);
}

/** Wraps a body into a chunk of `type` with a correct length and checksum. */
function seal(body: Uint8Array, type = 1): Uint8Array {
  const w = new ByteWriter();
  w.bytes(Uint8Array.of(0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, type));
  w.uleb(body.length);
  w.bytes(body);
  const out = Uint8Array.from(w.view());
  out.set(hash('sha256', out.subarray(8), 'buffer').subarray(0, 4), 4);
  return out;
}

/** The same change as a compressed (type 2) chunk: deflated body, checksum of the type-1 form. */
function compress(change: Uint8Array, mutate: (deflated: Buffer) => Buffer = (d) => d): Uint8Array {
  let at = 9;
  while (change[at]! & 0x80) at++;
  const deflated = mutate(deflateRawSync(change.subarray(at + 1)));
  const w = new ByteWriter();
  w.bytes(Uint8Array.of(0x85, 0x6f, 0x4a, 0x83, ...change.subarray(4, 8), 2));
  w.uleb(deflated.length);
  w.bytes(deflated);
  return Uint8Array.from(w.view());
}

/** BASE with one column replaced (or added, or removed with null). */
function withColumn(spec: number, bytes: number[] | null, columns: Column[] = BASE): Column[] {
  const rest = columns.filter(([s]) => s !== spec);
  return (bytes === null ? rest : [...rest, [spec, bytes] as Column]).sort((a, b) => a[0] - b[0]);
}

function refused(bytes: Uint8Array, options?: Parameters<typeof decodeChange>[1]): void {
  let error: unknown;
  try {
    decodeChange(bytes, options);
  } catch (err) {
    error = err;
  }
  expect(hasCode(error, 'ERR_PROTOCOL'), String(error)).toBe(true);
}

function op(partial: Partial<ChangeOp> & Pick<ChangeOp, 'action'>): ChangeOp {
  return { obj: '_root', key: 'a', elemId: null, insert: false, datatype: 'null', value: null, pred: [], markName: null, expand: false, ...partial };
}

describe('change decoder: hand-made chunks', () => {
  it('decodes the valid base change like Automerge', () => {
    const bytes = chunk();
    expect(toAutomergeShape(decodeChange(bytes))).toEqual(A.decodeChange(bytes));
    expect(encodeChange(decodeChange(bytes))).toEqual(bytes);
  });

  it('refuses a bad envelope', () => {
    const good = chunk();
    refused(good.subarray(0, 9));
    refused(Uint8Array.from([0x85, 0x6f, 0x4a, 0x84, ...good.subarray(4)])); // magic
    for (const type of [0, 3, 4]) refused(Uint8Array.from([...good.subarray(0, 8), type, ...good.subarray(9)]));
    refused(Uint8Array.from([...good, 0])); // longer than its length says
    refused('not bytes' as unknown as Uint8Array);
    const badSum = good.slice();
    badSum[4] = badSum[4]! ^ 1;
    refused(badSum);
    // A difference: A.decodeChange does not verify the checksum.
    expect(A.decodeChange(badSum).hash).toBe(decodeChange(good).hash);
  });

  it('refuses bad header fields', () => {
    const dep = (b: string): string => b.repeat(64);
    refused(chunk({ deps: [dep('b'), dep('a')] })); // unsorted
    refused(chunk({ deps: [dep('a'), dep('a')] })); // repeated
    refused(chunk({ seq: 0 }));
    refused(chunk({ startOp: 0 }));
    refused(chunk({ startOp: 2 ** 32 })); // Automerge's op counters are 32-bit
    refused(chunk({ actor: '' }));
    refused(chunk({ others: [AUTHOR] })); // the author listed again
    refused(chunk({ others: ['cc', OTHER] })); // unsorted
    refused(chunk({ others: [OTHER] })); // listed but never referenced
    refused(chunk({ extra: [0] })); // bytes after the columns
    const badUtf8 = chunk({ message: 'ab' });
    badUtf8[badUtf8.indexOf(0x61)] = 0xff;
    refused(seal(badUtf8.subarray(10)));
  });

  it('refuses a bad column table', () => {
    refused(chunk({ columns: withColumn(0x1234, [0]) })); // unknown column
    refused(chunk({ columns: withColumn(0x15, null).concat([[0x15 | 8, [0x7f, 1, 0x61]]]) })); // deflate bit
    refused(chunk({ columns: [BASE[1]!, BASE[0]!, ...BASE.slice(2)] })); // out of order
    refused(chunk({ columns: [BASE[0]!, BASE[0]!, ...BASE.slice(1)] })); // repeated
    refused(chunk({ columns: withColumn(0x02, []) })); // present but empty
    refused(chunk({ columns: withColumn(0x34, null) })); // insert column missing
    refused(chunk({ columns: withColumn(0x42, null) })); // no action column but other columns
    refused(chunk({ columns: withColumn(0x73, [0x7f, 1]) })); // pred counters without preds
  });

  it('accepts only the canonical column encodings', () => {
    refused(chunk({ columns: withColumn(0x42, [1, 1]) })); // repeat run of one item
    expect(decodeChange(chunk({ columns: BASE2 })).ops.map((o) => o.key)).toEqual(['a', 'b']);
    refused(chunk({ columns: withColumn(0x15, [0x7e, 1, 0x61, 1, 0x61], BASE2) })); // literal of equal values
    refused(chunk({ columns: withColumn(0x15, [0x7f, 1, 0x61, 0x7f, 1, 0x62], BASE2) })); // two adjacent literals
    refused(chunk({ columns: withColumn(0x42, [0x7f, 1, 0x7f, 1], BASE2) })); // ditto, in the action column
    refused(chunk({ columns: withColumn(0x15, [0, 1, 0, 1], BASE2) })); // two adjacent null runs
    refused(chunk({ columns: withColumn(0x15, [0x7f, 1, 0x61, 0, 0]) })); // empty null run
    refused(chunk({ columns: withColumn(0x42, [0xff, 0x7f, 1]) })); // over-long LEB128 (-1 in two bytes)
    refused(chunk({ columns: withColumn(0x34, [1, 0]) })); // boolean run of zero after the first
    refused(chunk({ columns: withColumn(0x34, [0, 0, 1]) })); // ditto
    refused(chunk({ columns: withColumn(0x02, [0, 1]) })); // a column of nulls is left out instead
    refused(chunk({ columns: withColumn(0x94, [1]) })); // an all-false expand column too
    refused(chunk({ columns: withColumn(0x42, [0x7f, 1, 0]) })); // trailing byte
  });

  it('applies the run rules to every kind of column alike: unsigned ints, strings and deltas', () => {
    /** Three ops `set _root <key> = null`, column by column. */
    const three: Column[] = [[0x15, [0x7d, 1, 0x61, 1, 0x62, 1, 0x63]], [0x34, [3]], [0x42, [3, 1]], [0x56, [3, 0]], [0x70, [3, 0]]];
    /** Three inserts after the elements the key counter column gives (by the author; ops 5 to 7). */
    const inserts = (keyCtr: number[], keyActor: number[] | null = [3, 0]): Column[] =>
      withColumn(0x15, null, withColumn(0x11, keyActor, withColumn(0x13, keyCtr, withColumn(0x34, [0, 3], three))));
    const decoded = (columns: Column[], startOp = 5) => decodeChange(chunk({ startOp, columns }));
    const continues = /run continues the previous value/;
    expect(decoded(three).ops.map((o) => o.key)).toEqual(['a', 'b', 'c']);
    // Unsigned ints: a repeat run may not continue a literal's last value; a literal may not start with a run's.
    expect(() => decoded(withColumn(0x42, [0x7f, 1, 2, 1], three))).toThrow(continues);
    expect(() => decoded(withColumn(0x70, [2, 0, 0x7f, 0], three))).toThrow(/repeated value inside a literal run/);
    // Strings: the same rules.
    expect(() => decoded(withColumn(0x15, [0x7f, 1, 0x61, 2, 1, 0x61], three))).toThrow(continues);
    expect(() => decoded(withColumn(0x15, [2, 1, 0x61, 0x7f, 1, 0x61], three))).toThrow(/repeated value inside a literal run/);
    // Deltas: element counters 4, 4, 4 are the deltas 4, 0, 0 (a first run of 0 is no continuation) ...
    expect(decoded(inserts([0x7f, 4, 2, 0])).ops.map((o) => o.elemId)).toEqual([`4@${AUTHOR}`, `4@${AUTHOR}`, `4@${AUTHOR}`]);
    expect(decoded(inserts([3, 0], null)).ops.map((o) => o.elemId)).toEqual(['_head', '_head', '_head']);
    // ... and 4, 5, 6 are 4, 1, 1; as a literal [4] and a run of two 4s they are refused.
    expect(decoded(inserts([0x7f, 4, 2, 1])).ops.map((o) => o.elemId)).toEqual([`4@${AUTHOR}`, `5@${AUTHOR}`, `6@${AUTHOR}`]);
    expect(() => decoded(inserts([0x7f, 4, 2, 4]))).toThrow(continues);
    // A run after a null run may repeat the delta before the nulls: 4, null, 8, 12 (the second op sets a map key).
    const four: Column[] = [[0x11, [0x7f, 0, 0, 1, 2, 0]], [0x13, [0x7f, 4, 0, 1, 2, 4]], [0x15, [0, 1, 0x7f, 1, 0x62, 0, 2]], [0x34, [0, 1, 1, 2]], [0x42, [4, 1]], [0x56, [4, 0]], [0x70, [4, 0]]];
    expect(decoded(four, 13).ops.map((o) => o.elemId ?? o.key)).toEqual([`4@${AUTHOR}`, 'b', `8@${AUTHOR}`, `12@${AUTHOR}`]);
  });

  it('refuses ops that do not fit the format or Lamport order', () => {
    const elem = (actor: number, ctr: number): Column[] =>
      withColumn(0x15, null, withColumn(0x11, [0x7f, actor], withColumn(0x13, [0x7f, ctr], withColumn(0x34, [0, 1]))));
    expect(decodeChange(chunk({ startOp: 5, columns: elem(0, 4) })).ops[0]!.elemId).toBe(`4@${AUTHOR}`);
    refused(chunk({ startOp: 5, columns: elem(1, 4) })); // actor index out of range
    refused(chunk({ startOp: 5, columns: elem(0, 5) })); // references itself
    refused(chunk({ startOp: 5, columns: elem(0, 9) })); // references the future
    refused(chunk({ columns: withColumn(0x34, [0, 1]) })); // insert into a map
    refused(chunk({ columns: withColumn(0x13, [0x7f, 0]) })); // both a key and the list head
    refused(chunk({ columns: withColumn(0x42, [0x7f, 8]) })); // unknown action
    refused(chunk({ columns: withColumn(0x42, [0x7f, 3], withColumn(0x56, [0x7f, 2])) })); // del with a value
    refused(chunk({ columns: withColumn(0x42, [0x7f, 5], withColumn(0x56, [0x7f, 0x13], [...BASE, [0x57, [1]]])) })); // inc by a uint
    refused(chunk({ columns: withColumn(0x42, [0x7f, 7], withColumn(0x56, [0x7f, 2])) })); // markEnd with a value
    refused(chunk({ columns: withColumn(0xa5, [0x7f, 1, 0x62]) })); // mark name on a set
  });

  it('checks values against their metadata', () => {
    const value = (meta: number[], raw: number[]): Uint8Array => chunk({ columns: withColumn(0x57, raw, withColumn(0x56, meta)) });
    expect(decodeChange(value([0x7f, 0x14], [0x7f])).ops[0]!.value).toBe(-1);
    refused(value([0x7f, 0x24], [0x7f])); // metadata says 2 bytes, there is 1
    refused(value([0x7f, 0x24], [0xff, 0x7f])); // over-long -1
    refused(value([0x7f, 0x1a], [0])); // unknown type code 10
    refused(value([0x7f, 0x10], [0])); // null with a length
    refused(value([0x7f, 0x85, 0x01], [0, 0, 0, 0, 0, 0, 0xf8, 0xff])); // NaN with the sign bit
    refused(value([0x7f, 0x26], [0xc3, 0x28])); // invalid UTF-8
    refused(value([0x7f, 0x36], [0xed, 0xa0, 0x80])); // UTF-8 of a lone surrogate
    refused(value([0x7f, 0x16], [0x61, 0x62])); // unused raw bytes
  });

  it('keeps a leading byte-order mark and returns bytes as a copy', () => {
    const bytes = encodeChange({ actor: AUTHOR, seq: 1, startOp: 1, time: 0, message: null, deps: [], ops: [op({ action: 'set', datatype: 'str', value: '\ufeffx' }), op({ action: 'set', key: 'b', datatype: 'bytes', value: Uint8Array.of(1, 2) })] });
    const decoded = decodeChange(bytes);
    expect(decoded.ops[0]!.value).toBe('\ufeffx');
    expect(toAutomergeShape(decoded)).toEqual(A.decodeChange(bytes));
    const copy = decoded.ops[1]!.value as Uint8Array;
    bytes.fill(0);
    expect([...copy]).toEqual([1, 2]);
  });

  it('round-trips 64-bit integers as bigints, which A.decodeChange cannot return', () => {
    const values: Array<[ChangeOp['datatype'], bigint | number]> = [
      ['int', 2n ** 60n],
      ['int', -(2n ** 63n)],
      ['uint', 2n ** 64n - 1n],
      ['counter', 2n ** 62n],
      ['timestamp', -(2n ** 53n)],
      ['int', Number.MAX_SAFE_INTEGER],
    ];
    const ops = values.map(([datatype, value], i) => op({ action: 'set', key: `k${i}`, datatype, value }));
    const bytes = encodeChange({ actor: AUTHOR, seq: 1, startOp: 1, time: 0, message: null, deps: [], ops });
    expect(decodeChange(bytes).ops.map((o) => o.value)).toEqual(values.map(([, v]) => v));
    expect(() => A.decodeChange(bytes)).toThrow(RangeError);
    refused(chunk({ columns: withColumn(0x57, [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02], withColumn(0x56, [0x7f, 0xa3, 0x01])) })); // uint ≥ 2^64
  });

  it('bounds every count by the cap or the bytes present, never by what a length claims', () => {
    const start = performance.now();
    refused(chunk({ columns: withColumn(0x42, [0x80, 0x94, 0xeb, 0xdc, 0x03, 1]) })); // a run of 10^9 sets
    refused(chunk({ columns: withColumn(0x70, [0x7f, 0x80, 0x94, 0xeb, 0xdc, 0x03]) })); // one op with 10^9 preds
    const w = new ByteWriter();
    w.uleb(2 ** 40); // 2^40 dependencies claimed
    refused(seal(w.view()));
    refused(chunk(), { maxOps: 0 });
    expect(performance.now() - start).toBeLessThan(1000);
    // A deflate bomb: 64 MiB of zeros in ~64 KiB, refused past maxInflatedBytes.
    const bomb = compress(chunk(), () => deflateRawSync(Buffer.alloc(64 * 1024 * 1024)));
    refused(bomb, { maxInflatedBytes: 1024 * 1024 });
  });

  it('decodes compressed (type 2) chunks as Automerge does, and refuses bad ones', () => {
    const doc = A.change(A.init<any>({ actor: 'cc03' }), { time: 1 }, (d) => (d.notes = 'a long note, '.repeat(30)));
    const plain = A.getLastLocalChange(doc)!;
    const [commit] = A.getCommits(doc);
    expect(commit!.bytes[8]).toBe(2);
    const decoded = decodeChange(commit!.bytes);
    expect(decoded).toEqual({ ...decodeChange(plain), chunkType: 2 });
    expect(toAutomergeShape(decoded)).toEqual(A.decodeChange(commit!.bytes));
    expect(encodeChange(decoded)).toEqual(plain);
    expect(decodeChange(compress(plain)).hash).toBe(decoded.hash);
    refused(compress(plain, (d) => Buffer.concat([d, Buffer.of(0)]))); // data after the deflate stream
    refused(compress(plain, (d) => d.subarray(0, d.length - 1))); // truncated deflate stream
    const badSum = compress(plain);
    badSum[5] = badSum[5]! ^ 1;
    refused(badSum);
  });

  it('round-trips an empty change with a message', () => {
    const bytes = chunk({ columns: [], message: 'checkpoint ✓', seq: 3, startOp: 9, time: -5 });
    const decoded = decodeChange(bytes);
    expect(decoded.ops).toEqual([]);
    expect(toAutomergeShape(decoded)).toEqual(A.decodeChange(bytes));
    expect(encodeChange(decoded)).toEqual(bytes);
  });
});
