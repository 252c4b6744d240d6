/**
 * MessagePack-aware mutations of real protocol frames, for the frame fuzzer
 * (test/integration/fuzz-frames.test.ts). A frame is decoded into its value tree, one to
 * three structural mutations are applied where a parser is likeliest to trust its input
 * (types, lengths, keys, nesting, numbers at their edges, byte strings), and it is
 * packed again; some frames then get a byte-level mutation as well (a flipped byte, a
 * lying length prefix, a cut, trailing bytes). Every choice comes from a seeded Prng.
 */
import { pack, unpack } from 'msgpackr';
import type { Prng } from '../sim/prng.js';

type Value = unknown;
type Container = Value[] | Record<string, Value>;

const MESSAGE_TYPES = ['hello', 'auth', 'open', 'changes', 'ack', 'have', 'resync', 'trust', 'error', 'x-unknown', ''];
const EDGE_NUMBERS = [0, -1, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53 + 2, -(2 ** 53), 1.5, -0, Number.NaN, Number.POSITIVE_INFINITY, 1e308];

/** Mutates frames of a seeded run. */
export class FrameMutator {
  readonly #rng: Prng;

  constructor(rng: Prng) {
    this.#rng = rng;
  }

  /** A mutation of `frame` (a real frame: one MessagePack value). */
  mutate(frame: Uint8Array): Uint8Array {
    const rng = this.#rng;
    let out: Uint8Array = frame;
    if (rng.chance(0.85)) {
      const tree = unpack(frame) as Value;
      let mutated: Value = tree;
      for (let i = rng.int(1, 3); i > 0; i--) mutated = this.#mutateTree(mutated);
      out = pack(mutated);
    }
    if (out === frame || rng.chance(0.25)) out = this.#mutateBytes(out);
    return out;
  }

  #mutateTree(root: Value): Value {
    const rng = this.#rng;
    const paths = containersOf(root);
    const target = rng.pick(paths);
    const keys: (string | number)[] = Array.isArray(target) ? target.map((_, i) => i) : Object.keys(target);
    const kind = rng.weighted({ replace: 5, retype: 2, drop: 2, add: 2, grow: 1, nest: 1, bytes: 2 });
    if (keys.length === 0 || kind === 'add') {
      setChild(target, Array.isArray(target) ? target.length : this.#key(), this.#value(2));
      return root;
    }
    const key = rng.pick(keys);
    const current = getChild(target, key);
    switch (kind) {
      case 'replace':
        setChild(target, key, this.#near(current));
        break;
      case 'retype':
        if (!Array.isArray(target) && key === 'type') target.type = rng.pick(MESSAGE_TYPES);
        else setChild(target, key, this.#value(2));
        break;
      case 'drop':
        if (Array.isArray(target)) target.splice(Number(key), 1);
        else delete target[key as string];
        break;
      case 'grow':
        // Many copies of one element: long lists of (maybe valid) entries, clocks, statements.
        if (Array.isArray(target)) for (let i = rng.int(1, 200); i > 0; i--) target.push(current);
        else setChild(target, key, Array.from({ length: rng.int(1, 200) }, () => current));
        break;
      case 'nest':
        setChild(target, key, this.#wrap(current, rng.int(1, 40)));
        break;
      case 'bytes':
        setChild(target, key, current instanceof Uint8Array ? this.#mutateBytes(current) : this.#rng.bytes(rng.pick([0, 1, 31, 32, 33, 63, 64, 65, 200])));
        break;
    }
    return root;
  }

  /** A value like `current`, but at an edge. */
  #near(current: Value): Value {
    const rng = this.#rng;
    if (typeof current === 'number') return rng.chance(0.5) ? rng.pick(EDGE_NUMBERS) : current + rng.int(-2, 2);
    if (typeof current === 'string') {
      return rng.pick([
        '', current.repeat(rng.int(2, 50)), `${current}\u0000`, current.slice(1), 'ü'.repeat(rng.int(1, 300)),
        '__proto__', 'constructor', current.toUpperCase(), '\ud800',
      ]);
    }
    if (current instanceof Uint8Array) return this.#mutateBytes(current);
    return this.#value(1);
  }

  /** A random value, `depth` levels deep at most. */
  #value(depth: number): Value {
    const rng = this.#rng;
    const kind = depth > 0 ? rng.int(0, 7) : rng.int(0, 5);
    switch (kind) {
      case 0: return null;
      case 1: return rng.chance(0.5);
      case 2: return rng.pick(EDGE_NUMBERS);
      case 3: return 'x'.repeat(rng.pick([0, 1, 63, 64, 65, 1000]));
      case 4: return rng.bytes(rng.pick([0, 32, 64]));
      case 5: return rng.int(-1000, 1_000_000);
      case 6: return Array.from({ length: rng.int(0, 4) }, () => this.#value(depth - 1));
      default: return Object.fromEntries(Array.from({ length: rng.int(0, 4) }, () => [this.#key(), this.#value(depth - 1)]));
    }
  }

  #key(): string {
    return this.#rng.pick(['type', 'o', 's', 'r', 'c', 'g', 'p', 'v', 'clock', 'entries', 'epoch', 'batch', 'sig', 'nonce', 'key', 'proof', 'invite', '__proto__', 'zz']);
  }

  #wrap(value: Value, levels: number): Value {
    let out = value;
    for (let i = 0; i < levels; i++) out = this.#rng.chance(0.5) ? [out] : { v: out };
    return out;
  }

  /** Byte-level: flip, cut, append, or make a length prefix lie. */
  #mutateBytes(bytes: Uint8Array): Uint8Array {
    const rng = this.#rng;
    const out = Buffer.from(bytes);
    if (out.length === 0) return rng.bytes(rng.int(1, 8));
    switch (rng.int(0, 4)) {
      case 0:
        for (let i = rng.int(1, 4); i > 0; i--) {
          const at = rng.int(0, out.length - 1);
          out[at] = out[at]! ^ (1 << rng.int(0, 7));
        }
        return out;
      case 1:
        return out.subarray(0, rng.int(0, out.length - 1));
      case 2:
        return Buffer.concat([out, rng.bytes(rng.int(1, 16))]);
      case 3: {
        // A 16- or 32-bit length or count rewritten (array16/32, map16/32, str16/32, bin16/32).
        const at = out.findIndex((b, i) => i >= rng.int(0, out.length - 1) && [0xdc, 0xdd, 0xde, 0xdf, 0xda, 0xdb, 0xc5, 0xc6].includes(b));
        if (at < 0 || at + 5 > out.length) return out;
        out.writeUInt16BE(rng.int(0, 0xffff), at + 1);
        return out;
      }
      default:
        out[rng.int(0, out.length - 1)] = rng.pick([0xc1, 0xd4, 0xc7, 0xdd, 0xdf, 0xc0, 0x80, 0x90]);
        return out;
    }
  }
}

/** Every map and array in `root` (root first). A root that is no container gets wrapped. */
function containersOf(root: Value): Container[] {
  const out: Container[] = [];
  const walk = (v: Value, depth: number): void => {
    if (depth > 8 || v === null || typeof v !== 'object' || v instanceof Uint8Array) return;
    out.push(v as Container);
    for (const child of Array.isArray(v) ? v : Object.values(v)) walk(child, depth + 1);
  };
  walk(root, 0);
  return out.length > 0 ? out : [[root]];
}

function getChild(target: Container, key: string | number): Value {
  return Array.isArray(target) ? target[Number(key)] : target[String(key)];
}

function setChild(target: Container, key: string | number, value: Value): void {
  if (Array.isArray(target)) target[Number(key)] = value;
  else Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
