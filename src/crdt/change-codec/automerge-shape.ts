/**
 * Converts a DecodedChange to exactly what `A.decodeChange` (Automerge 3.5) returns, so
 * tests can compare the two with `toEqual`. Automerge's form is lossier: it drops the
 * datatype of strings, booleans, null and bytes (bytes become a plain number array),
 * gives a counter's start value, and omits `insert` when false. A bigint value (an
 * integer beyond ±2^53) is kept: for such a change `A.decodeChange` throws a RangeError.
 */
import type { ChangeOp, DecodedChange } from './types.js';

const NUMERIC_DATATYPE: Partial<Record<ChangeOp['datatype'], string>> = {
  int: 'int',
  uint: 'uint',
  f64: 'float64',
  counter: 'counter',
  timestamp: 'timestamp',
};

/** The shape of one op in `A.decodeChange`'s output. */
export type AutomergeOp = Record<string, unknown>;

/** The `A.decodeChange` form of a decoded change. */
export function toAutomergeShape(c: DecodedChange): Record<string, unknown> {
  return {
    ops: c.ops.map(toAutomergeOp),
    actor: c.actor,
    hash: c.hash,
    seq: c.seq,
    startOp: c.startOp,
    time: c.time,
    message: c.message,
    deps: c.deps,
  };
}

function toAutomergeOp(op: ChangeOp): AutomergeOp {
  const out: AutomergeOp = { action: op.action, obj: op.obj };
  if (op.key !== null) out.key = op.key;
  else out.elemId = op.elemId;
  if (op.insert) out.insert = true;
  const value = op.value instanceof Uint8Array ? Array.from(op.value) : op.value;
  switch (op.action) {
    case 'set': {
      const datatype = NUMERIC_DATATYPE[op.datatype];
      if (datatype !== undefined) out.datatype = datatype;
      out.value = value;
      break;
    }
    case 'inc':
      out.value = value;
      break;
    case 'markBegin':
      out.name = op.markName;
      out.value = value;
      out.expand = op.expand;
      break;
    case 'markEnd':
      out.expand = op.expand;
      break;
    default:
      break;
  }
  out.pred = op.pred;
  return out;
}
