/**
 * Turns the op columns of a change body into ops, checking each op the way a receiver
 * needs before it trusts the change: actor indexes within the actor table, op ids that
 * only point back in Lamport time (a counter below the op's own), keys that are either a
 * map key or a list element, values that fit their action, preds sorted and unique, and
 * every listed actor actually used.
 *
 * Written without closures: this is the receiver's hot path, and per-call closures (with
 * the name helpers tsx adds to them) cost more than the decoding itself.
 */
import { decodeBooleanColumn, decodeDeltaAbsolute, decodeStringColumn, decodeUintColumn, NULL } from './columns.js';
import type { ChangeHeader } from './decode.js';
import { Col, COLUMN_NAMES, VALUE_TYPE } from './layout.js';
import { bad, ByteReader, type SliceBuffer } from './reader.js';
import { releaseScratch } from './scratch.js';
import { NO_PREDS, type ChangeOp, type OpAction } from './types.js';
import { readValue, type ValueCell } from './values.js';

const ACTIONS: readonly OpAction[] = ['makeMap', 'set', 'makeList', 'del', 'makeText', 'inc', 'makeTable'];
const MARK = 7;
const SET = 1;
const DEL = 3;
const INC = 5;

/**
 * The decoded columns of a change: `n` ops. Absent optional columns are null (all null /
 * false). The arrays are the module's scratch arrays (see SCRATCH): only their first `n`
 * (pred columns: `predTotal`) entries belong to this change.
 */
interface Columns {
  n: number;
  actions: number[];
  objActor: number[] | null;
  objCtr: number[] | null;
  keyActor: number[] | null;
  keyCtr: number[] | null;
  keyStr: (string | null)[] | null;
  insert: boolean[];
  meta: number[];
  predCount: number[];
  predActor: number[];
  predCtr: number[];
  expand: boolean[] | null;
  markName: (string | null)[] | null;
}

/** One array per column, reused by every decode (scratch.ts); ops copy the values out. */
const SCRATCH = {
  actions: [] as number[], objActor: [] as number[], objCtr: [] as number[], keyActor: [] as number[],
  keyCtr: [] as number[], keyStr: [] as (string | null)[], insert: [] as boolean[],
  meta: [] as number[], predCount: [] as number[], predActor: [] as number[], predCtr: [] as number[],
  expand: [] as boolean[], markName: [] as (string | null)[],
};
/**
 * Decodes and checks the ops of a change whose header is `h`. With `textRuns`, a run of
 * string inserts, each after the op before it, becomes one op (ChangeOp.run): such an op
 * is checked with numbers alone, without building its op id strings.
 */
export function decodeOps(body: SliceBuffer, h: ChangeHeader, maxOps: number, textRuns = false): ChangeOp[] {
  const r = new ByteReader(body, 0, 0);
  if (!seek(r, h, Col.Action)) {
    for (let slot = 0; slot < h.colStart.length; slot++) {
      if (h.colStart[slot]! >= 0) throw bad(`${COLUMN_NAMES[slot]} in a change without ops`);
    }
    return [];
  }
  try {
    return decodeColumns(body, r, h, maxOps, textRuns);
  } finally {
    releaseScratch(SCRATCH);
  }
}

