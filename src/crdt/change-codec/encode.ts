/**
 * Builds the canonical change chunk for a change description: the bytes Automerge 3
 * itself writes for the same change, so `encodeChange(decodeChange(b))` is `b` for every
 * change Automerge produces, and a change built here is accepted by `A.applyChanges`.
 *
 * Written as plain loops over per-column arrays, without closures: a writer building
 * changes directly is meant to be much cheaper than going through an Automerge document.
 */
import { sealChunk } from './chunk.js';
import { SegmentColumn, writeBooleans, writeRle } from './encode-columns.js';
import { checkHeader, resolveOps, type ResolvedOp } from './encode-input.js';
import { ACTION_CODES, Col, COLUMN_COUNT, COLUMN_SPECS, VALUE_TYPE } from './layout.js';
import { ByteWriter, utf8Length } from './writer.js';
import type { ChangeInput } from './types.js';
import { valueMeta, writeValue } from './values.js';

/**
 * Encodes a change as an uncompressed (type 1) chunk. Throws a TypeError when the input
 * is not a valid change (bad ids, a value that does not fit its datatype, a reference to
 * an op that is not older than the referring op, …).
 */
export function encodeChange(change: ChangeInput): Uint8Array {
  return encodeHashedChange(change).change;
}

/**
 * `encodeChange`, with the change's hash (hex): sealing the chunk computes it for the
 * checksum, and a writer needs it next (a second SHA-256 of a created record's change
 * was about 2 µs of a bulk load's 150 to 200 µs a record).
 */
export function encodeHashedChange(change: ChangeInput): { change: Uint8Array; hash: string } {
  const deps = checkHeader(change);
  const { ops, actors } = resolveOps(change);
  const { others, index } = actorTable(actors);
  const lengths = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const data = DATA;
  const head = HEAD;
  data.reset(KEEP_WRITER_BYTES);
  head.reset(KEEP_WRITER_BYTES);
  if (ops.length > 0) writeColumns(ops, index, data, lengths);

  head.uleb(deps.length);
  for (let i = 0; i < deps.length; i++) head.hex(deps[i]!);
  head.uleb(change.actor.length / 2);
  head.hex(change.actor);
  head.uleb(change.seq);
  head.uleb(change.startOp);
  head.sleb(change.time);
  head.str(change.message ?? '');
  head.uleb(others.length);
  for (let i = 0; i < others.length; i++) {
    head.uleb(others[i]!.length / 2);
    head.hex(others[i]!);
  }
  let columns = 0;
  for (let slot = 0; slot < COLUMN_COUNT; slot++) if (lengths[slot]! > 0) columns++;
  head.uleb(columns);
  for (let slot = 0; slot < COLUMN_COUNT; slot++) {
    if (lengths[slot]! === 0) continue;
    head.uleb(COLUMN_SPECS[slot]!);
    head.uleb(lengths[slot]!);
  }
  const { chunk, hash } = sealChunk(head.view(), data.view());
  return { change: chunk, hash };
}

/**
 * The chunk's actor table: the author at index 0, then every other referenced actor,
 * sorted; and `index`, mapping each position in `actors` (the author first, then the
 * others in the order the ops referenced them) to its position in that table.
 */
function actorTable(actors: string[]): { others: string[]; index: number[] } {
  const others = actors.slice(1).sort();
  const index = actors.map((a, i) => (i === 0 ? 0 : others.indexOf(a) + 1));
  return { others, index };
}

/**
 * The writers of a change's column data and header, reused by every encode (sealChunk
 * copies both into the chunk): a bench record's change allocated a column buffer of about
 * 3 KB and a header buffer of a few hundred bytes. One that a large change grew past
 * KEEP_WRITER_BYTES is let go after it.
 */
const DATA = new ByteWriter(4096);
const HEAD = new ByteWriter(512);
const KEEP_WRITER_BYTES = 64 * 1024;

/** One column per op column, reused by every encode: encoding is synchronous, and no column outlives a call. */
const COLUMNS = {
  objActor: new SegmentColumn<number | null>(), objCtr: new SegmentColumn<number | null>(), keyActor: new SegmentColumn<number | null>(),
  keyCtr: new SegmentColumn<number | null>(), keyStr: new SegmentColumn<string | null>(), insert: new SegmentColumn<boolean>(),
  action: new SegmentColumn<number>(), meta: new SegmentColumn<number>(), predCount: new SegmentColumn<number>(),
  predActor: new SegmentColumn<number>(), predCtr: new SegmentColumn<number | null>(), expand: new SegmentColumn<boolean>(),
  markName: new SegmentColumn<string | null>(),
};
const ALL_COLUMNS = Object.values(COLUMNS);
/** The value metadata of one ASCII character (one UTF-8 byte, a string). */
const ASCII_META = 16 + VALUE_TYPE.str;

