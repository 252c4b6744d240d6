/**
 * Checks a ChangeInput before it is encoded and resolves its op ids into (counter, actor)
 * pairs. Bad input here is a programmer error (our own writer built a wrong change), so
 * it is a TypeError, and the checks mirror the decoder's: whatever `encodeChange` returns,
 * `decodeChange` accepts.
 */
import type { ChangeInput, ChangeOp, Datatype } from './types.js';

const HEX = /^(?:[0-9a-f]{2})+$/;
const HASH = /^[0-9a-f]{64}$/;
const OP_ID = /^([1-9][0-9]*)@((?:[0-9a-f]{2})+)$/;
const ACTIONS = new Set(['makeMap', 'set', 'makeList', 'del', 'makeText', 'inc', 'makeTable', 'markBegin', 'markEnd']);
const DATATYPES = new Set<Datatype>(['null', 'boolean', 'uint', 'int', 'f64', 'str', 'bytes', 'counter', 'timestamp']);

/** A resolved op id: counter and actor hex. */
export interface Ref {
  ctr: number;
  actor: string;
}

/** An op with its ids resolved; `obj`/`elem` null for the root / a map key, ctr 0 for the head. */
export interface ResolvedOp {
  op: ChangeOp;
  obj: Ref | null;
  elem: Ref | null;
  pred: Ref[];
}

function fail(what: string): never {
  throw new TypeError(`encodeChange: ${what}`);
}

function safeInt(v: unknown, min: number, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(`${what} must be an integer ≥ ${min}`);
  return v;
}

/** A string Automerge can store: UTF-8 needs well-formed UTF-16 (no lone surrogates). */
export function wellFormed(s: unknown, what: string): string {
  if (typeof s !== 'string' || !(s as unknown as { isWellFormed(): boolean }).isWellFormed()) fail(`${what} must be a well-formed string`);
  return s;
}

/** Checks the header fields; returns the deps sorted as Automerge stores them. */
export function checkHeader(c: ChangeInput): string[] {
  if (typeof c !== 'object' || c === null) fail('change must be an object');
  if (typeof c.actor !== 'string' || !HEX.test(c.actor)) fail('actor must be lowercase hex');
  safeInt(c.seq, 1, 'seq');
  safeInt(c.startOp, 1, 'startOp');
  if (!Array.isArray(c.deps) || !Array.isArray(c.ops)) fail('deps and ops must be arrays');
  if (c.startOp + c.ops.length - 1 > 0xffff_ffff) fail('op counters must fit in 32 bits');
  if (typeof c.time !== 'number' || !Number.isSafeInteger(c.time)) fail('time must be a safe integer');
  if (c.message !== null) wellFormed(c.message, 'message');
  const deps = [...c.deps].sort();
  for (let i = 0; i < deps.length; i++) {
    if (typeof deps[i] !== 'string' || !HASH.test(deps[i]!)) fail('each dep must be a 64-digit lowercase hex hash');
    if (i > 0 && deps[i] === deps[i - 1]) fail('deps must be unique');
  }
  return deps;
}

function parseId(id: unknown, below: number, what: string): Ref {
  const m = typeof id === 'string' ? OP_ID.exec(id) : null;
  if (m === null) fail(`${what} must be an op id "<counter>@<actor hex>"`);
  const ctr = Number(m[1]);
  // An op can only reference ops created before it, which have lower counters.
  if (!Number.isSafeInteger(ctr) || ctr >= below) fail(`${what} ${String(id)} must have a counter below the op's own (${below})`);
  return { ctr, actor: m[2]! };
}

function checkValue(op: ChangeOp, i: number): void {
  const { datatype: t, value: v } = op;
  if (!DATATYPES.has(t)) fail(`op ${i}: unknown datatype ${String(t)}`);
  const ok =
    t === 'null'
      ? v === null
      : t === 'boolean'
        ? typeof v === 'boolean'
        : t === 'f64'
          ? typeof v === 'number'
          : t === 'str'
            ? typeof v === 'string' && wellFormed(v, `op ${i} value`) !== undefined
            : t === 'bytes'
              ? v instanceof Uint8Array
              : typeof v === 'bigint'
                ? v === (t === 'uint' ? BigInt.asUintN(64, v) : BigInt.asIntN(64, v))
                : typeof v === 'number' && Number.isSafeInteger(v) && (t !== 'uint' || v >= 0);
  if (!ok) fail(`op ${i}: value does not fit datatype ${t}`);
  const a = op.action;
  if (a === 'inc' ? t !== 'int' : a !== 'set' && a !== 'markBegin' && t !== 'null') fail(`op ${i}: ${a} cannot carry a ${t} value`);
}

/** Checks every op and resolves its ids; op i has counter `startOp + i`. */
export function resolveOps(c: ChangeInput): ResolvedOp[] {
  const out: ResolvedOp[] = new Array(c.ops.length);
  for (let i = 0; i < c.ops.length; i++) {
    const op = c.ops[i]!;
    const own = c.startOp + i;
    if (typeof op !== 'object' || op === null || !ACTIONS.has(op.action)) fail(`op ${i}: unknown action`);
    const obj = op.obj === '_root' ? null : parseId(op.obj, own, `op ${i} obj`);
    let elem: Ref | null = null;
    if (op.key !== null) {
      wellFormed(op.key, `op ${i} key`);
      if (op.elemId !== null) fail(`op ${i}: has both key and elemId`);
      if (op.insert) fail(`op ${i}: insert needs an elemId`);
    } else {
      elem = op.elemId === '_head' ? { ctr: 0, actor: '' } : parseId(op.elemId, own, `op ${i} elemId`);
    }
    if (typeof op.insert !== 'boolean' || typeof op.expand !== 'boolean') fail(`op ${i}: insert and expand must be booleans`);
    if (op.insert && (op.action === 'del' || op.action === 'inc')) fail(`op ${i}: ${op.action} cannot insert`);
    const isMark = op.action === 'markBegin' || op.action === 'markEnd';
    if (op.expand && !isMark) fail(`op ${i}: only marks expand`);
    if (op.action === 'markBegin') wellFormed(op.markName, `op ${i} markName`);
    else if (op.markName !== null) fail(`op ${i}: only markBegin has a markName`);
    checkValue(op, i);
    if (!Array.isArray(op.pred)) fail(`op ${i}: pred must be an array`);
    const pred = op.pred.map((p) => parseId(p, own, `op ${i} pred`));
    // Automerge stores preds sorted by (counter, actor id).
    pred.sort((x, y) => x.ctr - y.ctr || (x.actor < y.actor ? -1 : x.actor > y.actor ? 1 : 0));
    for (let j = 1; j < pred.length; j++) {
      if (pred[j]!.ctr === pred[j - 1]!.ctr && pred[j]!.actor === pred[j - 1]!.actor) fail(`op ${i}: duplicate pred`);
    }
    out[i] = { op, obj, elem, pred };
  }
  return out;
}