function decodeColumns(body: SliceBuffer, r: ByteReader, h: ChangeHeader, maxOps: number, textRuns: boolean): ChangeOp[] {
  const cols = readColumns(r, h, maxOps);
  const actorHex = [h.actor, ...h.otherActors];
  const seen = new Uint8Array(actorHex.length);
  const raw = new ByteReader(body, 0, 0);
  seek(raw, h, Col.ValRaw);
  const cell: ValueCell = { datatype: 'null', value: null };
  // One op a column entry without text runs; with them, a record's notes (one op per
  // character) decode to one op, so the array grows as ops come instead of holding cols.n
  // slots (a bench record's first change: 4.0 to 3.3 KB allocated in this function).
  const ops: ChangeOp[] = textRuns ? [] : new Array(cols.n);
  let count = 0;
  /** The run the next op may extend (textRuns): the op made last, if it may start or extend one. */
  let run: ChangeOp | null = null;
  // Where the run's values lie in the value column: each was checked as UTF-8 on its own,
  // and the run's text is sliced from there once (not joined op by op).
  let runFrom = 0;
  let runTo = 0;
  let predAt = 0;
  // Consecutive ops mostly share their object (text is one op per character): its id
  // string is built once per run, not once per op.
  let lastOa = NULL;
  let lastOc = NULL;
  let lastObj = '_root';
  for (let i = 0; i < cols.n; i++) {
    const own = h.startOp + i;
    const oa = cols.objActor === null ? NULL : cols.objActor[i]!;
    const oc = cols.objCtr === null ? NULL : cols.objCtr[i]!;
    let obj = '_root';
    if (oa !== NULL || oc !== NULL) {
      if (oa === NULL || oc === NULL) throw bad('obj: actor and counter must be both set or both null');
      // Same object as the op before: already checked (its counter is below this op's too).
      obj = oa === lastOa && oc === lastOc ? lastObj : opId(oc, oa, own, actorHex, seen, 'obj');
      lastOa = oa;
      lastOc = oc;
      lastObj = obj;
    }
    const key = cols.keyStr === null ? null : cols.keyStr[i]!;
    const predCount = cols.predCount[i]!;
    const valueAt = raw.pos;
    if (run !== null && key === null && obj === run.obj && extendsRun(cols, i, own, predCount)) {
      // Inserted after the op before (this author's, counter own - 1): a valid reference.
      const meta = cols.meta[i]!;
      if (meta % 16 === VALUE_TYPE.str) {
        // Checked here, joined once when the run ends (finishRun): no string per character.
        raw.skipUtf8(Math.floor(meta / 16), 'string value');
        run.run!++;
        runTo = raw.pos;
        continue;
      }
      // Not a string: decoded below as an op of its own.
      readValue(raw, meta, cell);
      run = finishRun(run, raw.bytes, runFrom, runTo);
    } else {
      if (run !== null) run = finishRun(run, raw.bytes, runFrom, runTo);
      readValue(raw, cols.meta[i]!, cell);
    }
    const elemId = elemOf(cols, i, key, own, actorHex, seen);
    const insert = cols.insert[i]!;
    if (insert && elemId === null) throw bad('insert into a map');
    const pred: string[] = predCount === 0 ? NO_PREDS : new Array(predCount);
    let lastCtr = 0;
    let lastActor = '';
    for (let j = 0; j < pred.length; j++, predAt++) {
      const pc = cols.predCtr[predAt]!;
      const pa = cols.predActor[predAt]!;
      pred[j] = opId(pc, pa, own, actorHex, seen, 'pred');
      // Automerge writes preds sorted by (counter, actor id); anything else is a second encoding.
      const actor = actorHex[pa]!;
      if (j > 0 && (pc < lastCtr || (pc === lastCtr && actor <= lastActor))) throw bad('preds are not sorted and unique');
      lastCtr = pc;
      lastActor = actor;
    }
    const markName = cols.markName === null ? null : cols.markName[i]!;
    const expand = cols.expand === null ? false : cols.expand[i]!;
    const action = actionOf(cols.actions[i]!, cell, markName, expand, insert);
    if (textRuns) {
      const op: ChangeOp = { action, obj, key, elemId, insert, datatype: cell.datatype, value: cell.value, pred, markName, expand, run: 1 };
      ops[count++] = op;
      run = insert && action === 'set' && cell.datatype === 'str' && predCount === 0 ? op : null;
      runFrom = valueAt;
      runTo = raw.pos;
    } else {
      ops[count++] = { action, obj, key, elemId, insert, datatype: cell.datatype, value: cell.value, pred, markName, expand };
    }
  }
  if (run !== null) finishRun(run, raw.bytes, runFrom, runTo);
  ops.length = count;
  if (!raw.done()) throw bad(`${raw.end - raw.pos} unused bytes in the value column`);
  for (let a = 1; a < seen.length; a++) if (!seen[a]) throw bad('an other actor is never referenced');
  return ops;
}

/** Sets a run's value to its ops' strings joined (sliced from the value column, `from`-`to`); returns null. */
function finishRun(run: ChangeOp, bytes: SliceBuffer, from: number, to: number): null {
  if (run.run! > 1) run.value = bytes.utf8Slice(from, to);
  return null;
}

/**
 * Whether op i (on the run's object, by map key null) inserts a plain string right after
 * op own - 1 of the change's author: no preds, not a mark. Its value is checked by the
 * caller. Every check `elemOf` and `actionOf` would make holds for such an op.
 */
function extendsRun(cols: Columns, i: number, own: number, predCount: number): boolean {
  return cols.insert[i]! && predCount === 0 && cols.actions[i] === SET
    && cols.keyActor !== null && cols.keyActor[i] === 0 && cols.keyCtr !== null && cols.keyCtr[i] === own - 1
    && (cols.markName === null || cols.markName[i] === null) && (cols.expand === null || !cols.expand[i]);
}

/** Points `r` at a column's data; false when the column is absent. */
function seek(r: ByteReader, h: ChangeHeader, slot: number): boolean {
  if (h.colStart[slot]! < 0) return false;
  r.range(h.colStart[slot]!, h.colEnd[slot]!);
  return true;
}

function required(r: ByteReader, h: ChangeHeader, slot: number): ByteReader {
  if (!seek(r, h, slot)) throw bad(`${COLUMN_NAMES[slot]} is missing`);
  return r;
}

/** An optional uint column; present ones must hold a non-null value (else they are left out). */
function optionalUints(r: ByteReader, h: ChangeHeader, slot: number, n: number, out: number[]): number[] | null {
  if (!seek(r, h, slot)) return null;
  decodeUintColumn(r, n, true, true, COLUMN_NAMES[slot]!, out);
  return someValue(out, n, slot);
}

/** `values` (n of them), after checking that one is not null (or false): else the column is left out. */
function someValue<T>(values: T[], n: number, slot: number): T[] {
  for (let i = 0; i < n; i++) if (values[i] !== NULL && values[i] !== null && values[i] !== false) return values;
  throw bad(`${COLUMN_NAMES[slot]} holds only nulls`);
}