/** Writes every op column into `data`, recording each column's length (0: left out). */
function writeColumns(ops: ResolvedOp[], index: number[], data: ByteWriter, lengths: number[]): void {
  try {
    fillAndWrite(ops, index, data, lengths);
  } finally {
    // Empty for the next change, also after one that was refused half-way.
    for (const column of ALL_COLUMNS) column.reset();
  }
}

function fillAndWrite(ops: ResolvedOp[], index: number[], data: ByteWriter, lengths: number[]): void {
  const { objActor, objCtr, keyActor, keyCtr, keyStr, insert, action, meta, predCount, predActor, predCtr, expand, markName } = COLUMNS;
  for (let o = 0; o < ops.length; o++) {
    const { op, obj, elem, pred, run, own } = ops[o]!;
    const oa = obj === null ? null : index[obj.actor]!;
    const oc = obj === null ? null : obj.ctr;
    if (run > 1) {
      // `run` inserts of one character each, the first after `elem`, each next after the
      // one before it (the author's op own + k - 1): a few segments per column.
      objActor.add(oa, run);
      objCtr.add(oc, run);
      // The list head is counter 0 with no actor.
      keyActor.add(elem!.ctr === 0 ? null : index[elem!.actor]!);
      keyActor.add(index[0]!, run - 1);
      keyCtr.addCounter(elem!.ctr);
      keyCtr.addCounterRun(own, run - 1);
      keyStr.add(null, run);
      insert.add(true, run);
      action.add(ACTION_CODES.set, run);
      addTextMeta(meta, op.value as string, run);
      predCount.add(0, run);
      expand.add(false, run);
      markName.add(null, run);
      continue;
    }
    objActor.add(oa);
    objCtr.add(oc);
    keyActor.add(elem === null || elem.ctr === 0 ? null : index[elem.actor]!);
    keyCtr.addCounter(elem === null ? null : elem.ctr);
    keyStr.add(op.key);
    insert.add(op.insert);
    action.add(ACTION_CODES[op.action]);
    meta.add(valueMeta(op.datatype, op.value));
    predCount.add(pred.length);
    for (let j = 0; j < pred.length; j++) {
      predActor.add(index[pred[j]!.actor]!);
      predCtr.addCounter(pred[j]!.ctr);
    }
    expand.add(op.expand);
    markName.add(op.markName);
  }
  // A column whose values are all null (or all false) is left out, as Automerge does.
  let at = data.pos;
  at = close(lengths, Col.ObjActor, writeRle(data, objActor, 'uint'), data, at);
  at = close(lengths, Col.ObjCtr, writeRle(data, objCtr, 'uint'), data, at);
  at = close(lengths, Col.KeyActor, writeRle(data, keyActor, 'uint'), data, at);
  at = close(lengths, Col.KeyCtr, writeRle(data, keyCtr, 'int'), data, at);
  at = close(lengths, Col.KeyStr, writeRle(data, keyStr, 'str'), data, at);
  at = close(lengths, Col.Insert, writeBooleans(data, insert, false), data, at);
  at = close(lengths, Col.Action, writeRle(data, action, 'uint'), data, at);
  at = close(lengths, Col.ValMeta, writeRle(data, meta, 'uint'), data, at);
  // Values in op order; a run's characters are its text's UTF-8, written at once.
  for (let o = 0; o < ops.length; o++) {
    const { op, run } = ops[o]!;
    if (run > 1) data.utf8(op.value as string, utf8Length(op.value as string));
    else writeValue(data, op.datatype, op.value, valueMeta(op.datatype, op.value));
  }
  at = close(lengths, Col.ValRaw, data.pos > at, data, at);
  at = close(lengths, Col.PredGroup, writeRle(data, predCount, 'uint'), data, at);
  // Without any pred both columns are empty, and an empty column is left out (writeRle).
  at = close(lengths, Col.PredActor, writeRle(data, predActor, 'uint'), data, at);
  at = close(lengths, Col.PredCtr, writeRle(data, predCtr, 'int'), data, at);
  at = close(lengths, Col.Expand, writeBooleans(data, expand, true), data, at);
  at = close(lengths, Col.MarkName, writeRle(data, markName, 'str'), data, at);
}

/** The value metadata of each of a run's characters: its UTF-8 length, a string (all ASCII: one segment). */
function addTextMeta(meta: SegmentColumn<number>, text: string, run: number): void {
  if (utf8Length(text) === text.length) {
    meta.add(ASCII_META, run);
    return;
  }
  for (let j = 0; j < text.length; j++) {
    const code = text.charCodeAt(j);
    const bytes = code < 0x80 ? 1 : code < 0x800 ? 2 : code >= 0xd800 && code <= 0xdbff ? 4 : 3;
    if (bytes === 4) j++;
    meta.add(bytes * 16 + VALUE_TYPE.str);
  }
}

/** Records the length of the column just written (if it was), returns where the next starts. */
function close(lengths: number[], slot: number, written: boolean, data: ByteWriter, at: number): number {
  if (written) lengths[slot] = data.pos - at;
  return data.pos;
}
