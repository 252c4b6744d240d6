/**
 * Builds the canonical change chunk for a change description: the bytes Automerge 3
 * itself writes for the same change, so `encodeChange(decodeChange(b))` is `b` for every
 * change Automerge produces, and a change built here is accepted by `A.applyChanges`.
 *
 * Written as plain loops over per-column arrays, without closures: a writer building
 * changes directly is meant to be much cheaper than going through an Automerge document.
 */
import { sealChunk } from './chunk.js';
import { writeBooleans, writeDelta, writeRle } from './encode-columns.js';
import { checkHeader, resolveOps, type ResolvedOp } from './encode-input.js';
import { ACTION_CODES, Col, COLUMN_COUNT, COLUMN_SPECS } from './layout.js';
import { ByteWriter } from './writer.js';
import type { ChangeInput } from './types.js';
import { valueMeta, writeValue } from './values.js';

/**
 * Encodes a change as an uncompressed (type 1) chunk. Throws a TypeError when the input
 * is not a valid change (bad ids, a value that does not fit its datatype, a reference to
 * an op that is not older than the referring op, …).
 */
export function encodeChange(change: ChangeInput): Uint8Array {
  const deps = checkHeader(change);
  const { ops, actors } = resolveOps(change);
  const { others, index } = actorTable(actors);
  const lengths = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const data = new ByteWriter(64 + ops.length * 24);
  if (ops.length > 0) writeColumns(ops, index, data, lengths);

  const head = new ByteWriter(64 + deps.length * 32 + (change.message?.length ?? 0) * 3);
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
  return sealChunk(head.view(), data.view());
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

/** Writes every op column into `data`, recording each column's length (0: left out). */
function writeColumns(ops: ResolvedOp[], index: number[], data: ByteWriter, lengths: number[]): void {
  const n = ops.length;
  const objActor: (number | null)[] = new Array(n);
  const objCtr: (number | null)[] = new Array(n);
  const keyActor: (number | null)[] = new Array(n);
  const keyCtr: (number | null)[] = new Array(n);
  const keyStr: (string | null)[] = new Array(n);
  const insert: boolean[] = new Array(n);
  const action: number[] = new Array(n);
  const meta: number[] = new Array(n);
  const predCount: number[] = new Array(n);
  const predActor: number[] = [];
  const predCtr: number[] = [];
  const expand: boolean[] = new Array(n);
  const markName: (string | null)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const { op, obj, elem, pred } = ops[i]!;
    objActor[i] = obj === null ? null : index[obj.actor]!;
    objCtr[i] = obj === null ? null : obj.ctr;
    // The list head is counter 0 with no actor.
    keyActor[i] = elem === null || elem.ctr === 0 ? null : index[elem.actor]!;
    keyCtr[i] = elem === null ? null : elem.ctr;
    keyStr[i] = op.key;
    insert[i] = op.insert;
    action[i] = ACTION_CODES[op.action];
    meta[i] = valueMeta(op.datatype, op.value);
    predCount[i] = pred.length;
    for (let j = 0; j < pred.length; j++) {
      predActor.push(index[pred[j]!.actor]!);
      predCtr.push(pred[j]!.ctr);
    }
    expand[i] = op.expand;
    markName[i] = op.markName;
  }
  // A column whose values are all null (or all false) is left out, as Automerge does.
  let at = data.pos;
  at = close(lengths, Col.ObjActor, writeRle(data, objActor, 'uint'), data, at);
  at = close(lengths, Col.ObjCtr, writeRle(data, objCtr, 'uint'), data, at);
  at = close(lengths, Col.KeyActor, writeRle(data, keyActor, 'uint'), data, at);
  at = close(lengths, Col.KeyCtr, writeDelta(data, keyCtr), data, at);
  at = close(lengths, Col.KeyStr, writeRle(data, keyStr, 'str'), data, at);
  at = close(lengths, Col.Insert, writeBooleans(data, insert, false), data, at);
  at = close(lengths, Col.Action, writeRle(data, action, 'uint'), data, at);
  at = close(lengths, Col.ValMeta, writeRle(data, meta, 'uint'), data, at);
  for (let i = 0; i < n; i++) writeValue(data, ops[i]!.op.datatype, ops[i]!.op.value, meta[i]!);
  at = close(lengths, Col.ValRaw, data.pos > at, data, at);
  at = close(lengths, Col.PredGroup, writeRle(data, predCount, 'uint'), data, at);
  at = close(lengths, Col.PredActor, predActor.length > 0 && writeRle(data, predActor, 'uint'), data, at);
  at = close(lengths, Col.PredCtr, predCtr.length > 0 && writeDelta(data, predCtr), data, at);
  at = close(lengths, Col.Expand, writeBooleans(data, expand, true), data, at);
  at = close(lengths, Col.MarkName, writeRle(data, markName, 'str'), data, at);
}

/** Records the length of the column just written (if it was), returns where the next starts. */
function close(lengths: number[], slot: number, written: boolean, data: ByteWriter, at: number): number {
  if (written) lengths[slot] = data.pos - at;
  return data.pos;
}