/** Decodes every column (the action column first: it defines the number of ops). */
function readColumns(r: ByteReader, h: ChangeHeader, maxOps: number): Columns {
  const s = SCRATCH;
  const n = decodeUintColumn(r, maxOps, false, false, 'action column', s.actions);
  if (h.startOp + n - 1 > 0xffff_ffff) throw bad('op counters exceed 32 bits');
  const objActor = optionalUints(r, h, Col.ObjActor, n, s.objActor);
  const objCtr = optionalUints(r, h, Col.ObjCtr, n, s.objCtr);
  const keyActor = optionalUints(r, h, Col.KeyActor, n, s.keyActor);
  const keyCtr = seek(r, h, Col.KeyCtr) ? someValue(s.keyCtr, decodeDeltaAbsolute(r, n, true, 'key counter column', s.keyCtr), Col.KeyCtr) : null;
  const keyStr = seek(r, h, Col.KeyStr) ? someValue(s.keyStr, decodeStringColumn(r, n, 'key string column', s.keyStr), Col.KeyStr) : null;
  decodeBooleanColumn(required(r, h, Col.Insert), n, 'insert column', s.insert);
  decodeUintColumn(required(r, h, Col.ValMeta), n, true, false, 'value metadata column', s.meta);
  decodeUintColumn(required(r, h, Col.PredGroup), n, true, false, 'pred count column', s.predCount);
  let predTotal = 0;
  for (let i = 0; i < n; i++) predTotal += s.predCount[i]!;
  if (predTotal > maxOps) throw bad(`${predTotal} preds; at most ${maxOps}`);
  if (predTotal > 0) {
    decodeUintColumn(required(r, h, Col.PredActor), predTotal, true, false, 'pred actor column', s.predActor);
    decodeDeltaAbsolute(required(r, h, Col.PredCtr), predTotal, false, 'pred counter column', s.predCtr);
  } else if (h.colStart[Col.PredActor]! >= 0 || h.colStart[Col.PredCtr]! >= 0) {
    throw bad('pred columns present without preds');
  }
  const expand = seek(r, h, Col.Expand) ? someValue(s.expand, decodeBooleanColumn(r, n, 'expand column', s.expand), Col.Expand) : null;
  const markName = seek(r, h, Col.MarkName) ? someValue(s.markName, decodeStringColumn(r, n, 'mark name column', s.markName), Col.MarkName) : null;
  return { n, actions: s.actions, objActor, objCtr, keyActor, keyCtr, keyStr, insert: s.insert, meta: s.meta, predCount: s.predCount, predActor: s.predActor, predCtr: s.predCtr, expand, markName };
}

/** An op id string, after checking the actor index and that it points back in time. */
function opId(ctr: number, actor: number, below: number, actorHex: string[], seen: Uint8Array, what: string): string {
  if (actor >= actorHex.length) throw bad(`${what}: actor index ${actor} out of range`);
  // An op can only reference ops that existed before it, which have lower counters.
  if (ctr < 1 || ctr >= below) throw bad(`${what}: counter ${ctr} is not below the op's own ${below}`);
  seen[actor] = 1;
  return `${ctr}@${actorHex[actor]!}`;
}

/** The list element of op i (null for a map op): exactly one of key and element is set. */
function elemOf(cols: Columns, i: number, key: string | null, own: number, actorHex: string[], seen: Uint8Array): string | null {
  const ka = cols.keyActor === null ? NULL : cols.keyActor[i]!;
  const kc = cols.keyCtr === null ? NULL : cols.keyCtr[i]!;
  if (key !== null) {
    if (ka !== NULL || kc !== NULL) throw bad('key: both a map key and a list element');
    return null;
  }
  if (kc === NULL) throw bad('key: neither a map key nor a list element');
  if (ka === NULL) {
    if (kc !== 0) throw bad('key: element counter without actor');
    return '_head';
  }
  return opId(kc, ka, own, actorHex, seen, 'elemId');
}

/** The action of an op, after checking that its value, mark fields and insert flag fit it. */
function actionOf(code: number, cell: ValueCell, markName: string | null, expand: boolean, insert: boolean): OpAction {
  if (code === MARK) {
    if (markName === null && cell.datatype !== 'null') throw bad('markEnd with a value');
    return markName === null ? 'markEnd' : 'markBegin';
  }
  if (code > MARK) throw bad(`unknown action ${code}`);
  const action = ACTIONS[code]!;
  // Automerge drops these silently for non-mark ops; refusing keeps decoding lossless.
  if (markName !== null) throw bad(`${action} with a mark name`);
  if (expand) throw bad(`${action} with expand`);
  if (code === INC) {
    if (cell.datatype !== 'int') throw bad('inc without a signed integer amount');
  } else if (code !== SET && cell.datatype !== 'null') {
    throw bad(`${action} with a value`);
  }
  if (insert && (code === DEL || code === INC)) throw bad(`${action} cannot insert`);
  return action;
}
