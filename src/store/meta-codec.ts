/**
 * How a record's meta (its state and view) is stored since key schema 3: positional
 * arrays instead of maps, hashes as bytes instead of hex. A bench record's meta took
 * 1,085 bytes as a map and takes about 620 this way.
 *
 * The form is chosen per part, so that every value decodes to exactly what was encoded:
 * a view whose keys are not in the schema's order (or that has keys the schema does not
 * name), a state with a key this version does not know, an op path of a custom field:
 * each goes as it is (a map, a string). A stored map is the form schema 2 wrote; it is
 * read as it is, so records stored before are read without being rewritten.
 *
 * The lists below are part of the storage format: entries may be appended, never
 * reordered or removed (test/store/meta-codec.test.ts pins them).
 */
import type { OpRef, RecordState } from '../crdt/record-state.js';
import type { RecordView } from '../crdt/record-schema.js';
import type { RecordMeta } from './store.js';

/** The marker of the positional form (the first item of its array). */
const META_FORM = 3;

/** View keys in the schema's order (recordViewSchema): position i holds key i. */
export const VIEW_KEYS = [
  'id', 'name', 'email', 'phone', 'company', 'title', 'owner', 'territory', 'stage', 'address', 'tags', 'notes',
  'interactions', 'custom', 'createdAt', 'updatedAt', 'deleted', 'deletedAt', 'conflicts',
] as const;
/** Address parts in the schema's order. */
export const ADDRESS_KEYS = ['street', 'city', 'region', 'postcode', 'country'] as const;
/** State keys: position i holds key i. */
export const STATE_KEYS = ['heads', 'maxOp', 'actors', 'ops', 'local', 'notesLength', 'clock', 'known', 'gone', 'times'] as const;
/** Op paths written as their index in this list; any other path goes as its string. */
export const OP_PATHS = [
  'name', 'email', 'phone', 'company', 'title', 'owner', 'territory', 'stage',
  'address.street', 'address.city', 'address.region', 'address.postcode', 'address.country',
  'id', 'createdAt', 'updatedAt', 'deleted', 'deletedAt', 'interactions', 'notes', 'tags',
] as const;

const VIEW_INDEX = new Map<string, number>(VIEW_KEYS.map((k, i) => [k, i]));
const ADDRESS_INDEX = new Map<string, number>(ADDRESS_KEYS.map((k, i) => [k, i]));
const STATE_KEY_SET: ReadonlySet<string> = new Set(STATE_KEYS);
const OP_INDEX = new Map<string, number>(OP_PATHS.map((k, i) => [k, i]));

type Stored = unknown[] | Record<string, unknown>;

/** The stored value of a meta. */
export function toMetaValue(meta: RecordMeta): unknown[] {
  return [META_FORM, stateValue(meta.state), viewValue(meta.view), meta.snapshotAt, meta.pending, meta.snapshot ? 1 : 0];
}

/** The meta of a stored value, in either form. */
export function fromMetaValue(value: Stored): RecordMeta {
  if (!Array.isArray(value)) return value as unknown as RecordMeta; // schema 2's map
  if (value[0] !== META_FORM) throw new TypeError(`record meta form ${String(value[0])} is unknown`);
  const meta: RecordMeta = { state: stateOf(value[1] as Stored), view: viewOf(value[2] as Stored), snapshotAt: value[3] as number, pending: value[4] as number };
  if (value[5] === 1) meta.snapshot = true;
  return meta;
}

/**
 * The values of `object` at the positions `index` gives their keys, null where a key is
 * absent; undefined when positions cannot say everything: a key not in `index`, keys out
 * of its order, or a null value (null marks an absent key).
 */
function positional(object: Record<string, unknown>, index: ReadonlyMap<string, number>, width: number): unknown[] | undefined {
  const out: unknown[] = new Array(width).fill(null);
  let last = -1;
  for (const key of Object.keys(object)) {
    const at = index.get(key);
    const value = object[key];
    if (at === undefined || at <= last || value === null) return undefined;
    last = at;
    if (value !== undefined) out[at] = value;
  }
  return out;
}

