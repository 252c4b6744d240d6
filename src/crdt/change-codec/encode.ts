/**
 * Builds the canonical change chunk for a change description: the bytes Automerge 3
 * itself writes for the same change, so `encodeChange(decodeChange(b))` is `b` for every
 * change Automerge produces, and a change built here is accepted by `A.applyChanges`.
 *
 * Written as plain loops over per-column arrays, without closures: a writer building
 * changes directly is meant to be much cheaper than going through an Automerge document.
 */
import { sealChunk } from './chunk.js';
import { releaseScratch } from './scratch.js';
import { writeBooleans, writeDelta, writeRle } from './encode-columns.js';
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
  const deps = checkHeader(change);
  const { ops, actors } = resolveOps(change);
  const { others, index } = actorTable(actors);
  const lengths = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const data = new ByteWriter(64 + opCount(ops) * 24);
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

/** Ops the resolved ops stand for (a text run is one per character). */
function opCount(ops: ResolvedOp[]): number {
  let n = 0;
  for (let i = 0; i < ops.length; i++) n += ops[i]!.run;
  return n;
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

/** One array per column, reused by every encode (scratch.ts): only its first `n` entries are this change's. */
const SCRATCH = {
  objActor: [] as (number | null)[], objCtr: [] as (number | null)[], keyActor: [] as (number | null)[],
  keyCtr: [] as (number | null)[], keyStr: [] as (string | null)[], insert: [] as boolean[], action: [] as number[],
  meta: [] as number[], predCount: [] as number[], predActor: [] as number[], predCtr: [] as number[],
  expand: [] as boolean[], markName: [] as (string | null)[], deltas: [] as (number | null)[],
};
/** Writes every op column into `data`, recording each column's length (0: left out). */
function writeColumns(ops: ResolvedOp[], index: number[], data: ByteWriter, lengths: number[]): void {
  try {
    fillAndWrite(ops, index, data, lengths);
  } finally {
    releaseScratch(SCRATCH);
  }
}

function fillAndWrite(ops: ResolvedOp[], index: number[], data: ByteWriter, lengths: number[]): void {
  const { objActor, objCtr, keyActor, keyCtr, keyStr, insert, action, meta, predCount, predActor, predCtr, expand, markName, deltas } = SCRATCH;
  let n = 0; // column entries so far: a text run fills one per character
  let preds = 0;
  for (let o = 0; o < ops.length; o++) {
    const { op, obj, elem, pred, run, own } = ops[o]!;
    const oa = obj === null ? null : index[obj.actor]!;
    const oc = obj === null ? null : obj.ctr;
    if (run > 1) {
      // Each character inserted after the one before it (the author's op own + k - 1).
      const text = op.value as string;
      let j = 0;
      for (let k = 0; k < run; k++, n++) {
        objActor[n] = oa;
        objCtr[n] = oc;
        // The list head is counter 0 with no actor.
        keyActor[n] = k > 0 ? index[0]! : elem!.ctr === 0 ? null : index[elem!.actor]!;
        keyCtr[n] = k > 0 ? own + k - 1 : elem!.ctr;
        keyStr[n] = null;
        insert[n] = true;
        action[n] = ACTION_CODES.set;
        const code = text.charCodeAt(j);
        const bytes = code < 0x80 ? 1 : code < 0x800 ? 2 : code >= 0xd800 && code <= 0xdbff ? 4 : 3;
        j += bytes === 4 ? 2 : 1;
        meta[n] = bytes * 16 + VALUE_TYPE.str;
        predCount[n] = 0;
        expand[n] = false;
        markName[n] = null;
      }
      continue;
    }
    objActor[n] = oa;
    objCtr[n] = oc;
    keyActor[n] = elem === null || elem.ctr === 0 ? null : index[elem.actor]!;
    keyCtr[n] = elem === null ? null : elem.ctr;
    keyStr[n] = op.key;
    insert[n] = op.insert;
    action[n] = ACTION_CODES[op.action];
    meta[n] = valueMeta(op.datatype, op.value);
    predCount[n] = pred.length;
    for (let j = 0; j < pred.length; j++, preds++) {
      predActor[preds] = index[pred[j]!.actor]!;
      predCtr[preds] = pred[j]!.ctr;
    }
    expand[n] = op.expand;
    markName[n] = op.markName;
    n++;
  }
  // A column whose values are all null (or all false) is left out, as Automerge does.
  let at = data.pos;
  at = close(lengths, Col.ObjActor, writeRle(data, objActor, 'uint', n), data, at);
  at = close(lengths, Col.ObjCtr, writeRle(data, objCtr, 'uint', n), data, at);
  at = close(lengths, Col.KeyActor, writeRle(data, keyActor, 'uint', n), data, at);
  at = close(lengths, Col.KeyCtr, writeDelta(data, keyCtr, n, deltas), data, at);
  at = close(lengths, Col.KeyStr, writeRle(data, keyStr, 'str', n), data, at);
  at = close(lengths, Col.Insert, writeBooleans(data, insert, false, n), data, at);
  at = close(lengths, Col.Action, writeRle(data, action, 'uint', n), data, at);
  at = close(lengths, Col.ValMeta, writeRle(data, meta, 'uint', n), data, at);
  // Values in op order; a run's characters are its text's UTF-8, written at once.
  let m = 0;
  for (let o = 0; o < ops.length; o++) {
    const { op, run } = ops[o]!;
    if (run > 1) {
      data.utf8(op.value as string, utf8Length(op.value as string));
      m += run;
    } else {
      writeValue(data, op.datatype, op.value, meta[m++]!);
    }
  }
  at = close(lengths, Col.ValRaw, data.pos > at, data, at);
  at = close(lengths, Col.PredGroup, writeRle(data, predCount, 'uint', n), data, at);
  at = close(lengths, Col.PredActor, preds > 0 && writeRle(data, predActor, 'uint', preds), data, at);
  at = close(lengths, Col.PredCtr, preds > 0 && writeDelta(data, predCtr, preds, deltas), data, at);
  at = close(lengths, Col.Expand, writeBooleans(data, expand, true, n), data, at);
  at = close(lengths, Col.MarkName, writeRle(data, markName, 'str', n), data, at);
}

/** Records the length of the column just written (if it was), returns where the next starts. */
function close(lengths: number[], slot: number, written: boolean, data: ByteWriter, at: number): number {
  if (written) lengths[slot] = data.pos - at;
  return data.pos;
}
