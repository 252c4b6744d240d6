/**
 * Checks a ChangeInput before it is encoded and resolves its op ids into (counter, actor)
 * pairs. Bad input here is a programmer error (our own writer built a wrong change), so
 * it is a TypeError, and the checks mirror the decoder's: whatever `encodeChange` returns,
 * `decodeChange` accepts.
 */
import type { ChangeInput, ChangeOp, Datatype } from './types.js';

const HEX = /^(?:[0-9a-f]{2})+$/;
const HASH = /^[0-9a-f]{64}$/;
const ACTIONS = new Set(['makeMap', 'set', 'makeList', 'del', 'makeText', 'inc', 'makeTable', 'markBegin', 'markEnd']);
const DATATYPES = new Set<Datatype>(['null', 'boolean', 'uint', 'int', 'f64', 'str', 'bytes', 'counter', 'timestamp']);

/** A resolved op id: counter and actor (an index into `ResolvedOps.actors`). */
export interface Ref {
  ctr: number;
  actor: number;
}

/**
 * An op with its ids resolved; `obj`/`elem` null for the root / a map key, ctr 0 for the
 * head. A text run (ChangeOp.run) stays one resolved op standing for `run` inserts, its
 * first numbered `own`, each after the one before; the column writer expands it
 * (encode.ts), so a writer's notes never become an object per character.
 */
export interface ResolvedOp {
  op: ChangeOp;
  obj: Ref | null;
  elem: Ref | null;
  pred: readonly Ref[];
  /** Ops this one stands for: 1, or the characters of a text run. */
  run: number;
  /** Counter of the (first) op. */
  own: number;
}

/** The resolved ops, and the distinct actors they reference (the author first). */
export interface ResolvedOps {
  ops: ResolvedOp[];
  actors: string[];
}

const HEAD: Ref = { ctr: 0, actor: 0 };
/** NO_PREDS (types.ts) as resolved Refs: the preds of an op that has none, shared; an array each was 0.6 KB per bench record (alloc profile). */
const NO_PRED_REFS: readonly Ref[] = Object.freeze([]);

function fail(what: string): never {
  throw new TypeError(`encodeChange: ${what}`);
}

function safeInt(v: unknown, min: number, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(`${what} must be an integer ≥ ${min}`);
  return v;
}

/** A string Automerge can store: UTF-8 needs well-formed UTF-16 (no lone surrogates). */
export function wellFormed(s: unknown, what: string, i = -1): string {
  if (typeof s !== 'string' || !(s as unknown as { isWellFormed(): boolean }).isWellFormed()) {
    fail(`${i >= 0 ? `op ${i} ` : ''}${what} must be a well-formed string`);
  }
  return s;
}

/** Checks the header fields; returns the deps sorted as Automerge stores them. */
export function checkHeader(c: ChangeInput): string[] {
  if (typeof c !== 'object' || c === null) fail('change must be an object');
  if (typeof c.actor !== 'string' || !HEX.test(c.actor)) fail('actor must be lowercase hex');
  safeInt(c.seq, 1, 'seq');
  safeInt(c.startOp, 1, 'startOp');
  if (!Array.isArray(c.deps) || !Array.isArray(c.ops)) fail('deps and ops must be arrays');
  let count = 0;
  for (const op of c.ops) count += typeof op === 'object' && op !== null && typeof op.run === 'number' ? op.run : 1;
  if (c.startOp + count - 1 > 0xffff_ffff) fail('op counters must fit in 32 bits');
  if (typeof c.time !== 'number' || !Number.isSafeInteger(c.time)) fail('time must be a safe integer');
  if (c.message !== null) wellFormed(c.message, 'message');
  const deps = [...c.deps].sort();
  for (let i = 0; i < deps.length; i++) {
    if (typeof deps[i] !== 'string' || !HASH.test(deps[i]!)) fail('each dep must be a 64-digit lowercase hex hash');
    if (i > 0 && deps[i] === deps[i - 1]) fail('deps must be unique');
  }
  return deps;
}

/**
 * Resolves op id strings without regular expressions or per-id allocations (this runs for
 * every op of every change a writer builds). Consecutive ops often name the same object
 * (every character of a text insertion), so the last id is remembered.
 */
class IdParser {
  readonly actors: string[];
  #lastId = '';
  #lastRef: Ref = HEAD;
  constructor(author: string) {
    this.actors = [author];
  }

  /** The id as a Ref; `below` is the referring op's counter, which the id's must be under. */
  parse(id: unknown, below: number, i: number, what: string): Ref {
    let ref = this.#lastRef;
    if (id !== this.#lastId) {
      if (typeof id !== 'string') fail(`op ${i} ${what} must be an op id "<counter>@<actor hex>"`);
      ref = { ctr: counterOf(id, i, what), actor: this.#actorOf(id, id.indexOf('@') + 1, i, what) };
      this.#lastId = id;
      this.#lastRef = ref;
    }
    // An op can only reference ops created before it, which have lower counters.
    if (ref.ctr >= below) fail(`op ${i} ${what} ${String(id)} must have a counter below the op's own (${below})`);
    return ref;
  }

  /** The index of the actor `id.slice(from)`, added on first sight (after checking it is hex). */
  #actorOf(id: string, from: number, i: number, what: string): number {
    const length = id.length - from;
    for (let a = 0; a < this.actors.length; a++) {
      const actor = this.actors[a]!;
      if (actor.length === length && id.endsWith(actor)) return a;
    }
    const actor = id.slice(from);
    if (!HEX.test(actor)) fail(`op ${i} ${what} ${id}: the actor must be lowercase hex`);
    return this.actors.push(actor) - 1;
  }
}