const ADDRESS_AT = VIEW_KEYS.indexOf('address');

function viewValue(view: RecordView): Stored {
  const source = view as unknown as Record<string, unknown>;
  const out = positional(source, VIEW_INDEX, VIEW_KEYS.length);
  if (!out) return source;
  if (out[ADDRESS_AT] !== null) {
    const address = positional(out[ADDRESS_AT] as Record<string, unknown>, ADDRESS_INDEX, ADDRESS_KEYS.length);
    if (!address) return source;
    out[ADDRESS_AT] = address;
  }
  return out;
}

/** The object `positional` made `values` of: key i for every value i that is not null. */
function keyed(values: unknown[], keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    const value = values[i];
    if (value !== null && value !== undefined) out[keys[i]!] = value;
  }
  return out;
}

function viewOf(value: Stored): RecordView {
  if (!Array.isArray(value)) return value as unknown as RecordView;
  const view = keyed(value, VIEW_KEYS);
  if (view.address !== undefined) view.address = keyed(view.address as unknown[], ADDRESS_KEYS);
  return view as unknown as RecordView;
}

// Hashes (heads, the prefixes of known changes) go as bytes where they are lowercase hex
// of whole bytes; anything else as it is. msgpack keeps strings and bytes apart. Actor
// ids stay strings: a few repeat across all records, so LevelDB's compression takes them.
const HEX = /^(?:[0-9a-f]{2})*$/;
const bytesOf = (hex: string): string | Uint8Array => (HEX.test(hex) ? Buffer.from(hex, 'hex') : hex);
const hexOf = (value: string | Uint8Array): string =>
  typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');

function pathsValue(ops: Record<string, OpRef[]>): unknown[] {
  const paths = Object.keys(ops);
  const out: unknown[] = new Array(paths.length * 2); // sized once, not grown by push
  for (let i = 0; i < paths.length; i++) {
    out[2 * i] = OP_INDEX.get(paths[i]!) ?? paths[i];
    out[2 * i + 1] = ops[paths[i]!];
  }
  return out;
}

function pathsOf(value: unknown[]): Record<string, OpRef[]> {
  const ops: Record<string, OpRef[]> = {};
  for (let i = 0; i < value.length; i += 2) {
    const key = value[i];
    ops[typeof key === 'number' ? OP_PATHS[key]! : (key as string)] = value[i + 1] as OpRef[];
  }
  return ops;
}

function stateValue(state: RecordState): Stored {
  if (!knownKeys(state)) return state as unknown as Record<string, unknown>;
  return [
    state.heads.map(bytesOf),
    state.maxOp,
    state.actors,
    pathsValue(state.ops),
    state.local ? [state.local.actor, state.local.seq] : null,
    state.notesLength ?? null,
    state.clock ?? null,
    state.known ? state.known.map(([prefix, maxOp]) => [bytesOf(prefix), maxOp]) : null,
    state.gone ? pathsValue(state.gone) : null,
    state.times ?? null,
  ];
}

/** A state whose keys this version knows all of (their order does not matter: nothing reads a state's key order). */
function knownKeys(state: RecordState): boolean {
  for (const key of Object.keys(state)) if (!STATE_KEY_SET.has(key)) return false;
  return true;
}

function stateOf(value: Stored): RecordState {
  if (!Array.isArray(value)) return value as unknown as RecordState;
  const state: RecordState = { heads: (value[0] as (string | Uint8Array)[]).map(hexOf), maxOp: value[1] as number, actors: value[2] as string[], ops: pathsOf(value[3] as unknown[]) };
  const local = value[4] as [string, number] | null;
  if (local) state.local = { actor: local[0], seq: local[1] };
  if (value[5] !== null) state.notesLength = value[5] as number;
  if (value[6] !== null) state.clock = value[6] as [number, number][];
  const known = value[7] as [string | Uint8Array, number][] | null;
  if (known) state.known = known.map(([prefix, op]) => [hexOf(prefix), op]);
  if (value[8] !== null) state.gone = pathsOf(value[8] as unknown[]);
  if (value[9] !== null) state.times = value[9] as number[];
  return state;
}
