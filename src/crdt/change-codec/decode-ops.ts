/**
 * Turns the op columns of a change body into ops, checking each op the way a receiver
 * needs before it trusts the change: actor indexes within the actor table, op ids that
 * only point back in Lamport time (a counter below the op's own), keys that are either a
 * map key or a list element, values that fit their action, preds sorted and unique, and
 * every listed actor actually used.
 */
import { decodeBooleanColumn, decodeDeltaAbsolute, decodeStringColumn, decodeUintColumn, NULL } from './columns.js';
import type { ChangeHeader } from './decode.js';
import { Col, COLUMN_NAMES } from './layout.js';
import { bad, ByteReader } from './leb.js';
import { readValue, type ValueCell } from './values.js';
import type { ChangeOp, OpAction } from './types.js';

const ACTIONS: readonly OpAction[] = ['makeMap', 'set', 'makeList', 'del', 'makeText', 'inc', 'makeTable'];
const MARK = 7;
const SET = 1;
const DEL = 3;
const INC = 5;

/** Decodes and checks the ops of a change whose header is `h`. */
export function decodeOps(body: Uint8Array, h: ChangeHeader, maxOps: number): ChangeOp[] {
  const { colStart, colEnd } = h;
  const r = new ByteReader(body, 0, 0);
  const at = (slot: number): ByteReader | null => {
    if (colStart[slot]! < 0) return null;
    r.pos = colStart[slot]!;
    r.end = colEnd[slot]!;
    return r;
  };
  const actionR = at(Col.Action);
  if (actionR === null) {
    for (let slot = 0; slot < colStart.length; slot++) {
      if (colStart[slot]! >= 0) throw bad(`${COLUMN_NAMES[slot]} in a change without ops`);
    }
    return [];
  }
  const actions = decodeUintColumn(actionR, maxOps, false, false, 'action column');
  const n = actions.length;
  if (h.startOp + n - 1 > 0xffff_ffff) throw bad('op counters exceed 32 bits');
  const required = (slot: number): ByteReader => {
    const col = at(slot);
    if (col === null) throw bad(`${COLUMN_NAMES[slot]} is missing`);
    return col;
  };
  const uintCol = (slot: number): number[] | null => {
    const col = at(slot);
    return col === null ? null : nonNull(decodeUintColumn(col, n, true, true, COLUMN_NAMES[slot]!), slot);
  };
  const objActor = uintCol(Col.ObjActor);
  const objCtr = uintCol(Col.ObjCtr);
  const keyActor = uintCol(Col.KeyActor);
  const keyCtrR = at(Col.KeyCtr);
  const keyCtr = keyCtrR === null ? null : nonNull(decodeDeltaAbsolute(keyCtrR, n, true, 'key counter column'), Col.KeyCtr);
  const keyStrR = at(Col.KeyStr);
  const keyStr = keyStrR === null ? null : decodeStringColumn(keyStrR, n, 'key string column');
  if (keyStr !== null && keyStr.every((k) => k === null)) throw bad('key string column holds only nulls');
  const insert = decodeBooleanColumn(required(Col.Insert), n, 'insert column');
  const meta = decodeUintColumn(required(Col.ValMeta), n, true, false, 'value metadata column');
  const predCount = decodeUintColumn(required(Col.PredGroup), n, true, false, 'pred count column');
  let predTotal = 0;
  for (let i = 0; i < n; i++) predTotal += predCount[i]!;
  if (predTotal > maxOps) throw bad(`${predTotal} preds; at most ${maxOps}`);
  let predActor: number[] = [];
  let predCtr: number[] = [];
  if (predTotal > 0) {
    predActor = decodeUintColumn(required(Col.PredActor), predTotal, true, false, 'pred actor column');
    predCtr = decodeDeltaAbsolute(required(Col.PredCtr), predTotal, false, 'pred counter column');
  } else if (colStart[Col.PredActor]! >= 0 || colStart[Col.PredCtr]! >= 0) {
    throw bad('pred columns present without preds');
  }
  const expandR = at(Col.Expand);
  const expand = expandR === null ? null : decodeBooleanColumn(expandR, n, 'expand column');
  if (expand !== null && !expand.includes(true)) throw bad('expand column holds only false');
  const markR = at(Col.MarkName);
  const markName = markR === null ? null : decodeStringColumn(markR, n, 'mark name column');
  if (markName !== null && markName.every((k) => k === null)) throw bad('mark name column holds only nulls');

  const actorHex = [h.actor, ...h.otherActors];
  const seen = new Uint8Array(actorHex.length);
  const opId = (ctr: number, actor: number, below: number, what: string): string => {
    if (actor >= actorHex.length) throw bad(`${what}: actor index ${actor} out of range`);
    // An op can only reference ops that existed before it, which have lower counters.
    if (ctr < 1 || ctr >= below) throw bad(`${what}: counter ${ctr} is not below the op's own ${below}`);
    seen[actor] = 1;
    return `${ctr}@${actorHex[actor]!}`;
  };
  const raw = at(Col.ValRaw) === null ? new ByteReader(body, 0, 0) : new ByteReader(body, colStart[Col.ValRaw]!, colEnd[Col.ValRaw]!);
  const cell: ValueCell = { datatype: 'null', value: null };
  const ops: ChangeOp[] = new Array(n);
  let predAt = 0;
  for (let i = 0; i < n; i++) {
    const own = h.startOp + i;
    const oa = objActor === null ? NULL : objActor[i]!;
    const oc = objCtr === null ? NULL : objCtr[i]!;
    let obj = '_root';
    if (oa !== NULL || oc !== NULL) {
      if (oa === NULL || oc === NULL) throw bad('obj: actor and counter must be both set or both null');
      obj = opId(oc, oa, own, 'obj');
    }
    const ka = keyActor === null ? NULL : keyActor[i]!;
    const kc = keyCtr === null ? NULL : keyCtr[i]!;
    const key = keyStr === null ? null : keyStr[i]!;
    let elemId: string | null = null;
    if (key !== null) {
      if (ka !== NULL || kc !== NULL) throw bad('key: both a map key and a list element');
    } else if (kc === NULL) {
      throw bad('key: neither a map key nor a list element');
    } else if (ka === NULL) {
      if (kc !== 0) throw bad('key: element counter without actor');
      elemId = '_head';
    } else {
      elemId = opId(kc, ka, own, 'elemId');
    }
    const ins = insert[i]!;
    if (ins && elemId === null) throw bad('insert into a map');
    readValue(raw, meta[i]!, cell);
    const pred: string[] = new Array(predCount[i]!);
    let lastCtr = 0;
    let lastActor = '';
    for (let j = 0; j < pred.length; j++, predAt++) {
      const pc = predCtr[predAt]!;
      const pa = predActor[predAt]!;
      pred[j] = opId(pc, pa, own, 'pred');
      // Automerge writes preds sorted by (counter, actor id); anything else is a second encoding.
      const actorId = actorHex[pa]!;
      if (j > 0 && (pc < lastCtr || (pc === lastCtr && actorId <= lastActor))) throw bad('preds are not sorted and unique');
      lastCtr = pc;
      lastActor = actorId;
    }
    const code = actions[i]!;
    const name = markName === null ? null : markName[i]!;
    const exp = expand === null ? false : expand[i]!;
    let action: OpAction;
    if (code === MARK) {
      action = name === null ? 'markEnd' : 'markBegin';
      if (name === null && cell.datatype !== 'null') throw bad('markEnd with a value');
    } else {
      if (code > MARK) throw bad(`unknown action ${code}`);
      action = ACTIONS[code]!;
      // Automerge drops these silently for non-mark ops; refusing keeps decoding lossless.
      if (name !== null) throw bad(`${action} with a mark name`);
      if (exp) throw bad(`${action} with expand`);
      if (code === INC) {
        if (cell.datatype !== 'int') throw bad('inc without a signed integer amount');
      } else if (code !== SET && cell.datatype !== 'null') {
        throw bad(`${action} with a value`);
      }
      if (ins && (code === DEL || code === INC)) throw bad(`${action} cannot insert`);
    }
    ops[i] = { action, obj, key, elemId, insert: ins, datatype: cell.datatype, value: cell.value, pred, markName: name, expand: exp };
  }
  if (!raw.done()) throw bad(`${raw.end - raw.pos} unused bytes in the value column`);
  for (let a = 1; a < seen.length; a++) if (!seen[a]) throw bad('an other actor is never referenced');
  return ops;
}

/** A present column made only of nulls is a second encoding of an absent one. */
function nonNull(values: number[], slot: number): number[] {
  for (let i = 0; i < values.length; i++) if (values[i] !== NULL) return values;
  throw bad(`${COLUMN_NAMES[slot]} holds only nulls`);
}
