/**
 * Builds the canonical change chunk for a change description: the bytes Automerge 3
 * itself writes for the same change, so `encodeChange(decodeChange(b))` is `b` for every
 * change Automerge produces, and a change built here is accepted by `A.applyChanges`.
 */
import { sealChunk } from './chunk.js';
import { BooleanEncoder, DeltaEncoder, RleEncoder } from './encode-columns.js';
import { checkHeader, resolveOps, type ResolvedOp } from './encode-input.js';
import { ACTION_CODES, Col, COLUMN_COUNT, COLUMN_SPECS } from './layout.js';
import { ByteWriter } from './leb.js';
import type { ChangeInput } from './types.js';
import { writeValue } from './values.js';

/**
 * Encodes a change as an uncompressed (type 1) chunk. Throws a TypeError when the input
 * is not a valid change (bad ids, a value that does not fit its datatype, a reference to
 * an op that is not older than the referring op, …).
 */
export function encodeChange(change: ChangeInput): Uint8Array {
  const deps = checkHeader(change);
  const ops = resolveOps(change);
  const actors = actorTable(change.actor, ops);
  const data = new ByteWriter(64 + ops.length * 16);
  const lengths = new Int32Array(COLUMN_COUNT);
  if (ops.length > 0) writeColumns(ops, actors.index, data, lengths);

  const head = new ByteWriter(128 + deps.length * 32);
  head.uleb(deps.length);
  for (const dep of deps) head.bytes(Buffer.from(dep, 'hex'));
  writeActor(head, change.actor);
  head.uleb(change.seq);
  head.uleb(change.startOp);
  head.sleb(change.time);
  head.str(change.message ?? '');
  head.uleb(actors.others.length);
  for (const other of actors.others) writeActor(head, other);
  let columns = 0;
  for (let slot = 0; slot < COLUMN_COUNT; slot++) if (lengths[slot]! > 0) columns++;
  head.uleb(columns);
  for (let slot = 0; slot < COLUMN_COUNT; slot++) {
    if (lengths[slot]! === 0) continue;
    head.uleb(COLUMN_SPECS[slot]!);
    head.uleb(lengths[slot]!);
  }
  return sealChunk([head.view(), data.view()]);
}

function writeActor(w: ByteWriter, actor: string): void {
  w.uleb(actor.length / 2);
  w.bytes(Buffer.from(actor, 'hex'));
}

/** The chunk's actor table: the author at index 0, then every other referenced actor, sorted. */
function actorTable(author: string, ops: ResolvedOp[]): { others: string[]; index: Map<string, number> } {
  const seen = new Set<string>();
  const add = (actor: string): void => {
    if (actor !== author && actor !== '') seen.add(actor);
  };
  for (const op of ops) {
    if (op.obj !== null) add(op.obj.actor);
    if (op.elem !== null) add(op.elem.actor);
    for (const p of op.pred) add(p.actor);
  }
  const others = [...seen].sort();
  const index = new Map<string, number>([[author, 0]]);
  others.forEach((actor, i) => index.set(actor, i + 1));
  return { others, index };
}

/** Writes every op column into `data`, recording each column's length (0: left out). */
function writeColumns(ops: ResolvedOp[], index: Map<string, number>, data: ByteWriter, lengths: Int32Array): void {
  const n = ops.length;
  // A column whose values are all null (or all false) is left out, as Automerge does.
  const column = (slot: number, write: () => boolean): void => {
    const start = data.pos;
    if (write()) lengths[slot] = data.pos - start;
    else data.pos = start;
  };
  const rle = <T extends number | string>(slot: number, signed: boolean, value: (op: ResolvedOp) => T | null): void =>
    column(slot, () => {
      const enc = new RleEncoder<T>(data, signed);
      for (let i = 0; i < n; i++) enc.append(value(ops[i]!));
      enc.flush();
      return enc.nonNull;
    });
  const delta = (slot: number, value: (op: ResolvedOp) => number | null): void =>
    column(slot, () => {
      const enc = new DeltaEncoder(data);
      for (let i = 0; i < n; i++) enc.append(value(ops[i]!));
      enc.flush();
      return enc.nonNull;
    });
  const bool = (slot: number, always: boolean, value: (op: ResolvedOp) => boolean): void =>
    column(slot, () => {
      const enc = new BooleanEncoder(data);
      for (let i = 0; i < n; i++) enc.append(value(ops[i]!));
      enc.flush();
      return always || enc.anyTrue;
    });

  rle<number>(Col.ObjActor, false, (o) => (o.obj === null ? null : index.get(o.obj.actor)!));
  rle<number>(Col.ObjCtr, false, (o) => (o.obj === null ? null : o.obj.ctr));
  rle<number>(Col.KeyActor, false, (o) => (o.elem === null || o.elem.ctr === 0 ? null : index.get(o.elem.actor)!));
  delta(Col.KeyCtr, (o) => (o.elem === null ? null : o.elem.ctr));
  rle<string>(Col.KeyStr, false, (o) => o.op.key);
  bool(Col.Insert, true, (o) => o.op.insert);
  rle<number>(Col.Action, false, (o) => ACTION_CODES[o.op.action]);
  // Raw values go to their own buffer first: the metadata column precedes them.
  const raw = new ByteWriter(64);
  const metas = ops.map((o) => writeValue(raw, o.op.datatype, o.op.value));
  let m = 0;
  rle<number>(Col.ValMeta, false, () => metas[m++]!);
  if (raw.pos > 0) {
    lengths[Col.ValRaw] = raw.pos;
    data.bytes(raw.view());
  }
  rle<number>(Col.PredGroup, false, (o) => o.pred.length);
  const preds = ops.flatMap((o) => o.pred);
  if (preds.length > 0) {
    column(Col.PredActor, () => {
      const enc = new RleEncoder<number>(data, false);
      for (const p of preds) enc.append(index.get(p.actor)!);
      enc.flush();
      return true;
    });
    column(Col.PredCtr, () => {
      const enc = new DeltaEncoder(data);
      for (const p of preds) enc.append(p.ctr);
      enc.flush();
      return true;
    });
  }
  bool(Col.Expand, false, (o) => o.op.expand);
  rle<string>(Col.MarkName, false, (o) => o.op.markName);
}