/** The counter of an op id: decimal, no leading zero, at least 1, a safe integer. */
function counterOf(id: string, i: number, what: string): number {
  const at = id.indexOf('@');
  if (at < 1 || at > 15 || id.charCodeAt(0) === 0x30) fail(`op ${i} ${what} must be an op id "<counter>@<actor hex>"`);
  let ctr = 0;
  for (let k = 0; k < at; k++) {
    const digit = id.charCodeAt(k) - 0x30;
    if (digit < 0 || digit > 9) fail(`op ${i} ${what} must be an op id "<counter>@<actor hex>"`);
    ctr = ctr * 10 + digit;
  }
  return ctr;
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
            ? typeof v === 'string' && wellFormed(v, 'value', i) !== undefined
            : t === 'bytes'
              ? v instanceof Uint8Array
              : typeof v === 'bigint'
                ? v === (t === 'uint' ? BigInt.asUintN(64, v) : BigInt.asIntN(64, v))
                : typeof v === 'number' && Number.isSafeInteger(v) && (t !== 'uint' || v >= 0);
  if (!ok) fail(`op ${i}: value does not fit datatype ${t}`);
  const a = op.action;
  if (a === 'inc' ? t !== 'int' : a !== 'set' && a !== 'markBegin' && t !== 'null') fail(`op ${i}: ${a} cannot carry a ${t} value`);
}

/**
 * Checks every op and resolves its ids; the ops' counters run on from `startOp`, a text
 * run (ChangeOp.run) taking one per character.
 */
export function resolveOps(c: ChangeInput): ResolvedOps {
  const ids = new IdParser(c.actor);
  const out: ResolvedOp[] = new Array(c.ops.length); // one each: sized once, not grown by push
  let own = c.startOp;
  for (let i = 0; i < c.ops.length; i++) {
    const op = c.ops[i]!;
    if (typeof op !== 'object' || op === null || !ACTIONS.has(op.action)) fail(`op ${i}: unknown action`);
    const obj = op.obj === '_root' ? null : ids.parse(op.obj, own, i, 'obj');
    let elem: Ref | null = null;
    if (op.key !== null) {
      wellFormed(op.key, 'key', i);
      if (op.elemId !== null) fail(`op ${i}: has both key and elemId`);
      if (op.insert) fail(`op ${i}: insert needs an elemId`);
    } else {
      elem = op.elemId === '_head' ? HEAD : ids.parse(op.elemId, own, i, 'elemId');
    }
    if (typeof op.insert !== 'boolean' || typeof op.expand !== 'boolean') fail(`op ${i}: insert and expand must be booleans`);
    if (op.insert && (op.action === 'del' || op.action === 'inc')) fail(`op ${i}: ${op.action} cannot insert`);
    const isMark = op.action === 'markBegin' || op.action === 'markEnd';
    if (op.expand && !isMark) fail(`op ${i}: only marks expand`);
    if (op.action === 'markBegin') wellFormed(op.markName, 'markName', i);
    else if (op.markName !== null) fail(`op ${i}: only markBegin has a markName`);
    checkValue(op, i);
    if (!Array.isArray(op.pred)) fail(`op ${i}: pred must be an array`);
    const pred = op.pred.length === 0 ? NO_PRED_REFS : resolvePreds(op.pred, ids, own, i);
    const run = op.run === undefined || op.run === 1 ? 1 : checkRun(op, i);
    out[i] = { op, obj, elem, pred, run, own };
    own += run;
  }
  return { ops: out, actors: ids.actors };
}

/** The preds of op `i` as Refs, sorted as Automerge stores them. */
function resolvePreds(predIds: string[], parser: IdParser, own: number, i: number): Ref[] {
  const pred: Ref[] = new Array(predIds.length);
  for (let j = 0; j < pred.length; j++) pred[j] = parser.parse(predIds[j], own, i, 'pred');
  if (pred.length > 1) sortPreds(pred, parser.actors, i);
  return pred;
}

/** The length of a run of text inserts (each character after the one before, by the change's author), after checking it. */
function checkRun(op: ChangeOp, i: number): number {
  const run = op.run!;
  if (!Number.isSafeInteger(run) || run < 1) fail(`op ${i}: run must be an integer ≥ 1`);
  if (op.action !== 'set' || !op.insert || op.datatype !== 'str' || op.key !== null || op.pred.length > 0) fail(`op ${i}: only a run of text inserts (set, insert, str, no pred) can be a run`);
  const k = codePointLength(op.value as string);
  if (k !== run) fail(`op ${i}: a run of ${run} needs exactly ${run} characters, not ${k}`);
  return run;
}

/**
 * Code points of `s`: a surrogate pair is one, anything else one per UTF-16 unit (as
 * `for…of` and zod's string lengths count). A text run has one insert per code point.
 */
export function codePointLength(s: string): number {
  let points = s.length;
  for (let i = 0; i + 1 < s.length; i++) {
    if ((s.charCodeAt(i) & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      points--;
      i++;
    }
  }
  return points;
}


/** Sorts preds as Automerge stores them, by (counter, actor id); refuses duplicates. */
function sortPreds(pred: Ref[], actors: string[], i: number): void {
  const hex = (r: Ref): string => actors[r.actor]!;
  pred.sort((x, y) => x.ctr - y.ctr || (hex(x) < hex(y) ? -1 : hex(x) > hex(y) ? 1 : 0));
  for (let j = 1; j < pred.length; j++) {
    if (pred[j]!.ctr === pred[j - 1]!.ctr && pred[j]!.actor === pred[j - 1]!.actor) fail(`op ${i}: duplicate pred`);
  }
}
